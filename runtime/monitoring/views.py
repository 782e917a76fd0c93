"""Read-only views of a cluster for ``flowc status``, ``flowc inspect`` and the dashboard.

Everything here reads Redis directly, in as few pipelined round trips as possible: workers from
the heartbeat hashes, queue depths from the priority streams and delayed sets, in-flight counts
from each stream's pending list (XPENDING), dead letters from the dead-letter stream, and
rates from the events stream. On another broker (RabbitMQ) queue depths and the dead-letter
count come from the broker itself, through its port (``Broker.depth``, ``DeadLetters``).
Writes that operators ask for (purge, dead-letter requeue) live here too, next to the reads
they mirror.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from flowc.runtime.message import Message
from flowc.runtime.monitoring.dlq import DeadLetter as Letter
from flowc.runtime.monitoring.dlq import DeadLetters
from flowc.runtime.monitoring.events_read import count_types
from flowc.runtime.redis.keys import CONSUMER_GROUP, PRIORITY_LEVELS
from flowc.runtime.wire import Rejected

if TYPE_CHECKING:
    from flowc.runtime.app import App

RATE_WINDOW_S = 60.0
RATE_MAX_ENTRIES = 5000
"""Most event-stream entries read to compute rates (each entry is a batch of events)."""
LOST_SHOWN_S = 300.0
"""A worker that stopped beating this long ago is no longer listed (its entry is pruned)."""


def _s(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


@dataclass
class WorkerInfo:
    """One worker process as its heartbeat hash describes it."""

    name: str
    alive: bool
    last_seen: float
    hostname: str = ""
    pid: int = 0
    pool: str = ""
    queues: list[str] = field(default_factory=list)
    processed: int = 0
    tasks: list[str] = field(default_factory=list, repr=False)
    """The task names it registers (not in ``to_dict``: the dashboard lists them apart)."""

    @property
    def node(self) -> str:
        """``name@host`` without the per-process suffix."""
        return self.name.split(".", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        del data["tasks"]
        return {**data, "node": self.node}


@dataclass
class QueueInfo:
    """Depth of one queue: ready by priority, delayed, claimed-not-acked (in flight)."""

    name: str
    ready: int
    delayed: int
    in_flight: int
    by_priority: dict[int, int] = field(default_factory=dict)
    workers: int = 0
    """Live workers consuming this queue (from their heartbeats)."""
    holders: int = 0
    """Worker processes holding claimed, unacknowledged messages of this queue right now."""
    consumers: int | None = None
    """Consumers the broker itself counts on the queue (RabbitMQ); None on Redis."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass
class DeadLetter:
    """One dead-letter entry, its message decoded when possible."""

    entry_id: str
    source: str
    reason: str
    worker: str
    ts: float
    task_id: str | None
    task: str | None
    args: Any = None
    kwargs: Any = None
    queue: str | None = None
    size: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


class Monitor:
    """Queries over one App's keys."""

    def __init__(self, app: App) -> None:
        from flowc.runtime.redis.broker import RedisBroker

        self.app = app
        self.keys = app.keys
        self.on_redis = isinstance(app.broker, RedisBroker)
        """False on a broker with queues of its own (RabbitMQ): depths are asked of it."""

    @property
    def client(self) -> Any:
        """The broker's Redis, for what only a Redis broker holds (its streams, dead-letter
        stream, the workflow run index)."""
        return self.app.broker_client

    # --- workers ------------------------------------------------------------------------------

    def workers(self, include_lost: bool = True) -> list[WorkerInfo]:
        """Worker processes that beat recently; ``alive`` is False once their hash expired."""
        out = []
        for record in self.app.coordination.workers(LOST_SHOWN_S):
            data = record.fields
            if not record.alive and not include_lost:
                continue
            out.append(WorkerInfo(
                name=record.name, alive=record.alive, last_seen=record.last_seen,
                hostname=data.get("hostname", ""), pid=int(data.get("pid", 0) or 0),
                pool=data.get("pool", ""),
                queues=[q for q in data.get("queues", "").split(",") if q],
                processed=int(data.get("processed", 0) or 0),
                tasks=list(orjson.loads(data["tasks"])) if data.get("tasks") else []))
        return out

    # --- queues -------------------------------------------------------------------------------

    def queue_names(self) -> list[str]:
        """Every queue a producer or worker declared (on RabbitMQ: every queue a worker
        registered, and the default queue, which producers declare without registering)."""
        names = self.app.coordination.queue_names()
        if not self.on_redis:
            names.add(self.app.conf.task_default_queue)
        return sorted(names)

    def _serving(self) -> dict[str, int]:
        """Live workers per queue, from their heartbeats."""
        serving: dict[str, int] = {}
        for w in self.workers(include_lost=False):
            for q in w.queues:
                serving[q] = serving.get(q, 0) + 1
        return serving

    def queues(self, names: list[str] | None = None) -> list[QueueInfo]:
        """Depth of each queue (one pipelined round trip for all of them on Redis)."""
        names = self.queue_names() if names is None else names
        if not self.on_redis:
            return self._broker_queues(names)
        pipe = self.client.pipeline(transaction=False)
        for q in names:
            for p in range(PRIORITY_LEVELS):
                key = self.keys.stream(q, p)
                pipe.xlen(key)
                pipe.xpending(key, CONSUMER_GROUP)
            pipe.zcard(self.keys.delayed(q))
        replies = pipe.execute(raise_on_error=False)
        serving = self._serving()
        out = []
        per_queue = 2 * PRIORITY_LEVELS + 1
        for i, q in enumerate(names):
            part = replies[i * per_queue:(i + 1) * per_queue]
            by_priority: dict[int, int] = {}
            in_flight = 0
            holders: set[str] = set()
            for p in range(PRIORITY_LEVELS):
                length, pending = part[2 * p], part[2 * p + 1]
                n = 0 if isinstance(length, Exception) else int(length)
                claimed = 0
                if isinstance(pending, dict):
                    claimed = int(pending.get("pending") or 0)
                    for c in pending.get("consumers") or []:
                        if int(c.get("pending") or 0):
                            holders.add(_s(c.get("name", "")))
                in_flight += claimed
                if n - claimed:
                    by_priority[p] = n - claimed
            delayed = part[-1]
            out.append(QueueInfo(
                name=q, ready=sum(by_priority.values()), in_flight=in_flight,
                delayed=0 if isinstance(delayed, Exception) else int(delayed),
                by_priority=by_priority, workers=serving.get(q, 0), holders=len(holders)))
        return out

    def _broker_queues(self, names: list[str]) -> list[QueueInfo]:
        """Depths as the broker tells them (``Broker.depth``: RabbitMQ's passive declares).
        RabbitMQ reports neither unacknowledged messages nor counts by priority: in flight and
        holders stay 0, ``consumers`` is its consumer count."""
        serving = self._serving()
        out = []
        for q in names:
            depth = self.app.broker.depth(q)
            out.append(QueueInfo(name=q, ready=depth["ready"], delayed=depth["delayed"],
                                 in_flight=0, workers=serving.get(q, 0),
                                 consumers=depth.get("consumers")))
        return out

    def scheduled(self, queues: list[str] | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Countdown/eta messages waiting in the delayed sets, soonest first (none listed on
        RabbitMQ: they wait in its TTL queues, which cannot be read without consuming them)."""
        if not self.on_redis:
            return []
        names = self.queue_names() if queues is None else queues
        pipe = self.client.pipeline(transaction=False)
        for q in names:
            pipe.zrange(self.keys.delayed(q), 0, limit - 1, withscores=True)
        out = []
        for q, members in zip(names, pipe.execute(), strict=True):
            for member, due in members:
                info = self._describe(member[1:2], member[2:])
                info.update(queue=q, eta=float(due), priority=member[0] - 48)
                out.append(info)
        out.sort(key=lambda i: i["eta"])
        return out[:limit]

    def _describe(self, tag: bytes, body: bytes) -> dict[str, Any]:
        try:
            m = Message.from_envelope(self.app.wire.peek(body, tag))
        except Exception as e:
            return {"id": None, "name": None, "error": f"undecodable: {e}"}
        return {"id": m.id, "name": m.task, "args": m.args, "kwargs": m.kwargs,
                "retries": m.retries, "queue": m.queue, "priority": m.priority}

    def purge(self, queues: list[str]) -> int:
        """Delete every ready and delayed message of ``queues`` (claimed ones are kept);
        returns how many were removed."""
        return self.app.broker.purge(queues)

    # --- dead letters -------------------------------------------------------------------------

    def dead_letter_count(self) -> int:
        """Entries in the dead-letter stream (on RabbitMQ: messages in its dead-letter queue)."""
        if not self.on_redis:
            return DeadLetters(self.app).count()
        return int(self.client.xlen(self.keys.dead_letters()))

    def dead_letters(self, count: int = 100, before: str = "+") -> list[DeadLetter]:
        """The newest dead letters first (``before`` an entry id, for paging; on RabbitMQ the
        newest ``count``, read from its dead-letter queue without consuming it)."""
        if not self.on_redis:
            return [self._letter(letter) for letter in DeadLetters(self.app).newest(count)]
        rows: Any = self.client.xrevrange(self.keys.dead_letters(), before, "-", count=count)
        return [self._dead_letter(eid, fields) for eid, fields in rows]

    def dead_letter(self, entry_id: str) -> DeadLetter | None:
        """One dead letter by entry id."""
        if not self.on_redis:
            found = DeadLetters(self.app).get(entry_id)
            return None if found is None else self._letter(found)
        rows: Any = self.client.xrange(self.keys.dead_letters(), entry_id, entry_id)
        return self._dead_letter(*rows[0]) if rows else None

    def _letter(self, letter: Letter) -> DeadLetter:
        """The view of a ``DeadLetters`` entry (a broker's own listing: RabbitMQ)."""
        info = self._describe(letter.tag, letter.body)
        return DeadLetter(
            entry_id=letter.id, source=letter.source, reason=letter.reason,
            worker=letter.worker, ts=letter.ts, task_id=info.get("id"), task=info.get("name"),
            args=info.get("args"), kwargs=info.get("kwargs"), queue=info.get("queue"),
            size=len(letter.body))

    def _dead_letter(self, eid: Any, fields: dict[bytes, bytes]) -> DeadLetter:
        body, tag = fields.get(b"b", b""), fields.get(b"c", b"j")
        info = self._describe(tag, body)
        return DeadLetter(
            entry_id=_s(eid), source=_s(fields.get(b"source", b"")),
            reason=_s(fields.get(b"reason", b"")), worker=_s(fields.get(b"worker", b"")),
            ts=float(_s(fields.get(b"ts", b"0")) or 0), task_id=info.get("id"),
            task=info.get("name"), args=info.get("args"), kwargs=info.get("kwargs"),
            queue=info.get("queue"), size=len(body))

    def requeue_dead_letter(self, entry_id: str) -> str | None:
        """Put a dead letter back on the stream it came from (as a fresh delivery) and remove
        it from the dead-letter stream; returns the new entry id, None if it was not there."""
        if not self.on_redis:  # RabbitMQ: published to its queue again; no new entry id
            letters = DeadLetters(self.app)
            if letters.requeue([entry_id]):
                return entry_id
            for _, reason in letters.refused:
                raise ValueError(f"dead letter {entry_id} kept: {reason}; replay it with "
                                 "`flowc dlq requeue --resign` if you vouch for it")
            return None
        key = self.keys.dead_letters()
        rows: Any = self.client.xrange(key, entry_id, entry_id)
        if not rows:
            return None
        fields = rows[0][1]
        source = _s(fields.get(b"source", b""))
        if not source:
            raise ValueError(f"dead letter {entry_id} does not say which stream it came from")
        # XADD first: a crash in between leaves a duplicate to inspect, never a lost message
        try:
            body, tag = self.app.wire.resign(fields[b"b"], fields.get(b"c", b"j"))
        except Rejected as e:
            raise ValueError(f"dead letter {entry_id} kept: {e}; replay it with "
                             "`flowc dlq requeue --resign` if you vouch for it") from None
        new_id: Any = self.client.xadd(source, {b"b": body, b"c": tag})
        self.client.xdel(key, entry_id)
        return _s(new_id)

    def delete_dead_letter(self, entry_id: str) -> bool:
        """Drop a dead letter for good."""
        if not self.on_redis:
            return DeadLetters(self.app).purge([entry_id]) == 1
        return bool(self.client.xdel(self.keys.dead_letters(), entry_id))

    # --- rates --------------------------------------------------------------------------------

    def rates(self, window_s: float = RATE_WINDOW_S) -> dict[str, Any]:
        """Tasks finished per minute over the last ``window_s`` from the events stream.

        ``{"events": False}`` when no events were sent in the window (events are off).
        """
        now_ms = int(time.time() * 1000)
        rows = list(self.app.coordination.event_entries(
            now_ms - int(window_s * 1000), newest_first=True, count=RATE_MAX_ENTRIES))
        counts: dict[str, int] = {}
        for _, fields in rows:
            count_types(fields, counts)
        per_min = 60.0 / window_s
        done = counts.get("task-succeeded", 0) + counts.get("task-failed", 0)
        return {"events": bool(rows), "window_s": window_s,
                "succeeded_per_min": counts.get("task-succeeded", 0) * per_min,
                "failed_per_min": counts.get("task-failed", 0) * per_min,
                "finished_per_min": done * per_min,
                "retried_per_min": counts.get("task-retried", 0) * per_min,
                "truncated": len(rows) >= RATE_MAX_ENTRIES}

    # --- workflows ----------------------------------------------------------------------------

    def workflow_ids(self, count: int = 100, offset: int = 0) -> list[tuple[str, float]]:
        """The newest workflow runs first: ``(id, submitted at)`` (from the workflow join)."""
        return self.app.workflow_join.run_ids(count, offset)

    def workflow_count(self) -> int:
        """Workflow runs listed (on Redis the reaper prunes expired ones: ``workflow_index``)."""
        return self.app.workflow_join.run_count()

    def workflow_summaries(self, ids: list[str]) -> list[dict[str, Any]]:
        """Status, name and node counts of several runs in one round trip."""
        return self.app.workflow_join.summaries(ids)

    # --- all at once --------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What ``flowc status`` prints."""
        return {"workers": [w.to_dict() for w in self.workers()],
                "queues": [q.to_dict() for q in self.queues()],
                "dead_letters": self.dead_letter_count(), "rates": self.rates()}

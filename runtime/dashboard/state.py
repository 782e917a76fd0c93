"""The dashboard's memory: a task index built from events, rate and depth series, log lines.

``Feed`` is a thread that replays the events stream at start (up to ``max_tasks`` tasks) and
then follows it, applying each event to the ``TaskIndex`` and the counters; every
``SAMPLE_EVERY_S`` it also samples queue depths for the charts. Pages read this memory, so a
page never scans Redis for tasks: filtering 100,000 records is a pass over a dict.

Like Flower, the index lives in the dashboard process: restart it and it rebuilds from the
stream (as far back as ``flowc_events_maxlen`` keeps). Task results and tracebacks not in the
index are read from the result backend on the task page.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowc.runtime.events import format_event, read_since

if TYPE_CHECKING:
    from flowc.runtime.app import App

logger = logging.getLogger("flowc.dashboard")

SERIES_S = 600
"""Seconds of per-second task counts and depth samples kept for the charts."""
SAMPLE_EVERY_S = 2.0
LOG_LINES = 2000
TIMELINE_MAX = 50

STATE_OF = {"task-sent": "PENDING", "task-received": "RECEIVED", "task-started": "STARTED",
            "task-succeeded": "SUCCESS", "task-failed": "FAILURE", "task-retried": "RETRY",
            "task-revoked": "REVOKED", "task-rejected": "REJECTED"}
TERMINAL = frozenset({"SUCCESS", "FAILURE", "REVOKED"})
STATES = ("PENDING", "RECEIVED", "STARTED", "SUCCESS", "FAILURE", "RETRY", "REVOKED", "REJECTED")
_COPIED = ("name", "args", "kwargs", "queue", "priority", "eta", "expires", "root_id",
           "parent_id", "workflow_id", "node", "result", "exception", "traceback", "runtime",
           "reason")


@dataclass
class TaskRecord:
    """What the events told about one task id."""

    uuid: str
    state: str = "PENDING"
    name: str | None = None
    worker: str | None = None
    args: str | None = None
    kwargs: str | None = None
    result: str | None = None
    exception: str | None = None
    traceback: str | None = None
    runtime: float | None = None
    queue: str | None = None
    priority: int | None = None
    eta: float | None = None
    expires: float | None = None
    root_id: str | None = None
    parent_id: str | None = None
    workflow_id: str | None = None
    node: str | None = None
    reason: str | None = None
    retries: int = 0
    first_ts: float = 0.0
    last_ts: float = 0.0
    started: float | None = None
    timeline: list[tuple[float, str, str]] = field(default_factory=list)
    search: str = ""
    """Lower-cased id, name and argument text, for search."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {k: v for k, v in self.__dict__.items() if k != "search"}


class TaskIndex:
    """Tasks by id in arrival order, capped at ``max_tasks`` (the oldest go first)."""

    def __init__(self, max_tasks: int = 100_000) -> None:
        self.max_tasks = max_tasks
        self.tasks: OrderedDict[str, TaskRecord] = OrderedDict()
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.tasks)

    def get(self, task_id: str) -> TaskRecord | None:
        """The record of ``task_id``, if indexed."""
        return self.tasks.get(task_id)

    def apply(self, event: dict[str, Any]) -> TaskRecord | None:
        """Fold one task event into its record; returns it (None for non-task events)."""
        state = STATE_OF.get(str(event.get("type")))
        task_id = event.get("uuid")
        if state is None or not task_id:
            return None
        ts = float(event.get("ts") or 0.0)
        with self.lock:
            rec = self.tasks.get(task_id)
            if rec is None:
                rec = self.tasks[task_id] = TaskRecord(uuid=task_id, first_ts=ts)
                if len(self.tasks) > self.max_tasks:
                    self.tasks.popitem(last=False)
            for name in _COPIED:
                value = event.get(name)
                if value is not None:
                    setattr(rec, name, value)
            if event.get("retries") is not None and state != "RETRY":
                rec.retries = int(event["retries"])
            elif state == "RETRY":
                rec.retries = int(event.get("retries") or rec.retries + 1)
            hostname = event.get("hostname")
            if state not in ("PENDING",) and hostname:
                rec.worker = str(hostname)
            if state == "STARTED":
                rec.started = ts
            if ts >= rec.last_ts or rec.state not in TERMINAL:
                if not (rec.state in TERMINAL and ts < rec.last_ts):
                    rec.state = state
                rec.last_ts = max(ts, rec.last_ts)
            if len(rec.timeline) < TIMELINE_MAX:
                rec.timeline.append((ts, state, str(hostname or "")))
            if state in ("PENDING", "RECEIVED") or not rec.search:
                rec.search = f"{task_id} {rec.name or ''} {rec.args or ''} {rec.kwargs or ''}" \
                    .lower()
            return rec

    def query(self, name: str = "", state: str = "", worker: str = "", text: str = "",
              since: float | None = None, until: float | None = None, limit: int = 100,
              offset: int = 0) -> tuple[int, list[TaskRecord]]:
        """Newest first: ``(matches, page)``; ``text`` matches the id or the arguments."""
        name, worker, text = name.strip(), worker.strip(), text.strip().lower()
        if text and text in self.tasks:
            rec = self.tasks[text]
            return 1, [rec]
        with self.lock:
            records = list(reversed(self.tasks.values()))
        matches = 0
        page: list[TaskRecord] = []
        for rec in records:
            if name and rec.name != name and name not in (rec.name or ""):
                continue
            if state and rec.state != state:
                continue
            if worker and not (rec.worker or "").startswith(worker):
                continue
            if since is not None and rec.last_ts < since:
                continue
            if until is not None and rec.first_ts > until:
                continue
            if text and text not in rec.search:
                continue
            if offset <= matches < offset + limit:
                page.append(rec)
            matches += 1
        return matches, page

    def names(self) -> list[str]:
        """Task names seen."""
        with self.lock:
            return sorted({r.name for r in self.tasks.values() if r.name})

    def counts(self) -> dict[str, int]:
        """How many indexed tasks are in each state."""
        out: dict[str, int] = dict.fromkeys(STATES, 0)
        with self.lock:
            for rec in self.tasks.values():
                out[rec.state] = out.get(rec.state, 0) + 1
        return out


class Series:
    """Per-second counts over the last ``SERIES_S`` seconds."""

    def __init__(self) -> None:
        self.buckets: deque[tuple[int, dict[str, int]]] = deque(maxlen=SERIES_S)

    def add(self, ts: float, key: str, n: int = 1) -> None:
        """Count ``n`` of ``key`` in the second of ``ts``."""
        second = int(ts)
        if self.buckets and self.buckets[-1][0] == second:
            bucket = self.buckets[-1][1]
        elif self.buckets and second < self.buckets[-1][0]:
            for s, b in reversed(self.buckets):
                if s == second:
                    b[key] = b.get(key, 0) + n
                    return
            return  # older than what is kept
        else:
            bucket = {}
            self.buckets.append((second, bucket))
        bucket[key] = bucket.get(key, 0) + n

    def points(self, key: str, seconds: int = 300) -> list[tuple[int, int]]:
        """``(second, count)`` for every second of the window, zeros included."""
        now = int(time.time())
        have = {s: b.get(key, 0) for s, b in list(self.buckets) if s > now - seconds}
        return [(s, have.get(s, 0)) for s in range(now - seconds + 1, now + 1)]


class Feed:
    """Follows the events stream into a ``TaskIndex``, series, logs and listeners."""

    def __init__(self, app: App, index: TaskIndex,
                 on_event: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.app = app
        self.index = index
        self.on_event = on_event
        self.series = Series()
        self.depths: deque[tuple[float, dict[str, int]]] = deque(
            maxlen=int(SERIES_S / SAMPLE_EVERY_S))
        self.logs: deque[tuple[int, dict[str, Any]]] = deque(maxlen=LOG_LINES)
        self.log_seq = 0
        self.events_seen = 0
        self.last_id = "0-0"
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.loop, name="flowc-dashboard-feed",
                                        daemon=True)
        self._next_sample = 0.0

    def start(self) -> None:
        """Replay the stream and start following it."""
        self._thread.start()

    def stop(self) -> None:
        """Stop following (within a second)."""
        self._stop.set()

    def loop(self) -> None:
        """Read events; sample depths; back off on errors."""
        self._replay()
        self.ready.set()
        while not self._stop.is_set():
            try:
                self.last_id, batch = read_since(self.app.broker_client, self.app.keys.events(),
                                                 self.last_id, block_ms=500, count=1000)
                for event in batch:
                    self.apply(event)
                if time.monotonic() >= self._next_sample:
                    self._next_sample = time.monotonic() + SAMPLE_EVERY_S
                    self.sample()
            except Exception:
                logger.exception("dashboard event feed failed; retrying in 1 s")
                self._stop.wait(1.0)

    def _replay(self) -> None:
        """Rebuild from the newest part of the stream: enough entries for ``max_tasks``."""
        from flowc.runtime.events import iter_range

        try:
            for entry_id, events in iter_range(self.app.broker_client, self.app.keys.events()):
                for event in events:
                    self.apply(event)
                self.last_id = entry_id
        except Exception:
            logger.exception("could not replay the events stream")

    def apply(self, event: dict[str, Any]) -> None:
        """Fold one event into the index, the counters, the log and the listeners."""
        self.events_seen += 1
        self.index.apply(event)
        kind = str(event.get("type", ""))
        if kind in ("task-succeeded", "task-failed", "task-retried", "task-received"):
            self.series.add(float(event.get("ts") or time.time()), kind)
        self.log_seq += 1
        self.logs.append((self.log_seq, event))
        if self.on_event is not None:
            self.on_event(event)

    def sample(self) -> None:
        """Record every queue's depth (ready + delayed) for the chart."""
        from flowc.runtime.monitor import Monitor

        depths = {q.name: q.ready + q.delayed for q in Monitor(self.app).queues()}
        self.depths.append((time.time(), depths))

    def log_since(self, seq: int, match: Callable[[dict[str, Any]], bool] | None = None
                  ) -> Iterator[tuple[int, str]]:
        """Formatted log lines after sequence number ``seq``."""
        for n, event in list(self.logs):
            if n > seq and (match is None or match(event)):
                yield n, format_event(event)

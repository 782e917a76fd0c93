"""The dead-letter stream: messages no worker could or should run, kept with the reason.

Workers add to it (malformed or unknown-task messages, ``Reject(requeue=False)``, poison pills
past ``max_deliveries``, failures with ``task_acks_on_failure_or_timeout`` off); operators
inspect and replay it with ``flowc dlq``. An entry holds the message exactly as it was queued
(``b`` body, ``c`` content tag), where it came from (``source`` stream), ``reason``, ``worker``
and ``ts``.

Replaying adds the message back to its stream, then deletes the dead letter: two slots on a
Cluster, so a crash in between can replay one message twice (never lose it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowc.runtime.redis.keys import PRIORITY_LEVELS
from flowc.runtime.redis.replies import stream_entries
from flowc.runtime.wire import Rejected

if TYPE_CHECKING:
    from flowc.runtime.app import App


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One entry of the dead-letter stream, with its envelope decoded when possible."""

    id: str
    body: bytes
    tag: bytes
    source: str
    reason: str
    worker: str
    ts: float
    envelope: dict[str, Any] | None

    @property
    def task(self) -> str:
        """The task name, or ``?`` when the message could not be decoded."""
        return str((self.envelope or {}).get("task", "?"))

    @property
    def task_id(self) -> str:
        """The task id, or ``?``."""
        return str((self.envelope or {}).get("id", "?"))


class DeadLetters:
    """Read, replay and delete dead letters (on RabbitMQ: ``runtime/amqp/dlq.py``)."""

    def __new__(cls, app: App) -> DeadLetters:
        own = getattr(app.broker, "dead_letters_class", None) if cls is DeadLetters else None
        if own is not None:  # a broker with a listing of its own (RabbitMQ)
            return object.__new__(own())
        return object.__new__(cls)

    def __init__(self, app: App) -> None:
        self.app = app
        self.client = app.broker_client
        self.key = app.keys.dead_letters()
        self.refused: list[tuple[str, str]] = []
        """(entry id, reason) of the letters the last ``requeue`` kept."""

    def count(self) -> int:
        """How many dead letters there are."""
        return int(self.client.xlen(self.key))

    def newest(self, limit: int = 100) -> list[DeadLetter]:
        """The newest ``limit`` dead letters, newest first."""
        return [self._entry(eid, fields)
                for eid, fields in stream_entries(self.client.xrevrange(self.key, count=limit))]

    def get(self, entry_id: str) -> DeadLetter | None:
        """One dead letter by id, or None."""
        found = stream_entries(self.client.xrange(self.key, entry_id, entry_id))
        return self._entry(*found[0]) if found else None

    def requeue(self, entry_ids: Iterable[str], resign: bool = False) -> int:
        """Put dead letters back on their queues (delivery count reset) and delete them.

        With signing on, a letter is signed again with the current key if its signature
        verifies under an accepted one; one that does not (tampered, unsigned, a retired key)
        is kept and listed in ``refused`` unless ``resign``: the operator vouches for it."""
        n = 0
        self.refused = []
        for entry_id in entry_ids:
            letter = self.get(entry_id)
            if letter is None:
                continue
            try:
                body, tag = self.app.wire.resign(letter.body, letter.tag, force=resign)
            except Rejected as e:
                self.refused.append((letter.id, str(e)))
                continue
            pipe = self.client.pipeline(transaction=False)
            pipe.xadd(self._target(letter), {b"b": body, b"c": tag})
            pipe.xdel(self.key, letter.id)
            pipe.execute()
            n += 1
        return n

    def purge(self, entry_ids: Iterable[str] | None = None) -> int:
        """Delete these dead letters, or all of them."""
        if entry_ids is None:
            n = self.count()
            self.client.delete(self.key)
            return n
        ids = list(entry_ids)
        return int(self.client.xdel(self.key, *ids)) if ids else 0

    def all_ids(self) -> list[str]:
        """Every dead letter's id, oldest first."""
        return [eid.decode() for eid, _ in stream_entries(self.client.xrange(self.key))]

    def _target(self, letter: DeadLetter) -> str:
        if letter.source:
            return letter.source
        env = letter.envelope or {}
        queue = str(env.get("queue") or self.app.conf.task_default_queue)
        priority = env.get("priority", 0)
        if not isinstance(priority, int) or not 0 <= priority < PRIORITY_LEVELS:
            priority = 0
        return self.app.keys.stream(queue, priority)

    def _entry(self, entry_id: bytes, fields: dict[bytes, bytes]) -> DeadLetter:
        body, tag = fields.get(b"b", b""), fields.get(b"c", b"")
        try:
            env = self.app.wire.peek(body, tag)
        except Exception:
            env = None
        try:
            ts = float(fields.get(b"ts", b"0"))
        except ValueError:
            ts = 0.0
        return DeadLetter(entry_id.decode(), body, tag, fields.get(b"source", b"").decode(),
                          fields.get(b"reason", b"").decode(errors="replace"),
                          fields.get(b"worker", b"").decode(errors="replace"), ts,
                          env if isinstance(env, dict) else None)

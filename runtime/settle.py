"""Batches the writes that settle finished tasks: results, states, retries, acks, dead letters.

Everything queued here reaches Redis in one pipeline per flush (two when results live on a
different server than the queues; results go first so a crash in between re-runs a task rather
than losing its result). Flushing per batch instead of per task is what lets one process drain
tens of thousands of short tasks a second.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from flowc.runtime.broker import Delivery, Outgoing

if TYPE_CHECKING:
    from flowc.runtime.app import App


class Settler:
    """Collects settle operations and writes them with ``flush()``."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.records: list[tuple[str, bytes]] = []
        self.states: list[tuple[str, bytes]] = []
        self.acks: list[Delivery] = []
        self.publishes: list[Outgoing] = []
        self.dead: list[tuple[Delivery, str]] = []
        self.requeues: list[Delivery] = []
        self.since = 0.0
        self.ttl = app.conf.result_expires
        self.shared = app.backend_client is app.broker_client

    def __len__(self) -> int:
        return (len(self.records) + len(self.states) + len(self.acks) + len(self.publishes)
                + len(self.dead) + len(self.requeues))

    def _touch(self) -> None:
        if not self.since:
            self.since = time.monotonic()

    def record(self, task_id: str, record: bytes) -> None:
        """Queue a terminal result record."""
        self._touch()
        self.records.append((task_id, record))

    def state(self, task_id: str, record: bytes) -> None:
        """Queue a non-terminal state record."""
        self._touch()
        self.states.append((task_id, record))

    def ack(self, delivery: Delivery) -> None:
        """Queue an acknowledgement."""
        self._touch()
        self.acks.append(delivery)

    def publish(self, item: Outgoing) -> None:
        """Queue a message to publish (a retry), written before the ack of its original."""
        self._touch()
        self.publishes.append(item)

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Queue a dead-lettering."""
        self._touch()
        self.dead.append((delivery, reason))

    def requeue(self, delivery: Delivery) -> None:
        """Queue a return of the message to its queue."""
        self._touch()
        self.requeues.append(delivery)

    def age_s(self) -> float:
        """Seconds since the oldest unflushed operation was queued."""
        return time.monotonic() - self.since if self.since else 0.0

    def flush(self, worker: str) -> None:
        """Write everything queued, in one pipeline when possible."""
        if not len(self):
            return
        app = self.app
        backend, broker = app.backend, app.broker
        pipe: Any = app.broker_client.pipeline(transaction=False)
        bpipe: Any = pipe if self.shared else app.backend_client.pipeline(transaction=False)
        if self.records:
            backend.store(self.records, self.ttl, pipe=bpipe)
        if self.states:
            backend.set_state(self.states, self.ttl, pipe=bpipe)
        if not self.shared and (self.records or self.states):
            bpipe.execute()
        for item in self.publishes:
            broker._publish_one(pipe, item)
        if self.acks:
            broker.ack(self.acks, pipe)
        if len(pipe):
            pipe.execute()
        for delivery, reason in self.dead:
            broker.dead_letter(delivery, reason, worker)
        if self.requeues:
            broker.requeue(self.requeues)
        self.records, self.states, self.acks = [], [], []
        self.publishes, self.dead, self.requeues = [], [], []
        self.since = 0.0

"""Batches the writes that settle finished tasks: results, states, joins, retries, acks, dead
letters; a ``Settlement`` writes each batch.

Flushing per batch instead of per task is what lets one process drain tens of thousands of
short tasks a second. Two settlements exist: the Redis fast path (``runtime/redis/settle.py``:
the whole batch in one pipeline, a chain's next step claimed inside its join) and
``PortSettlement`` here, written against the ports only (results, then joins, then publishing
what the joins made ready, then acks), which any broker and backend can run. Results always
go before acks, so a crash in between re-runs a task rather than losing its result.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from flowc.runtime.broker import Delivery, Outgoing
from flowc.runtime.worker.hooks import NO_HOOKS, ConsumerHooks
from flowc.runtime.workflows.join import JoinOp

if TYPE_CHECKING:
    from flowc.runtime.backend import ResultBackend, WorkflowJoin
    from flowc.runtime.broker import Broker
    from flowc.runtime.config import Settings
    from flowc.runtime.wire import Wire

Claim = tuple[str, list[str], int]
"""A flush's folded next fetch: (consumer, queues, count)."""
Claimed = tuple[list[Delivery], list[bytes]]
"""What a folded claim found: deliveries, or none and the adapter's idle token (``fetch``)."""


class Settlement(Protocol):
    """Writes one ``Settler`` batch; returns the folded claim's result when ``claim`` is set."""

    def write(self, batch: Settler, worker: str, claim: Claim | None) -> Claimed | None:
        """Write everything in ``batch`` (and clear it); raise if part of it failed, keeping
        in ``batch`` only what must be written again."""
        ...


class Settler:
    """Collects settle operations and writes them with ``flush()`` through ``settlement``."""

    def __init__(self, settlement: Settlement) -> None:
        self.records: list[tuple[str, bytes]] = []
        self.states: list[tuple[str, bytes]] = []
        self.acks: list[Delivery] = []
        self.publishes: list[Outgoing] = []
        self.dead: list[tuple[Delivery, str]] = []
        self.requeues: list[Delivery] = []
        self.joins: list[JoinOp] = []
        self.hooks: ConsumerHooks = NO_HOOKS
        """Told of dead letters, flushes and finished workflows (set with the consumer's)."""
        self.since = 0.0
        self.settlement = settlement

    def __len__(self) -> int:
        return (len(self.records) + len(self.states) + len(self.acks) + len(self.publishes)
                + len(self.dead) + len(self.requeues) + len(self.joins))

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
        self.hooks.dead_lettered(delivery, reason)
        self._touch()
        self.dead.append((delivery, reason))

    def requeue(self, delivery: Delivery) -> None:
        """Queue a return of the message to its queue."""
        self._touch()
        self.requeues.append(delivery)

    def join(self, op: JoinOp) -> None:
        """Queue a workflow join operation (node done/failed, map expanded)."""
        self._touch()
        if not (self.joins and self.joins[-1].absorb(op)):
            self.joins.append(op)

    def age_s(self) -> float:
        """Seconds since the oldest unflushed operation was queued."""
        return time.monotonic() - self.since if self.since else 0.0

    def flush(self, worker: str, claim: tuple[str, list[str], int] | None = None
              ) -> tuple[list[Delivery], list[bytes]] | None:
        """Write everything queued, in one pipeline when possible.

        With ``claim`` = (consumer, queues, count) the same round trip also claims the next
        batch (so a chain's next step, enqueued by this flush, costs no extra round trip);
        returns ``parse_claim``'s (deliveries, idle ids), or None when nothing was flushed.
        """
        claimed = self.settlement.write(self, worker, claim) if len(self) else None
        self.hooks.flushed()
        return claimed

    def clear(self) -> None:
        """Forget everything queued (a settlement wrote it)."""
        self.records, self.states, self.acks = [], [], []
        self.publishes, self.dead, self.requeues, self.joins = [], [], [], []
        self.since = 0.0


class PortSettlement:
    """Writes a batch through the ports only: any broker, backend and workflow join.

    Order: joins (so whoever sees a step's result also sees its run moved on), then states,
    results and the records joins ask for, then publishes (retries and what the joins made
    ready), then acks, dead letters and requeues. A crash anywhere before the acks redelivers
    the batch's messages: their tasks run again, their joins are duplicates (no-ops that offer
    their ready messages again), nothing is lost.
    """

    def __init__(self, conf: Settings, wire: Wire, broker: Broker, backend: ResultBackend,
                 join: WorkflowJoin) -> None:
        self.conf = conf
        self.wire = wire
        self.broker = broker
        self.backend = backend
        self.join = join

    def write(self, batch: Settler, worker: str, claim: Claim | None) -> Claimed | None:
        broker, backend = self.broker, self.backend
        ttl = self.conf.result_ttl
        for delivery, reason in batch.dead:  # first: whoever sees the failure finds the letter
            broker.dead_letter(delivery, reason, worker)
        batch.dead = []
        follow: list[tuple[str, bytes]] = []
        made_ready = 0
        if batch.joins:  # first: whoever sees a step's result then sees its run moved on
            replies = self.join.join(batch.joins)
            for op, reply in zip(batch.joins, replies, strict=True):
                follow += op.follow_up(reply, self.conf.result_serializer)
                batch.publishes += self.wire.sign(reply.ready)
                made_ready += len(reply.ready)
                if reply.finished:
                    batch.hooks.workflow_finished(op.workflow_id)
            batch.joins = []
        if batch.states:
            backend.set_state(batch.states, ttl)
            batch.states = []
        if batch.records or follow:
            backend.store([*batch.records, *follow], ttl)
            batch.records = []
        if batch.publishes:
            broker.publish(batch.publishes)
            batch.publishes = []
        if batch.acks:
            broker.ack(batch.acks)
        batch.hooks.flushing(None)
        if batch.requeues:
            broker.requeue(batch.requeues)
        batch.clear()
        if claim is None:
            return None
        consumer, queues, count = claim
        if made_ready > 1:  # one step: siblings made ready together wake idle processes instead
            count = 1
        return broker.fetch(consumer, queues, count, 0), []

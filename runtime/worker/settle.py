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
from flowc.runtime.redis import scripts
from flowc.runtime.worker.hooks import NO_HOOKS, ConsumerHooks
from flowc.runtime.workflows.join import JoinOp
from redis.exceptions import NoScriptError

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
        self.joins: list[JoinOp] = []
        self.hooks: ConsumerHooks = NO_HOOKS
        """Told of dead letters, flushes and finished workflows (set with the consumer's)."""
        self.since = 0.0
        self.ttl = app.conf.result_expires
        self.shared = app.backend_client is app.broker_client
        self._folded_claim: Any = None

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

    def _settle_joins(self, join_at: list[int], replies: list[Any]) -> None:
        """Store the records join replies ask for; re-run joins that hit an empty script cache."""
        store = self.app.workflows
        follow: list[tuple[str, bytes]] = []
        retry: list[JoinOp] = []
        for op, at in zip(self.joins, join_at, strict=True):
            reply = replies[at]
            if isinstance(reply, NoScriptError):
                retry.append(op)
                replies[at] = None
            elif not isinstance(reply, Exception):
                follow += op.follow_up(store, reply)
                self._finished(op, reply)
                self._keep_claim(op, reply)
        if retry:
            scripts.ensure_loaded(self.app.broker_client, store.script)
            pipe = self.app.broker_client.pipeline(transaction=False)
            for op in retry:
                op.queue(store, pipe)
            for op, reply in zip(retry, pipe.execute(), strict=True):
                follow += op.follow_up(store, reply)
                self._finished(op, reply)
                self._keep_claim(op, reply)
        if follow:
            self.app.backend.store(follow, self.ttl)

    def _keep_claim(self, op: JoinOp, reply: Any) -> None:
        """Keep the messages a join with a folded claim claimed (its reply's fifth item)."""
        if op.claim is not None and len(reply) > 4:
            self._folded_claim = reply[4]

    def _finished(self, op: JoinOp, reply: Any) -> None:
        """Tell the hooks when the join reports the run's last node settled."""
        if reply and len(reply) > 1 and reply[1] == 1:
            self.hooks.workflow_finished(op.workflow_id)

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
        claimed = self._write(worker, claim) if len(self) else None
        self.hooks.flushed()
        return claimed

    def _write(self, worker: str, claim: tuple[str, list[str], int] | None
               ) -> tuple[list[Delivery], list[bytes]] | None:
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
        folded, self._folded_claim = None, None
        for op in self.joins:  # a join kept from a failed flush must not claim again
            op.claim = None
        if claim is not None and self.joins and self.joins[-1].op == "done" \
                and not self.publishes:
            folded = self.joins[-1]  # acks and claim ride in the last join (JoinOp.claim)
            folded.claim = broker.claim_args(*claim, acks=self.acks)
        join_at = []
        for op in self.joins:
            join_at.append(len(pipe))
            op.queue(app.workflows, pipe)
        publish_at = len(pipe)
        for item in self.publishes:
            broker._publish_one(pipe, item)  # one command each
        if self.acks and folded is None:
            broker.ack(self.acks, pipe)
        claim_at = -1
        if claim is not None and folded is None:
            claim_at = len(pipe)
            broker.queue_claim(pipe, *claim)
        self.hooks.flushing(pipe)  # events ride on this round trip instead of their own
        replies = pipe.execute(raise_on_error=False) if len(pipe) else []
        if self.joins:
            self._settle_joins(join_at, replies)
        for reply in replies:
            if isinstance(reply, Exception):
                # Keep for the next flush only the publishes that failed: one that succeeded
                # (an XADD) would run its task twice if sent again. The rest is idempotent.
                sent = replies[publish_at:publish_at + len(self.publishes)]
                self.publishes = [item for item, r in zip(self.publishes, sent, strict=True)
                                  if isinstance(r, Exception)]
                raise reply
        claimed = self._folded_claim
        self._folded_claim = None
        for delivery, reason in self.dead:
            broker.dead_letter(delivery, reason, worker)
        if self.requeues:
            broker.requeue(self.requeues)
        self.records, self.states, self.acks = [], [], []
        self.publishes, self.dead, self.requeues, self.joins = [], [], [], []
        self.since = 0.0
        if folded is not None:  # no reply (a failed join) claims nothing: the next fetch does
            return broker.parse_claim(claimed or [])
        if claim_at < 0:
            return None
        return broker.parse_claim(replies[claim_at])

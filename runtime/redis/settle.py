"""The Redis fast path of settling a worker's batch: everything in one pipeline.

Results, states, workflow joins, retries' publishes, acks, the worker's events and its next
claim ride in one round trip (two when results live on another server than the queues;
results go first so a crash in between re-runs a task rather than losing its result). When
the batch ends in a workflow ``done``, its acks and the next claim fold into that script call,
so the worker that finishes a chain step claims the next step in the step that enqueues it
(one message when the join made several ready: siblings wake idle processes instead).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowc.runtime.redis import scripts
from flowc.runtime.redis.workflow_store import parse_reply
from redis.exceptions import NoScriptError

if TYPE_CHECKING:
    from flowc.runtime.config import Settings
    from flowc.runtime.redis.backend import RedisResultBackend
    from flowc.runtime.redis.broker import RedisBroker
    from flowc.runtime.redis.workflow_store import RedisWorkflowJoin
    from flowc.runtime.wire import Wire
    from flowc.runtime.worker.settle import Claim, Claimed, Settlement, Settler


class RedisSettlement:
    """``Settlement`` for a Redis broker, Redis results and the Redis join (atomic mode).

    ``ports_only`` writes the batches this one cannot: those with joins when the join leaves
    publishing to the worker (signed messages), which must be published before the acks.
    """

    def __init__(self, conf: Settings, wire: Wire, broker: RedisBroker,
                 backend: RedisResultBackend, join: RedisWorkflowJoin,
                 ports_only: Settlement) -> None:
        self.conf = conf
        self.wire = wire
        self.broker = broker
        self.backend = backend
        self.join = join
        self.ports_only = ports_only
        self.ttl = conf.result_ttl
        self.shared = backend.client is broker.client

    def write(self, batch: Settler, worker: str, claim: Claim | None) -> Claimed | None:
        if batch.joins and self.join.by_worker:
            # Signing on: the join leaves its ready messages to the worker, which must publish
            # them before it acks; the ports path orders that. Plain batches stay on this path.
            return self.ports_only.write(batch, worker, claim)
        broker, backend = self.broker, self.backend
        pipe: Any = broker.client.pipeline(transaction=False)
        bpipe: Any = pipe if self.shared else backend.client.pipeline(transaction=False)
        for delivery, reason in batch.dead:  # first: whoever sees the failure finds the letter
            broker.dead_letter(delivery, reason, worker, pipe=pipe)
        if not self.shared and batch.dead:
            pipe.execute()
        if batch.records:
            backend.store(batch.records, self.ttl, pipe=bpipe)
        if batch.states:
            backend.set_state(batch.states, self.ttl, pipe=bpipe)
        if not self.shared and (batch.records or batch.states):
            bpipe.execute()
        folded = None
        for op in batch.joins:  # a join kept from a failed flush must not claim again
            op.claim = None
        if claim is not None and batch.joins and batch.joins[-1].op == "done" \
                and not batch.publishes:
            folded = batch.joins[-1]  # acks and claim ride in the last join (JoinOp.claim)
            # (the script claims one message only when the join made several ready at once:
            # siblings then wake idle processes and run in parallel)
            folded.claim = broker.claim_args(*claim, acks=batch.acks)
        join_at = []
        for op in batch.joins:
            join_at.append(len(pipe))
            self.join.queue(pipe, op)
        publish_at = len(pipe)
        for item in batch.publishes:
            broker._publish_one(pipe, item)  # one command each
        if batch.acks and folded is None:
            broker.ack(batch.acks, pipe)
        claim_at = -1
        if claim is not None and folded is None:
            claim_at = len(pipe)
            broker.queue_claim(pipe, *claim)
        batch.hooks.flushing(pipe)  # events ride on this round trip instead of their own
        if batch.joins or batch.publishes:
            broker.queue_wait(pipe)  # what the joins and retries enqueued, on the replicas
        replies = pipe.execute(raise_on_error=False) if len(pipe) else []
        self._publish_again_after_noscript(batch, publish_at, replies)
        claimed = self._settle_joins(batch, join_at, replies) if batch.joins else None
        for reply in replies:
            if isinstance(reply, Exception):
                # Keep for the next flush only the publishes that failed: one that succeeded
                # (an XADD) would run its task twice if sent again. The rest is idempotent.
                sent = replies[publish_at:publish_at + len(batch.publishes)]
                batch.publishes = [item for item, r in zip(batch.publishes, sent, strict=True)
                                   if isinstance(r, Exception)]
                raise reply
        if batch.requeues:
            broker.requeue(batch.requeues)
        batch.clear()
        if folded is not None:  # no reply (a failed join) claims nothing: the next fetch does
            return broker.parse_claim(claimed or [])
        if claim_at < 0:
            return None
        return broker.parse_claim(replies[claim_at])

    def _publish_again_after_noscript(self, batch: Settler, publish_at: int,
                                      replies: list[Any]) -> None:
        """After a server restart emptied the script cache, the batch's publishes (publish.lua)
        came back NOSCRIPT, so none ran: publish them now (which loads the script), before
        the batch is done, and count them as sent."""
        sent = range(publish_at, publish_at + len(batch.publishes))
        again = [i for i in sent if isinstance(replies[i], NoScriptError)]
        if not again:
            return
        self.broker.publish([batch.publishes[i - publish_at] for i in again])
        for i in again:
            replies[i] = 1

    def _settle_joins(self, batch: Settler, join_at: list[int], replies: list[Any]) -> Any:
        """Store the records join replies ask for, publish what they left to the worker
        (runs submitted with publish=worker), re-run joins that hit an empty script cache;
        return the folded claim's reply, if any."""
        follow: list[tuple[str, bytes]] = []
        ready = []
        retry = []
        claimed = None
        serializer = self.conf.result_serializer

        def settle(op: Any, raw: Any) -> None:
            nonlocal claimed
            reply = parse_reply(raw)
            follow.extend(op.follow_up(reply, serializer))
            ready.extend(reply.ready)
            if reply.finished:
                batch.hooks.workflow_finished(op.workflow_id)
            if op.claim is not None:
                claimed = reply.claimed

        for op, at in zip(batch.joins, join_at, strict=True):
            raw = replies[at]
            if isinstance(raw, NoScriptError):
                retry.append(op)
                replies[at] = None
            elif not isinstance(raw, Exception):
                settle(op, raw)
        if retry:
            scripts.ensure_loaded(self.broker.client, self.join.script)
            pipe = self.broker.client.pipeline(transaction=False)
            for op in retry:
                self.join.queue(pipe, op)
            for op, raw in zip(retry, pipe.execute(), strict=True):
                settle(op, raw)
        if follow:
            self.backend.store(follow, self.ttl)
        if ready:
            self.broker.publish(self.wire.sign(ready))
        return claimed

"""Redelivery: messages claimed by a worker process that died go back to their queue.

A consumer process's heartbeat key (``heartbeat``) expires ``flowc_worker_lost_after`` seconds
after its last beat. Every ``flowc_reap_interval`` seconds one live process in the cluster (a
short ``SET NX`` lock elects it) lists the consumers of every queue's streams, checks which have
no heartbeat key, and returns their pending messages to the ready side with ``reclaim.lua``,
counting the delivery in the entry (field ``d``) so a poison pill stops after
``max_deliveries``. A task that runs for an hour on a live worker is never taken: the worker's
heartbeat thread keeps its key alive while the task runs.

The liveness check (the heartbeat key) and the claim (the stream) live in different Cluster
slots, so they are two steps. That is safe because a consumer name is never reused (it carries
the pid and a per-start token): once its key is gone the process is gone for good, or frozen
past the limit, in which case its task may run twice (at-least-once) but nothing is lost.

After Redis itself restarts, every heartbeat key may look expired at once. A process therefore
only reaps after it has reached Redis without interruption for ``flowc_worker_lost_after``
seconds: by then every live worker has beaten again.

The scan finds streams through the queue registry (``Keys.queues``), which a restart without
persistence or a FLUSHDB empties while workers keep running (they declared their queues once,
at start): each process therefore re-adds its own queues to it every ``flowc_worker_lost_after``
seconds, so a worker lost after such a restart still has its messages returned.

The elected process also prunes the index of workflow runs (``workflow_index``), which would
otherwise keep one entry per run ever submitted.

Each process also checks its own claims now and then: an entry pending under its name that it
does not hold (a reply lost with a dropped connection after the server had claimed it) would
otherwise never run, so it goes back too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowc.runtime.app import App

logger = logging.getLogger("flowc.worker")

ORPHAN_CHECK_EVERY_S = 15.0
"""How often a process looks for entries pending under its own name that it does not hold."""
ORPHAN_MIN_IDLE_S = 30.0
"""Only entries claimed this long ago count as orphans (a fresh claim may be in transit)."""


class Reaper:
    """Runs redelivery scans for the process named ``consumer`` (call ``tick`` periodically)."""

    def __init__(self, app: App, consumer: str,
                 held: Callable[[], set[bytes]] | None = None) -> None:
        self.app = app
        self.consumer = consumer
        self.held = held
        self.interval_s = app.conf.flowc_reap_interval
        self.lost_after_s = app.conf.flowc_worker_lost_after
        self.next_reap = 0.0
        self.next_orphan_check = time.monotonic() + ORPHAN_CHECK_EVERY_S
        self.next_register = 0.0
        self._queues: list[str] | None = None
        self.pruner: Any = None
        """The Redis join's workflow run index (``redis/workflow_index.py``); none without
        Redis."""
        if app.coordination_url:
            from flowc.runtime.redis.workflow_index import IndexPruner  # redis-py: Redis only

            self.pruner = IndexPruner(app.broker_client, app.keys, lambda: app.conf.result_ttl)
        self.returned = 0
        """Messages this process gave back (for logs and tests)."""

    def tick(self, healthy_s: float) -> None:
        """Reap if due; ``healthy_s`` is how long Redis has answered without interruption."""
        now = time.monotonic()
        if now >= self.next_register:
            self.next_register = now + self.lost_after_s
            self.register_queues()
        if now >= self.next_reap:
            self.next_reap = now + self.interval_s
            if healthy_s >= self.lost_after_s and self._elected():
                self.reap_lost()
                if self.pruner is not None:  # the elected process keeps the run index bounded
                    self.pruner.prune()
        if self.held is not None and now >= self.next_orphan_check:
            self.next_orphan_check = now + ORPHAN_CHECK_EVERY_S
            self.reclaim_orphans()

    def register_queues(self) -> None:
        """Re-add this process's queues (from its heartbeat hash) to the queue registry."""
        coordination = self.app.coordination
        if self._queues is None:
            self._queues = coordination.worker_queues(self.consumer)
            if self._queues is None:
                return  # no heartbeat yet (or not a worker process): try next time
        coordination.register_queues(self._queues)

    def _elected(self) -> bool:
        return self.app.coordination.elect("reaper", self.consumer, self.interval_s)

    def lost_consumers(self) -> dict[str, list[bytes]]:
        """Consumers on some stream whose heartbeat key is gone, with their streams."""
        found = self.app.broker.consumers()
        if not found:
            return {}
        names = list(found)
        alive = self.app.coordination.alive(names)
        return {name: found[name] for name, up in zip(names, alive, strict=True) if not up}

    def reap_lost(self) -> int:
        """Return every lost consumer's pending messages and forget the consumer."""
        total = 0
        for name, streams in self.lost_consumers().items():
            if name == self.consumer:
                continue
            n = self.app.broker.reclaim(name, streams)
            if n:
                logger.warning("worker %s was lost; returned %d message(s) to their queues",
                               name, n)
            total += n
        self.returned += total
        return total

    def reclaim_orphans(self, min_idle_s: float = ORPHAN_MIN_IDLE_S) -> int:
        """Return entries pending under this process's name that it is not holding and that
        were claimed at least ``min_idle_s`` ago (the default leaves time for a claim whose
        reply is still in transit)."""
        assert self.held is not None
        streams = self.app.broker.consumers().get(self.consumer)
        if not streams:
            return 0
        pending = self.app.broker.pending_of(self.consumer, streams, min_idle_s)
        if not pending:
            return 0
        try:
            held = self.held()
        except RuntimeError:  # the set changed while copied; try next time
            return 0
        orphans = [(key, eid) for key, eid in pending if eid not in held]
        if not orphans:
            return 0
        n = self.app.broker.reclaim_entries(self.consumer, orphans)
        if n:
            logger.warning("returned %d message(s) this worker had claimed but lost track of", n)
        self.returned += n
        return n

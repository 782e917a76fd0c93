"""The index of workflow runs (``Keys.workflows``) forgets runs whose keys have expired.

Submitting a run adds it to a sorted set scored by submit time (the dashboard's and
``Monitor``'s listing). A run's own keys expire ``result_expires`` seconds after it finishes,
but nothing removed its index entry, so the set grew by one member per run for ever. The
elected reaper (one process in the cluster per ``flowc_reap_interval``) calls ``IndexPruner.
prune``: among entries older than ``result_expires`` (only those can have expired, as the TTL
starts when the run finishes), it drops those whose ``meta`` key is gone. Long-running runs
stay listed; a cursor walks past them so they never block the pruning of later ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from flowc.runtime.redis.keys import Keys

PRUNE_BATCH = 500
"""Index entries checked per call (one ZRANGEBYSCORE, one pipeline of EXISTS, one ZREM)."""


class IndexPruner:
    """Removes expired runs from the workflow index, ``PRUNE_BATCH`` entries per call."""

    def __init__(self, client: redis.Redis, keys: Keys, result_ttl: Callable[[], float | None],
                 batch: int = PRUNE_BATCH) -> None:
        self.client = client
        self.keys = keys
        self.result_ttl = result_ttl
        """Read at each prune (the setting may change while the process runs)."""
        self.batch = batch
        self.offset = 0
        """Old entries still alive (running) seen so far in this walk: skipped next time."""

    def prune(self, now: float | None = None) -> int:
        """Check the next batch of old entries; return how many were removed."""
        ttl = self.result_ttl()
        if not ttl:
            return 0  # results never expire: neither do runs
        client = self.client
        index = self.keys.workflows()
        cutoff = (time.time() if now is None else now) - float(ttl)
        ids: list[bytes] = client.zrangebyscore(  # type: ignore[assignment]
            index, "-inf", cutoff, start=self.offset, num=self.batch)
        if not ids:
            self.offset = 0
            return 0
        pipe = client.pipeline(transaction=False)
        for wid in ids:
            pipe.exists(self.keys.workflow(wid.decode())[4])  # the run's meta hash
        gone = [wid for wid, alive in zip(ids, pipe.execute(), strict=True) if not alive]
        if gone:
            client.zrem(index, *gone)
        self.offset = 0 if len(ids) < self.batch else self.offset + len(ids) - len(gone)
        return len(gone)

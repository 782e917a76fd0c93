"""Fewer duplicates: a task runs twice only where docs/reliability.md says it can.

A frozen worker does not run the prefetched messages the reaper gave away while it was
stopped; a claim whose reply was lost with the connection is recovered at once; a publish
re-sent after a dropped connection is not queued twice.
"""

from __future__ import annotations

import signal
from collections import Counter

import reliability_app as ra
from flowc.runtime.app import App

from tests.reliability.conftest import Cluster
from tests.runtime.support import wait_settled
from tests.waiting import wait_until

BATCH = 6


def test_a_worker_resumed_after_a_freeze_does_not_run_the_prefetched_tasks_given_away(
        cluster: Cluster, rel_app: App) -> None:
    # Given a worker that claimed a long task and six more behind it, then froze (SIGSTOP)
    ra.sleeper.delay(1.0)
    records = [ra.record.delay(i) for i in range(BATCH)]
    frozen = cluster.start("-P", "solo", env={"REL_PREFETCH": "8"})
    wait_until(lambda: cluster.logged("sleeper"), 10, "the long task to start", cluster.logs)
    frozen.proc.send_signal(signal.SIGSTOP)
    try:
        # When its heartbeat lapses and a live worker runs everything it held
        cluster.start("-P", "solo")
        assert [r.get(timeout=15) for r in records] == list(range(BATCH)), cluster.logs()
        wait_until(lambda: len(cluster.logged("sleeper")) == 2, 10, "the long task again")
    finally:
        frozen.proc.send_signal(signal.SIGCONT)
    # Then, resumed, it finishes the task it was running but drops the six it had prefetched
    wait_until(lambda: "given to other workers meanwhile" in frozen.log, 10,
               "the resumed worker to drop its given-away batch", cluster.logs)
    wait_settled(rel_app)
    runs = Counter(int(v) for v in cluster.logged("runs"))
    assert runs == Counter(range(BATCH)), (runs, cluster.logs())

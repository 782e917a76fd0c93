"""Redis going away: workers and producers reconnect; with AOF nothing acks-late is lost."""

from __future__ import annotations

import time
from collections import Counter

import reliability_app as ra
from flowc.runtime.app import App

from tests.reliability.conftest import Cluster
from tests.waiting import wait_until


def test_a_redis_restart_mid_run_loses_nothing(cluster: Cluster, rel_app: App) -> None:
    # Given two workers (solo and prefork) draining acks_late tasks on a server with AOF on
    cluster.start("-P", "solo")
    cluster.start("-P", "prefork", "-c", "2", expect=2)
    first = [ra.record.delay(i, 0.006) for i in range(400)]
    wait_until(lambda: len(cluster.logged("runs")) >= 40, 20, "the run to be under way")
    # When the server restarts in the middle of the run
    done_before = len(cluster.logged("runs"))
    cluster.server.restart()
    assert 0 < done_before < 400
    # Then the producer reconnects and keeps sending...
    second = [ra.record.delay(i, 0.006) for i in range(400, 800)]
    # ...and every task of both halves ends SUCCESS, none lost
    assert [r.get(timeout=60) for r in first + second] == list(range(800)), cluster.logs()
    runs = Counter(int(v) for v in cluster.logged("runs"))
    assert set(runs) == set(range(800))
    print(f"\nRedis restarted mid-run: 800 tasks, none lost, "
          f"{sum(1 for n in runs.values() if n > 1)} ran twice")
    # And the workers are still up and consuming
    assert all(w.alive for w in cluster.workers)
    assert ra.record.delay(1000).get(timeout=10) == 1000


def test_workers_survive_the_server_being_down_for_a_few_seconds(cluster: Cluster,
                                                                 rel_app: App) -> None:
    cluster.start("-P", "solo")
    assert ra.record.delay(1).get(timeout=10) == 1
    cluster.server.kill()  # a crash: AOF (fsync every second) was written before the kill
    time.sleep(3.0)  # not a wait: the outage under test (workers keep retrying meanwhile)
    cluster.server.start()
    assert ra.record.delay(2).get(timeout=30) == 2
    assert all(w.alive for w in cluster.workers)

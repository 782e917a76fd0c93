"""At-least-once delivery: workers SIGKILLed mid-task lose nothing; poison pills stop.

Workers run with a 2 s ``flowc_worker_lost_after`` and a 0.5 s reap interval (REL_* in
``reliability_app``), so a lost worker's messages come back within about 2.5 s; a prefork pool
process that dies has its heartbeat cleared by its supervisor, so its messages come back
within about 0.5 s.
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter

import psutil
import reliability_app as ra
from flowc.runtime.app import App

from tests.reliability.conftest import Cluster
from tests.runtime.support import wait_settled
from tests.waiting import WorkerProcess, wait_until

TASKS = 2000
KILLS = 10


def _kill_one(cluster: Cluster, rng: random.Random, solos: list[WorkerProcess]) -> str:
    """SIGKILL a random consumer process: a solo worker (then start a new one) or a pool child."""
    prefork = [w for w in cluster.workers if w.children()]
    victims: list[tuple[str, object]] = [("solo", w) for w in solos if w.alive]
    victims += [("child", c) for w in prefork for c in w.children()]
    kind, victim = rng.choice(victims)
    if kind == "solo":
        assert isinstance(victim, WorkerProcess)
        victim.proc.kill()
        solos.remove(victim)
        solos.append(cluster.start("-P", "solo", expect=0))
        return f"solo worker {victim.proc.pid}"
    assert isinstance(victim, psutil.Process)
    victim.kill()
    return f"pool process {victim.pid}"


def test_2000_acks_late_tasks_survive_10_random_sigkills(cluster: Cluster,
                                                          rel_app: App) -> None:
    # Given three solo workers and a prefork worker with two pool processes, all acks_late
    solos = [cluster.start("-P", "solo") for _ in range(3)]
    cluster.start("-P", "prefork", "-c", "2", expect=2)
    rng = random.Random(4)
    # When 2,000 tasks run while ten consumer processes are SIGKILLed at random moments
    results = [ra.record.delay(i, rng.uniform(0.005, 0.015)) for i in range(TASKS)]
    killed = []
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.15, 0.45))  # not a wait: the random kill schedule under test
        killed.append(_kill_one(cluster, rng, solos))
    # Then every task ends SUCCESS and each ran at least once
    assert [r.get(timeout=60) for r in results] == list(range(TASKS)), cluster.logs()
    runs = Counter(int(v) for v in cluster.logged("runs"))
    assert set(runs) == set(range(TASKS))
    twice = sum(1 for n in runs.values() if n > 1)
    print(f"\n{TASKS} acks_late tasks, {KILLS} SIGKILLs ({', '.join(killed)}): "
          f"none lost, {twice} ran twice, {sum(runs.values()) - TASKS} extra runs")
    assert any("returned" in w.log for w in cluster.workers)  # the reaper logged it


def test_a_poison_pill_is_dead_lettered_after_max_deliveries_and_the_rest_finish(
        cluster: Cluster, rel_app: App) -> None:
    # Given a prefork worker whose pool processes die when they run the poison task
    cluster.start("-P", "prefork", "-c", "2", expect=2)
    poison = ra.poison.delay()
    others = [ra.record.delay(i) for i in range(50)]
    # Then the poison pill reaches the dead-letter stream after five deliveries
    wait_until(lambda: cluster.redis.xlen("flowc:dlq") >= 1, 30, "the poison pill's dead letter",
             cluster.logs)
    [(_, fields)] = cluster.redis.xrange("flowc:dlq")
    assert b"delivered 5 times and its worker was lost each time" in fields[b"reason"]
    assert poison.id.encode() in fields[b"b"]
    assert len(cluster.logged("poison")) == 5
    # And every other task finished
    assert [r.get(timeout=20) for r in others] == list(range(50))
    # And the poison pill's result says why it will never run, instead of PENDING for ever
    assert poison.state == "FAILURE"
    assert "delivered 5 times" in str(poison.result)


def test_a_long_task_on_a_live_worker_is_never_taken(cluster: Cluster, rel_app: App) -> None:
    # Given a task that runs for 4 s, twice the time after which a silent worker is lost
    cluster.start("-P", "solo")
    cluster.start("-P", "solo")
    result = ra.sleeper.delay(4.0)
    # Then it runs once, on one worker, though another worker scans for lost ones meanwhile
    assert result.get(timeout=15) == "woke"
    assert len(cluster.logged("sleeper")) == 1


def test_a_prefetched_message_of_a_killed_worker_runs_elsewhere_but_a_started_early_ack_one_does_not(  # noqa: E501
        cluster: Cluster, rel_app: App) -> None:
    # Given a solo worker holding a running early-ack task and a prefetched one
    # (both queued before the worker starts, so its first fetch claims them together)
    started = ra.sleeper.apply_async((30.0,), acks_late=False)
    prefetched = ra.record.apply_async((7,), acks_late=False)
    victim = cluster.start("-P", "solo")
    wait_until(lambda: len(cluster.logged("sleeper")) == 1, 10, "the long task to start")
    wait_until(lambda: cluster.redis.xpending("flowc:{q:celery}:p0", "workers")["pending"] == 1,
               10, "the second message to be held (and the first acknowledged)")
    # When the worker is SIGKILLed and another starts
    victim.proc.kill()
    cluster.start("-P", "solo")
    # Then the prefetched message runs on the new worker (it had not started)...
    assert prefetched.get(timeout=15) == 7
    # ...and the started one is not run again: it was acknowledged when it started (Celery)
    wait_settled(rel_app)
    assert len(cluster.logged("sleeper")) == 1
    assert started.state == "PENDING"


def test_warm_shutdown_of_a_prefork_worker_loses_nothing(cluster: Cluster,
                                                         rel_app: App) -> None:
    worker = cluster.start("-P", "prefork", "-c", "2", expect=2)
    results = [ra.record.delay(i, 0.01) for i in range(100)]
    wait_until(lambda: len(cluster.logged("runs")) >= 10, 20, "the run to be under way")
    assert worker.stop(signal.SIGTERM) == 0
    cluster.start("-P", "solo")
    assert [r.get(timeout=30) for r in results] == list(range(100))

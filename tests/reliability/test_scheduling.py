"""Cluster-wide rate limits, exact priorities, and ETAs that survive worker restarts."""

from __future__ import annotations

import itertools
import random
import signal
import time
from datetime import datetime, timedelta, timezone

import reliability_app as ra
from flowc.runtime.app import App

from tests.reliability.conftest import Cluster
from tests.runtime.support import unsettled_messages, wait_settled
from tests.waiting import wait_until

LIMIT, PERIOD_S = 20, 2.0  # reliability_app's REL_RATE default, '20/2s'


def _window_counts(starts: list[float], period_s: float) -> tuple[int, int]:
    """Most starts in any window [t, t + period) and fewest in any such window that lies
    wholly between the first and the last start (while work was waiting)."""
    starts = sorted(starts)
    most = max(sum(1 for s in starts if t <= s < t + period_s) for t in starts)
    inner = [t + 1e-6 for t in starts if t + 1e-6 + period_s <= starts[-1]]
    fewest = min(sum(1 for s in starts if t <= s < t + period_s) for t in inner)
    return most, fewest


def test_four_processes_share_one_rate_limit(cluster: Cluster, rel_app: App) -> None:
    # Given four worker processes (two prefork workers of two) and a '20/2s' task
    cluster.start("-P", "prefork", "-c", "2", expect=2)
    cluster.start("-P", "prefork", "-c", "2", expect=2)
    # When 70 calls wait at once
    results = [ra.limited.delay(i) for i in range(70)]
    assert [r.get(timeout=30) for r in results] == list(range(70))
    # Then at most 20 start in any rolling 2 s window, and at least 18 while work waits
    most, fewest = _window_counts([float(s) for s in cluster.logged("starts")], PERIOD_S)
    print(f"\n'20/2s' over 4 processes: most {most}, fewest {fewest} starts per rolling 2 s")
    assert most <= LIMIT
    assert fewest >= 0.9 * LIMIT


def test_a_keyed_rate_limit_holds_per_key_and_keys_do_not_wait_for_each_other(
        cluster: Cluster, rel_app: App) -> None:
    # Given a task limited to 2/s per store_id
    cluster.start("-P", "prefork", "-c", "2", expect=2)
    started = time.time()
    results = [ra.per_store.delay(store, i) for i in range(4) for store in ("a", "b")]
    assert sorted(r.get(timeout=20) for r in results) == ["a"] * 4 + ["b"] * 4
    by_store: dict[str, list[float]] = {"a": [], "b": []}
    for line in cluster.logged("store"):
        store, when = line.split()
        by_store[store].append(float(when))
    # Then each store's starts are about 0.5 s apart, and both stores ran side by side
    for times in by_store.values():
        times.sort()
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 0.45, gaps
    assert max(max(t) for t in by_store.values()) - started < 3.0  # not 4 s: keys overlap


def test_a_rate_limited_task_does_not_block_other_tasks_in_the_same_worker(
        cluster: Cluster, rel_app: App) -> None:
    cluster.start("-P", "solo")
    limited = [ra.limited.delay(i) for i in range(25)]  # the last 5 wait about 2 s
    wait_until(lambda: cluster.redis.zcard("flowc:{q:celery}:delayed"), 10,
               "limited tasks deferred to the delayed set")
    other = ra.record.delay(99)
    assert other.get(timeout=1.0) == 99  # ran while the limited ones wait in the delayed set
    assert [r.get(timeout=10) for r in limited] == list(range(25))


def test_priorities_run_in_exact_order_when_a_paused_worker_resumes(
        cluster: Cluster, rel_app: App) -> None:
    # Given one solo worker, paused
    worker = cluster.start("-P", "solo")
    worker.proc.send_signal(signal.SIGSTOP)
    try:
        # When 100 tasks with mixed priorities arrive
        rng = random.Random(5)
        prios = [rng.randrange(10) for _ in range(100)]
        results = [ra.ordered.apply_async((i,), priority=p) for i, p in enumerate(prios)]
    finally:
        worker.proc.send_signal(signal.SIGCONT)
    # Then it runs them most urgent (9) first, in arrival order within a priority
    for r in results:
        r.get(timeout=20)
    expected = sorted(range(100), key=lambda i: (-prios[i], i))
    assert [int(v) for v in cluster.logged("order")] == expected


def test_an_eta_survives_worker_restarts_and_runs_once_never_early(
        cluster: Cluster, rel_app: App) -> None:
    # Given an ETA an hour away and one a minute away, with a worker running
    worker = cluster.start("-P", "solo")
    hour = ra.when.apply_async((1,), countdown=3600)
    new_york = timezone(timedelta(hours=-5))
    soon = ra.when.apply_async((2,), eta=datetime.fromtimestamp(time.time() + 60,
                                                                tz=new_york))
    # When the worker is killed and replaced, twice, before either is due (a minute: however
    # slowly a loaded machine starts workers; a 6 s ETA came due during the restarts)
    for _ in range(2):
        time.sleep(0.5)  # not a wait: the worker runs a while before it is killed
        worker.proc.kill()
        worker = cluster.start("-P", "solo")
        # Then both still wait in Redis (the delayed set), not in any worker's memory
        assert cluster.redis.zcard("flowc:{q:celery}:delayed") == 2
        assert cluster.logged("when") == []
    # And the near one, brought forward (the score is the ETA), runs once, not before it;
    # the hour-long one keeps waiting
    due = time.time() + 1.5
    [near] = [m for m in cluster.redis.zrange("flowc:{q:celery}:delayed", 0, -1)
              if soon.id.encode() in m]
    cluster.redis.zadd("flowc:{q:celery}:delayed", {near: due})
    assert soon.get(timeout=10) >= due
    wait_until(lambda: unsettled_messages(rel_app) == 1, 10, "only the hour-long one to be left")
    assert [line.split()[0] for line in cluster.logged("when")] == ["2"]
    [(member, score)] = cluster.redis.zrange("flowc:{q:celery}:delayed", 0, -1, withscores=True)
    assert hour.id.encode() in member and score > time.time() + 3500
    # And when the hour has passed (moved forward: the score is the ETA), it runs exactly once
    worker.stop()
    cluster.redis.zadd("flowc:{q:celery}:delayed", {member: time.time()})
    cluster.start("-P", "solo")
    cluster.start("-P", "solo")
    hour.get(timeout=10)
    wait_settled(rel_app)
    assert sorted(line.split()[0] for line in cluster.logged("when")) == ["1", "2"]


def test_expired_tasks_are_revoked_without_running(cluster: Cluster, rel_app: App) -> None:
    cluster.start("-P", "solo")
    late = ra.record.apply_async((1,), countdown=1.0, expires=0.5)
    r = ra.record.delay(2)
    assert r.get(timeout=10) == 2
    wait_until(lambda: late.state == "REVOKED", 10, "the expired task to be REVOKED")
    assert cluster.logged("runs") == ["2"]

"""Time limits, revoke (queued, delayed, running with terminate), Reject and dead letters."""

from __future__ import annotations

import time

import pytest
import reliability_app as ra
from flowc.runtime.app import App

from flowc.exceptions import TaskRevokedError, TimeLimitExceeded
from tests.reliability.conftest import Cluster
from tests.runtime.support import wait_settled
from tests.waiting import wait_until


@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_a_soft_time_limit_raises_inside_the_task(cluster: Cluster, rel_app: App,
                                                  pool: str) -> None:
    cluster.start("-P", pool, "-c", "2", expect=2 if pool == "prefork" else 1)
    started = time.monotonic()
    assert ra.cleans_up.delay(10.0).get(timeout=10) == "cleaned up"
    assert time.monotonic() - started < 3.0


@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_a_time_limit_beyond_any_timer_is_no_limit(cluster: Cluster, rel_app: App,
                                                   pool: str) -> None:
    # setitimer overflows near 2**63 s: found by the arbitrary-message property test
    cluster.start("-P", pool, "-c", "1")
    huge = ra.record.apply_async((1,), soft_time_limit=1e300, time_limit=1e300)
    assert huge.get(timeout=10) == 1
    assert ra.record.delay(2).get(timeout=10) == 2  # and the worker goes on


@pytest.mark.parametrize("concurrency", [2, 1])
def test_a_hard_time_limit_kills_and_replaces_the_pool_process(cluster: Cluster, rel_app: App,
                                                               concurrency: int) -> None:
    # Given a prefork worker (one pool process is still a pool) and a task that never ends
    worker = cluster.start("-P", "prefork", "-c", str(concurrency), expect=concurrency)
    before = {c.pid for c in worker.children()}
    # Then it fails with TimeLimitExceeded after about a second
    with pytest.raises(TimeLimitExceeded):
        ra.runaway.delay().get(timeout=10)
    # And its process was replaced, the message settled (not redelivered), work goes on
    wait_until(lambda: len(worker.children()) == concurrency, 10, "a replacement pool process")
    assert {c.pid for c in worker.children()} != before
    assert ra.record.delay(1).get(timeout=10) == 1
    wait_until(lambda: cluster.redis.xpending("flowc:{q:celery}:p0", "workers")["pending"] == 0
               and cluster.redis.xlen("flowc:{q:celery}:p0") == 0, 10, "every message settled")


def test_a_hard_time_limit_in_the_solo_pool_fails_the_task(cluster: Cluster,
                                                           rel_app: App) -> None:
    cluster.start("-P", "solo")
    with pytest.raises(TimeLimitExceeded):
        ra.runaway.delay().get(timeout=10)
    assert ra.record.delay(1).get(timeout=10) == 1


def test_revoke_with_terminate_kills_the_running_task(cluster: Cluster, rel_app: App) -> None:
    # Given a long task running in a prefork pool process
    worker = cluster.start("-P", "prefork", "-c", "2", expect=2)
    result = ra.sleeper.delay(30.0)
    wait_until(lambda: len(cluster.logged("sleeper")) == 1, 10, "the task to start")
    pid = int(cluster.logged("sleeper")[0])
    # When it is revoked with terminate=True
    result.revoke(terminate=True)
    # Then its process is killed, the task is REVOKED, and it is not run again
    with pytest.raises(TaskRevokedError):
        result.get(timeout=5)
    wait_until(lambda: pid not in {c.pid for c in worker.children()}, 5, "the process killed")
    wait_until(lambda: len(worker.children()) == 2, 10, "a replacement pool process")
    assert ra.record.delay(1).get(timeout=10) == 1
    wait_settled(rel_app)
    assert len(cluster.logged("sleeper")) == 1
    assert result.state == "REVOKED"


def test_revoked_queued_and_delayed_tasks_never_run(cluster: Cluster, rel_app: App) -> None:
    delayed = ra.record.apply_async((1,), countdown=1.5)
    queued = ra.record.delay(2)
    delayed.revoke()
    rel_app.control.revoke(queued.id)
    cluster.start("-P", "solo")
    assert ra.record.delay(3).get(timeout=10) == 3
    for r in (delayed, queued):
        with pytest.raises(TaskRevokedError):
            r.get(timeout=5)
    wait_settled(rel_app)  # the delayed one came due (1.5 s) and was discarded
    assert cluster.logged("runs") == ["3"]


def test_reject_without_requeue_dead_letters_with_the_reason(cluster: Cluster,
                                                             rel_app: App) -> None:
    cluster.start("-P", "solo")
    rejected = ra.rejects.delay(False)
    wait_until(lambda: cluster.redis.xlen("flowc:dlq") == 1, 10, "the dead letter")
    [(_, fields)] = cluster.redis.xrange("flowc:dlq")
    assert fields[b"reason"] == b"rejected by task: bad payload"
    assert rejected.id.encode() in fields[b"b"]


def test_reject_with_requeue_runs_the_task_again(cluster: Cluster, rel_app: App) -> None:
    cluster.start("-P", "solo")
    assert ra.rejects.delay(True).get(timeout=10) is None
    assert cluster.redis.get("rel:rejects") == b"2"
    assert cluster.redis.xlen("flowc:dlq") == 0


def test_a_hard_time_limit_cancels_an_async_task_in_the_asyncio_pool(cluster: Cluster,
                                                                    rel_app: App) -> None:
    cluster.start("-P", "asyncio", "-c", "4")
    with pytest.raises(TimeLimitExceeded):
        ra.async_runaway.delay().get(timeout=10)
    assert ra.record.delay(1).get(timeout=10) == 1

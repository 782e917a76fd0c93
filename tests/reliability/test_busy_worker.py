"""A live worker busy in one long C call (holding the GIL, so its heartbeat thread cannot run)
is never declared lost: its pulse process (a prefork pool process's: its supervisor) renews its
heartbeat. A SIGKILLed or frozen one is."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest
import reliability_app as ra
from flowc.runtime.app import App
from flowc.runtime.config import Settings

from tests.reliability.conftest import Cluster
from tests.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.process]


def _hog_runs_once_on_a_live_worker(cluster: Cluster, seconds: float,
                                    *pool: str) -> None:
    # Given two workers, heartbeat TTL 2 s (REL_LOST_AFTER), and a task holding the GIL longer
    busy = cluster.start(*(pool or ("-P", "solo")))
    result = ra.gil_hog.apply_async((seconds,), acks_late=True)
    wait_until(lambda: len(cluster.logged("gil")) == 1, 10, "the task to start", cluster.logs)
    cluster.start("-P", "solo")  # would take the message if the busy worker looked lost
    started = time.monotonic()
    # Then its heartbeat never lapses while the task runs, and the task runs once
    while result.state != "SUCCESS":
        assert time.monotonic() - started < seconds + 30, cluster.logs()
        assert all(cluster.redis.exists(f"flowc:worker:{n.decode()}")
                   for n in cluster.redis.zrange("flowc:workers", 0, -1)), cluster.logs()
        time.sleep(0.1)
    assert result.get(timeout=1) == 1
    ran_in = [str(p.pid) for p in busy.children()] if pool else [str(busy.proc.pid)]
    assert cluster.logged("gil") == ran_in
    assert "lost" not in cluster.logs()


def test_a_worker_holding_the_gil_for_8_seconds_is_not_declared_lost(cluster: Cluster,
                                                                     rel_app: App) -> None:
    _hog_runs_once_on_a_live_worker(cluster, 8.0)


def test_a_pool_process_holding_the_gil_for_8_seconds_is_not_declared_lost(
        cluster: Cluster, rel_app: App) -> None:
    # its pulse is the prefork supervisor: no process of its own
    _hog_runs_once_on_a_live_worker(cluster, 8.0, "-c", "1")


def test_a_frozen_pool_process_looks_lost_although_its_supervisor_lives(
        cluster: Cluster, rel_app: App) -> None:
    # Given a pool process that is stopped (SIGSTOP), its supervisor running
    before = {n.decode() for n in cluster.redis.zrange("flowc:workers", 0, -1)}
    worker = cluster.start("-c", "1")
    name = _consumer_of(cluster, before)
    [child] = worker.children()
    assert child.children() == []  # no pulse process of its own
    child.suspend()
    try:
        # Then the supervisor stops renewing its heartbeat, so its messages can be redelivered
        wait_until(lambda: not cluster.redis.exists(f"flowc:worker:{name}"), 3,
                   "the heartbeat (TTL 2 s) to lapse")
        assert worker.alive
    finally:
        child.resume()


@pytest.mark.chaos
@pytest.mark.skipif(not os.environ.get("FLOWC_CHAOS"), reason="30 s; set FLOWC_CHAOS=1")
def test_a_worker_holding_the_gil_for_30_seconds_is_not_declared_lost(cluster: Cluster,
                                                                      rel_app: App) -> None:
    _hog_runs_once_on_a_live_worker(cluster, 30.0)


def _consumer_of(cluster: Cluster, before: set[str]) -> str:
    """The consumer name the worker started last registered (its zset entry outlives a lapsed
    heartbeat, so a slow test process cannot miss it)."""
    [name] = {n.decode() for n in cluster.redis.zrange("flowc:workers", 0, -1)} - before
    return name


def test_the_pulse_dies_with_its_sigkilled_worker_and_the_heartbeat_lapses(
        cluster: Cluster, rel_app: App) -> None:
    before = {n.decode() for n in cluster.redis.zrange("flowc:workers", 0, -1)}
    victim = cluster.start("-P", "solo")
    name = _consumer_of(cluster, before)
    wait_until(lambda: len(victim.children()) == 1, 5, "the pulse (forked after the first beat)")
    [pulse] = victim.children()
    victim.proc.kill()
    wait_until(lambda: not pulse.is_running() or pulse.status() == psutil.STATUS_ZOMBIE, 2,
             "the pulse to die with its worker")
    wait_until(lambda: not cluster.redis.exists(f"flowc:worker:{name}"), 3,
             "the heartbeat (TTL 2 s) to lapse")


def test_a_frozen_worker_looks_lost_although_its_pulse_lives(cluster: Cluster,
                                                             rel_app: App) -> None:
    # Given a worker whose process is stopped (SIGSTOP: a paused VM, a debugger)
    before = {n.decode() for n in cluster.redis.zrange("flowc:workers", 0, -1)}
    victim = cluster.start("-P", "solo")
    name = _consumer_of(cluster, before)
    victim.proc.send_signal(signal.SIGSTOP)
    try:
        # Then its pulse stops renewing the heartbeat, so its messages can be redelivered
        wait_until(lambda: not cluster.redis.exists(f"flowc:worker:{name}"), 3,
                 "the heartbeat (TTL 2 s) to lapse")
        assert all(p.is_running() for p in victim.children())
    finally:
        victim.proc.send_signal(signal.SIGCONT)


def test_a_killed_workers_late_tasks_are_all_back_within_5_s_with_the_default_settings(
        cluster: Cluster, rel_app: App) -> None:
    # Given the default liveness settings (not the tests' shorter ones)
    defaults = Settings()
    env = {"REL_LOST_AFTER": str(defaults.flowc_worker_lost_after),
           "REL_HEARTBEAT": str(defaults.flowc_heartbeat_interval),
           "REL_REAP": str(defaults.flowc_reap_interval), "REL_PREFETCH": "256"}
    # And a worker that claimed a long task and 200 late-acked ones queued behind it
    ra.sleeper.apply_async((30.0,), acks_late=True)
    results = [ra.record.apply_async((i,), acks_late=True) for i in range(200)]
    victim = cluster.start("-P", "solo", env=env)
    wait_until(lambda: bool(cluster.logged("sleeper")), 10, "the long task", cluster.logs)
    cluster.start("-P", "threads", "-c", "4", env=env)
    # When it is SIGKILLed
    killed = time.monotonic()
    victim.proc.kill()
    # Then all 200 results are back within 5 s
    for result in results:
        result.get(timeout=max(0.1, killed + 10 - time.monotonic()))
    back_s = time.monotonic() - killed
    print(f"200 late-acked tasks of a SIGKILLed worker back in {back_s:.2f} s")
    assert back_s < 5.0

"""A primary SIGKILLed under load (issue 16 item 4): after the sentinels promote a replica,
every task completes. Two shapes: a run of 5,000 late-acked tasks killed mid-publish, and a
chord of 1,000 killed while its header runs (behind Sentinel one primary holds the run's
records and the queue, so the kill takes both). Counts lost tasks, duplicate runs and the
seconds from the kill to the end, and prints them with the replicas' replication offsets at the
kill and which replica the sentinels promoted.

A chaos test (about 20 s a case, not in the default run):
``python -m pytest -m chaos tests/topology/test_failover.py -s`` prints its counts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from flowc.compiler.canvas.primitives import chord
from flowc.runtime.app import App

from tests.runtime.support import unsettled_messages
from tests.topology.servers import MASTER_NAME, SentinelSet, wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.process, pytest.mark.redis]

APPS = Path(__file__).resolve().parent.parent / "apps"
TASKS = 5000
CHORD_SIZE = 1000
WAIT_CASES = pytest.mark.parametrize("wait_replicas", [1, 0], ids=["with-WAIT", "without-WAIT"])


def start_worker(sentinels: SentinelSet, process_reaper: Any, tmp_path: Path, record_url: str,
                 wait_replicas: int) -> None:
    """A late-acking prefork worker (2 processes) that WAITs as the producer does."""
    env = {**os.environ, "FLOWC_BROKER_URL": sentinels.url, "RECORD_URL": record_url,
           "SAMPLE_ACKS_LATE": "1", "SAMPLE_WAIT_REPLICAS": str(wait_replicas),
           "PYTHONUNBUFFERED": "1"}
    with open(tmp_path / "worker.log", "wb") as log:
        process_reaper.spawn([sys.executable, "-m", "flowc", "worker", "-A", "sample_app",
                              "-c", "2"], cwd=str(APPS), env=env, stdout=log,
                             stderr=subprocess.STDOUT)


def producer(sentinels: SentinelSet, wait_replicas: int) -> App:
    if str(APPS) not in sys.path:
        sys.path.insert(0, str(APPS))
    import sample_app

    app = App("sample_app", broker=sentinels.url, flowc_wait_replicas=wait_replicas,
              flowc_wait_timeout_ms=2000)
    for name in ("sample_app.record", "sample_app.record_results"):
        app.task(name=name)(sample_app.app.tasks[name].run)
    return app


class Kill:
    """SIGKILL the primary, note each replica's replication offset right after (what each had
    received when the primary died), wait for the failover and note who was promoted."""

    def __init__(self, sentinels: SentinelSet) -> None:
        self.sentinels = sentinels
        old = sentinels.kill_primary()
        self.at = time.monotonic()
        self.offsets = {port: _offset(port) for port in sentinels.redis_ports if port != old}
        self.promoted = sentinels.wait_for_failover(old)
        self.failover_s = time.monotonic() - self.at

    def describe(self) -> str:
        best = max(self.offsets.values())
        behind = {p: best - o for p, o in self.offsets.items()}
        return (f"failover {self.failover_s:.1f} s; replica offsets at the kill {self.offsets} "
                f"(promoted :{self.promoted}, {behind.get(self.promoted, '?')} bytes behind "
                f"the most advanced replica); failovers in all: {self.failovers()}")

    def failovers(self) -> int:
        """The sentinels' config epoch: one per failover (more than one: the promoted replica
        was itself taken for down under load and replaced, a spurious second failover)."""
        try:
            master: Any = redis.Redis(port=self.sentinels.sentinel_ports[0]).sentinel_master(
                MASTER_NAME)
            return int(master.get("config-epoch", -1))
        except redis.RedisError:
            return -1


def _offset(port: int) -> int:
    try:
        return int(redis.Redis(port=port).info("replication").get("slave_repl_offset", -1))
    except redis.RedisError:
        return -1


@pytest.mark.timeout(600)
@WAIT_CASES
def test_a_primary_killed_mid_publish_of_5000_tasks_loses_none_with_wait(
        two_replica_set: SentinelSet, process_reaper: Any, tmp_path: Path,
        redis_url: str, redis_client: redis.Redis, wait_replicas: int) -> None:
    sentinels = two_replica_set
    start_worker(sentinels, process_reaper, tmp_path, redis_url, wait_replicas)
    app = producer(sentinels, wait_replicas)
    record = app.tasks["sample_app.record"]
    started = time.monotonic()
    kill = None
    for i in range(TASKS):
        record.apply_async((i,), ignore_result=True)
        if i == TASKS // 2:  # mid-publish: the worker is busy and the queue is not empty
            kill = Kill(sentinels)
    assert kill is not None
    try:
        wait_until(lambda: int(redis_client.scard("rec:ids")) >= TASKS, 180,
                   "every task to run")
        wait_until(lambda: unsettled_messages(app) == 0, 60, "every message to be settled")
    finally:
        ran = {int(i) for i in redis_client.smembers("rec:ids")}
        runs = int(redis_client.get("rec:runs") or 0)
        lost = sorted(set(range(TASKS)) - ran)
        print(f"\n5000 tasks, wait_replicas={wait_replicas}: {len(lost)} lost {lost[:10]}, "
              f"{runs - len(ran)} duplicate runs, all done {time.monotonic() - kill.at:.1f} s "
              f"after the kill ({time.monotonic() - started:.1f} s after the first publish); "
              f"{kill.describe()}")
        app.close()


@pytest.mark.timeout(600)
@WAIT_CASES
def test_a_primary_killed_mid_chord_of_1000_runs_its_body_once_with_every_result(
        two_replica_set: SentinelSet, process_reaper: Any, tmp_path: Path,
        redis_url: str, redis_client: redis.Redis, wait_replicas: int) -> None:
    # Given a chord of 1,000 late-acked members whose body records each run and its input
    sentinels = two_replica_set
    start_worker(sentinels, process_reaper, tmp_path, redis_url, wait_replicas)
    app = producer(sentinels, wait_replicas)
    record, body = app.tasks["sample_app.record"], app.tasks["sample_app.record_results"]
    result = chord([record.s(i) for i in range(CHORD_SIZE)], body.s()).delay()
    # When the primary (the run's records and the queue) dies while the header runs
    wait_until(lambda: int(redis_client.scard("rec:ids")) >= CHORD_SIZE // 3, 60,
               "a third of the header to run")
    kill = Kill(sentinels)
    members_at_kill = int(redis_client.scard("rec:ids"))
    try:
        # Then after the failover the body runs, once, with all 1,000 results in order
        assert result.get(timeout=180) == CHORD_SIZE
        wait_until(lambda: unsettled_messages(app) == 0, 60, "every message to be settled")
        assert int(redis_client.get("rec:callbacks") or 0) == 1
        [received] = [json.loads(r) for r in redis_client.lrange("rec:callback_results", 0, -1)]
        assert received == list(range(CHORD_SIZE))
    finally:
        ran = {int(i) for i in redis_client.smembers("rec:ids")}
        runs = int(redis_client.get("rec:runs") or 0)
        print(f"\nchord of {CHORD_SIZE}, wait_replicas={wait_replicas}: killed after "
              f"{members_at_kill} members ran; {CHORD_SIZE - len(ran)} members lost, "
              f"{runs - len(ran)} duplicate member runs, body ran "
              f"{int(redis_client.get('rec:callbacks') or 0)} time(s), done "
              f"{time.monotonic() - kill.at:.1f} s after the kill; {kill.describe()}")
        app.close()

"""A primary SIGKILLed during a run of 5,000 late-acked tasks (issue 16 item 4): after the
sentinels promote its replica, every task completes. Counts lost tasks and duplicate runs.

A chaos test (minutes, not in the default run):
``python -m pytest -m chaos tests/topology/test_failover.py -s`` prints its counts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from flowc.runtime.app import App

from tests.topology.servers import SentinelSet, wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.process, pytest.mark.redis]

APPS = Path(__file__).resolve().parent.parent / "apps"
TASKS = 5000


@pytest.mark.timeout(600)
@pytest.mark.parametrize("wait_replicas", [1, 0], ids=["with-WAIT", "without-WAIT"])
def test_a_primary_killed_mid_run_loses_no_task_with_wait(
        two_replica_set: SentinelSet, process_reaper: Any, tmp_path: Path,
        redis_url: str, redis_client: redis.Redis, wait_replicas: int) -> None:
    sentinels = two_replica_set
    env = {**os.environ, "FLOWC_BROKER_URL": sentinels.url, "RECORD_URL": redis_url,
           "SAMPLE_ACKS_LATE": "1", "PYTHONUNBUFFERED": "1"}
    with open(tmp_path / "worker.log", "wb") as log:
        process_reaper.spawn([sys.executable, "-m", "flowc", "worker", "-A", "sample_app",
                              "-c", "2"], cwd=str(APPS), env=env, stdout=log,
                             stderr=subprocess.STDOUT)
    if str(APPS) not in sys.path:
        sys.path.insert(0, str(APPS))
    app = App("sample_app", broker=sentinels.url, flowc_wait_replicas=wait_replicas,
              flowc_wait_timeout_ms=2000)

    @app.task(name="sample_app.record")
    def record(i: int) -> int:
        return i

    started = time.monotonic()
    killed_at = None
    for i in range(TASKS):
        record.apply_async((i,), ignore_result=True)
        if i == TASKS // 2:  # mid-publish: the worker is busy and the queue is not empty
            old = sentinels.kill_primary()
            killed_at = time.monotonic()
            sentinels.wait_for_failover(old)
    assert killed_at is not None

    def done() -> bool:
        return int(redis_client.scard("rec:ids")) >= TASKS

    try:
        wait_until(done, 180, "every task to run")
    finally:
        ran = int(redis_client.scard("rec:ids"))
        runs = int(redis_client.get("rec:runs") or 0)
        print(f"\nwait_replicas={wait_replicas}: {TASKS - ran} lost, {runs - ran} duplicate "
              f"runs, all done {time.monotonic() - started:.1f} s after the first publish "
              f"({time.monotonic() - killed_at:.1f} s after the kill)")
    app.close()

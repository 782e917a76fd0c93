"""A Redis Cluster primary SIGKILLed while a chord of 1,000 runs (issue 16 item 4): its replica
takes the slots over, and the chord body runs once with every result. Killed: the primary of
the run's slot (its join and records), or of the queue's slot (its messages and claims). No
WAIT: ``flowc_wait_replicas`` is refused on a cluster.

A chaos test (about 30 s a case, not in the default run):
``python -m pytest -m chaos tests/topology/test_cluster_failover.py -s`` prints its counts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flowc.compiler.canvas.primitives import chord
from flowc.runtime.app import App

from tests.conftest import ProcessReaper
from tests.runtime.support import unsettled_messages
from tests.topology.servers import ClusterSet, wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.process, pytest.mark.redis]

APPS = Path(__file__).resolve().parent.parent / "apps"
CHORD_SIZE = 1000


@pytest.fixture
def replicated_cluster(tmp_path: Path) -> Iterator[ClusterSet]:
    """Three primaries with a replica each, for a test that kills one primary."""
    reaper = ProcessReaper()
    try:
        yield ClusterSet(tmp_path, reaper).start(replicas=1)
    finally:
        reaper.reap()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("target", ["run", "queue"])
def test_a_cluster_primary_killed_mid_chord_runs_its_body_once_with_every_result(
        replicated_cluster: ClusterSet, process_reaper: Any, tmp_path: Path, redis_url: str,
        redis_client: redis.Redis, target: str) -> None:
    cluster = replicated_cluster
    env = {**os.environ, "FLOWC_BROKER_URL": cluster.url, "RECORD_URL": redis_url,
           "SAMPLE_ACKS_LATE": "1", "PYTHONUNBUFFERED": "1"}
    with open(tmp_path / "worker.log", "wb") as log:
        process_reaper.spawn([sys.executable, "-m", "flowc", "worker", "-A", "sample_app",
                              "-c", "2"], cwd=str(APPS), env=env, stdout=log,
                             stderr=subprocess.STDOUT)
    if str(APPS) not in sys.path:
        sys.path.insert(0, str(APPS))
    import sample_app

    app = App("sample_app", broker=cluster.url)
    for name in ("sample_app.record", "sample_app.record_results"):
        app.task(name=name)(sample_app.app.tasks[name].run)
    record, body = app.tasks["sample_app.record"], app.tasks["sample_app.record_results"]
    # Given a chord of 1,000 late-acked members whose body records each run and its input
    result = chord([record.s(i) for i in range(CHORD_SIZE)], body.s()).delay()
    key = app.keys.workflow(result.workflow_id)[0] if target == "run" else \
        app.keys.stream("celery", 0)
    # When the primary of the run's (or the queue's) slot dies while the header runs
    wait_until(lambda: int(redis_client.scard("rec:ids")) >= CHORD_SIZE // 3, 60,
               "a third of the header to run")
    old = cluster.primary_of(key)
    cluster.kill(old)
    killed_at = time.monotonic()
    members_at_kill = int(redis_client.scard("rec:ids"))
    new = cluster.wait_for_failover(key, old)
    failover_s = time.monotonic() - killed_at
    try:
        # Then its replica takes over, and the body runs once with all 1,000 results in order
        assert result.get(timeout=180) == CHORD_SIZE
        wait_until(lambda: unsettled_messages(app) == 0, 60, "every message to be settled")
        assert int(redis_client.get("rec:callbacks") or 0) == 1
        [received] = [json.loads(r) for r in redis_client.lrange("rec:callback_results", 0, -1)]
        assert received == list(range(CHORD_SIZE))
    finally:
        ran = {int(i) for i in redis_client.smembers("rec:ids")}
        runs = int(redis_client.get("rec:runs") or 0)
        print(f"\ncluster chord of {CHORD_SIZE}, killed the primary of the {target}'s slot "
              f"(:{old} -> :{new}, {failover_s:.1f} s) after {members_at_kill} members ran: "
              f"{CHORD_SIZE - len(ran)} members lost, {runs - len(ran)} duplicate member runs, "
              f"body ran {int(redis_client.get('rec:callbacks') or 0)} time(s), done "
              f"{time.monotonic() - killed_at:.1f} s after the kill")
        app.close()

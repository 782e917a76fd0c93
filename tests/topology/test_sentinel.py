"""flowc behind Redis Sentinel: clients find the primary through the sentinels and follow a
failover (a primary SIGKILLed, its replica promoted) without a restart."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from flowc.runtime.app import App

from tests.topology.servers import SentinelSet, wait_until

pytestmark = [pytest.mark.process, pytest.mark.redis]

APPS = Path(__file__).resolve().parent.parent / "apps"


def start_worker(process_reaper: Any, url: str, tmp_path: Path, *args: str) -> Any:
    with open(tmp_path / "worker.log", "wb") as log:  # the child keeps its own descriptor
        return process_reaper.spawn(
            [sys.executable, "-m", "flowc", "worker", "-A", "sample_app", "-P", "solo", *args],
            cwd=str(APPS), env={**os.environ, "FLOWC_BROKER_URL": url, "PYTHONUNBUFFERED": "1"},
            stdout=log, stderr=subprocess.STDOUT)


def producer(url: str, **conf: Any) -> App:
    if str(APPS) not in sys.path:
        sys.path.insert(0, str(APPS))
    app = App("sample_app", broker=url, **conf)

    @app.task(name="sample_app.add")
    def add(x: int, y: int) -> int:
        return x + y

    return app


def test_a_task_runs_through_the_primary_the_sentinels_name(
        sentinel_set: SentinelSet, process_reaper: Any, tmp_path: Path) -> None:
    start_worker(process_reaper, sentinel_set.url, tmp_path)
    app = producer(sentinel_set.url)
    app.broker_client.flushdb()
    assert app.tasks["sample_app.add"].delay(2, 3).get(timeout=30) == 5
    primary = sentinel_set.primary_port()
    assert app.broker_client.connection_pool.get_master_address()[1] == primary
    app.close()


def test_worker_and_producer_follow_a_failover(
        fresh_sentinel_set: SentinelSet, process_reaper: Any, tmp_path: Path) -> None:
    sentinel_set = fresh_sentinel_set
    start_worker(process_reaper, sentinel_set.url, tmp_path)
    app = producer(sentinel_set.url)
    add = app.tasks["sample_app.add"]
    assert add.delay(1, 1).get(timeout=30) == 2
    pool = app.broker_client.connection_pool
    conn = pool.get_connection()  # a pooled connection to the primary about to die
    old = sentinel_set.kill_primary()
    new = sentinel_set.wait_for_failover(old)
    assert new != old
    # a dropped connection reconnects to the promoted replica, not to the dead address (inside
    # send_packed_command redis-py's Sentinel connection used to retry that one for ~17 s)
    conn.disconnect()
    started = time.monotonic()
    conn.send_command("PING")
    assert conn.read_response() in (b"PONG", "PONG") and conn.port == new
    assert time.monotonic() - started < 2.0
    pool.release(conn)
    results = [add.delay(i, i) for i in range(20)]  # published to the promoted replica
    assert [r.get(timeout=60) for r in results] == [2 * i for i in range(20)]
    app.close()


def test_a_sentinel_url_without_a_master_name_says_how_to_give_one() -> None:
    from flowc.runtime.redis.connection import connect
    from flowc.runtime.redis.sentinel import SentinelURLError

    with pytest.raises(SentinelURLError, match="master_name"):
        connect("sentinel://127.0.0.1:1")


def test_passwords_in_every_part_of_a_sentinel_url_are_masked() -> None:
    from flowc.runtime.redis.connection import mask_url

    assert mask_url("sentinel://:s3cret@h1:26379;sentinel://:s3cret@h2:26379") == \
        "sentinel://:****@h1:26379;sentinel://:****@h2:26379"


def test_wait_replicas_is_acknowledged_by_the_replica(sentinel_set: SentinelSet) -> None:
    app = producer(sentinel_set.url, flowc_wait_replicas=1, flowc_wait_timeout_ms=5000)
    app.broker.publish([])  # nothing: no WAIT either
    res = app.tasks["sample_app.add"].apply_async((1, 2), countdown=0)
    replica = next(p for p in sentinel_set.redis_ports if p != sentinel_set.primary_port())
    import redis

    wait_until(lambda: redis.Redis(port=replica).exists(*[
        k for k in redis.Redis(port=sentinel_set.primary_port()).keys("flowc:{q:celery}:p*")]),
        5, "the message on the replica")
    assert res.id
    app.close()

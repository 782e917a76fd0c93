"""Retries in real workers (autoretry, backoff, self.retry, giving up), the seed's webhook
task as written, and ``flowc dlq`` inspecting and replaying dead letters."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import reliability_app as ra
from click.testing import CliRunner
from flowc.runtime.app import App

from flowc.cli import main
from flowc.exceptions import MaxRetriesExceededError
from tests.reliability.conftest import Cluster
from tests.waiting import wait_until

SEED_DIR = Path(__file__).resolve().parents[2] / "examples" / "seed"


def test_autoretry_backs_off_exponentially_then_succeeds(cluster: Cluster,
                                                         rel_app: App) -> None:
    cluster.start("-P", "solo")
    assert ra.flaky.delay(2).get(timeout=10) == 3
    times = [float(t) for t in cluster.logged("flaky")]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19  # 0.1 * 2**retries, no jitter


def test_autoretry_gives_up_with_the_original_exception(cluster: Cluster,
                                                        rel_app: App) -> None:
    cluster.start("-P", "solo")
    with pytest.raises(ConnectionError, match="attempt 4"):
        ra.flaky.delay(10).get(timeout=15)
    assert len(cluster.logged("flaky")) == 4  # the first run and max_retries=3 retries


def test_a_retrying_task_shows_retry_then_fails_with_its_exception(cluster: Cluster,
                                                                   rel_app: App) -> None:
    cluster.start("-P", "solo")
    result = ra.gives_up.delay()
    wait_until(lambda: result.state == "RETRY", 5, "the RETRY state")
    assert isinstance(result.info, KeyError)  # the reason for the retry
    with pytest.raises(KeyError, match="still broken"):
        result.get(timeout=10)


def test_self_retry_without_an_exception_ends_in_max_retries_exceeded(
        cluster: Cluster, rel_app: App) -> None:
    cluster.start("-P", "solo")
    with pytest.raises(MaxRetriesExceededError):
        ra.retries_without_exc.delay().get(timeout=10)


def test_the_seed_webhook_task_works_as_written(cluster: Cluster, tmp_path: Path,
                                                process_reaper: object) -> None:
    # Given a worker on the seed's own modules (its app names other URLs: the env wins)
    env = {**os.environ, "FLOWC_BROKER_URL": cluster.server.url,
           "FLOWC_RESULT_BACKEND": cluster.server.url, "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "seed.log"
    with open(log, "wb") as out:
        proc = process_reaper.spawn(  # type: ignore[attr-defined]
            [sys.executable, "-m", "flowc", "worker", "-A", "tasks", "-P", "solo"],
            cwd=str(SEED_DIR), env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_until(lambda: cluster.redis.zcard("flowc:workers") >= 1 or proc.poll() is not None,
             20, "the seed worker", log.read_text)
    seed = App("tasks", broker=cluster.server.url)
    try:
        ok = seed.send_task("tasks.sync_inventory_webhook", ["store-1"])
        bad = seed.send_task("tasks.sync_inventory_webhook", ["missing-store"])
        assert ok.get(timeout=10) == "synced store-1"
        wait_until(lambda: cluster.redis.xlen("flowc:dlq") == 1, 10, "the rejected webhook",
                 log.read_text)
        [(_, fields)] = cluster.redis.xrange("flowc:dlq")
        assert fields[b"reason"] == b"rejected by task: Fatal client syntax error."
        assert bad.id.encode() in fields[b"b"]
    finally:
        seed.close()


def test_flowc_dlq_lists_shows_requeues_and_purges(cluster: Cluster, rel_app: App) -> None:
    # Given two rejected messages in the dead-letter stream
    worker = cluster.start("-P", "solo")
    first, second = ra.rejects.delay(False), ra.rejects.delay(False)
    wait_until(lambda: cluster.redis.xlen("flowc:dlq") == 2, 10, "two dead letters")
    worker.stop()
    runner = CliRunner()
    url = ["--broker", cluster.server.url]
    # list shows both with their task and reason
    listed = runner.invoke(main, ["dlq", *url, "list"])
    assert listed.exit_code == 0, listed.output
    assert "reliability_app.rejects" in listed.output and "bad payload" in listed.output
    assert first.id in listed.output and second.id in listed.output
    # show prints one in full
    [(entry, _), (other, _)] = cluster.redis.xrange("flowc:dlq")
    shown = runner.invoke(main, ["dlq", *url, "show", entry.decode()])
    assert shown.exit_code == 0 and '"task": "reliability_app.rejects"' in shown.output
    # requeue puts it back on its queue; purge deletes the other
    assert "requeued 1" in runner.invoke(main, ["dlq", *url, "requeue", entry.decode()]).output
    assert cluster.redis.xlen("flowc:{q:celery}:p0") == 1
    purged = runner.invoke(main, ["dlq", *url, "purge", "--all", "-f"])
    assert "deleted 1" in purged.output
    assert cluster.redis.xlen("flowc:dlq") == 0
    assert "empty" in runner.invoke(main, ["dlq", *url, "list"]).output
    assert runner.invoke(main, ["dlq", *url, "show", other.decode()]).exit_code != 0

"""A worker whose clock is 5 minutes ahead (libfaketime) still reads due times and expiry on
the Redis server's clock: it neither runs a countdown early nor revokes a live task."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import reliability_app as ra
from flowc.runtime.app import App

from tests.reliability.conftest import Cluster
from tests.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.process]

LIBFAKETIME = next((p for p in (Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"),
                                Path("/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"),
                                Path("/usr/lib/faketime/libfaketime.so.1")) if p.exists()), None)
AHEAD = {"LD_PRELOAD": str(LIBFAKETIME), "FAKETIME": "+5m"}

needs_faketime = pytest.mark.skipif(
    LIBFAKETIME is None or shutil.which("faketime") is None,
    reason="Debian's faketime package is not installed (.ci/run installs it)")


@needs_faketime
def test_a_worker_five_minutes_ahead_does_not_run_a_countdown_early(cluster: Cluster,
                                                                   rel_app: App) -> None:
    # Given a worker whose clock is 5 minutes ahead of the server's
    worker = cluster.start("-P", "solo", env=AHEAD)
    # When a task is sent with countdown=60, and a plain one after it
    sent = time.time()
    ra.record.apply_async((1,), countdown=60)
    ra.record.delay(2)
    wait_until(lambda: "2" in cluster.logged("runs"), 10, "the plain task", cluster.logs)
    # Then after several promotion rounds (every 0.25 s) the countdown task still waits
    wait_until(lambda: time.time() - sent > 2.0, 3, "two seconds")
    assert cluster.logged("runs") == ["2"], worker.log[-2000:]
    assert cluster.redis.zcard(rel_app.keys.delayed("celery")) == 1


@needs_faketime
def test_a_worker_five_minutes_ahead_runs_a_task_that_expires_in_two_minutes(
        cluster: Cluster, rel_app: App) -> None:
    cluster.start("-P", "solo", env=AHEAD)
    result = ra.record.apply_async((7,), expires=120)
    assert result.get(timeout=10) == 7  # not REVOKED as expired
    assert cluster.logged("runs") == ["7"]


@needs_faketime
def test_the_worker_clock_really_is_ahead(tmp_path: Path) -> None:
    """Guards the two tests above: libfaketime does move a Python process's clock."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", "import time; print(time.time())"],
                         env={"LD_PRELOAD": str(LIBFAKETIME), "FAKETIME": "+5m"},
                         capture_output=True, text=True, check=True, timeout=30)
    assert float(out.stdout) - time.time() == pytest.approx(300, abs=10)

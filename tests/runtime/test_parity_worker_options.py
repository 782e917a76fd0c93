"""Celery's worker options in flowc (issue 20): --max-tasks-per-child, --max-memory-per-child,
--autoscale for prefork, -P gevent for many concurrent I/O-bound tasks, -P eventlet refused."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
import redis
from flowc.runtime.app import App

from tests.runtime.parity_support import APPS_DIR, parity_app
from tests.waiting import WorkerProcess, wait_until

Start = Callable[..., WorkerProcess]


def pids_of_sequential_tasks(count: int) -> list[int]:
    return [parity_app.pid.delay().get(timeout=15) for _ in range(count)]


def test_max_tasks_per_child_replaces_the_process(start_worker: Start, papp: App) -> None:
    worker = start_worker("-P", "prefork", "-c", "1", "--max-tasks-per-child", "2",
                          module="parity_app")
    pids = pids_of_sequential_tasks(6)
    assert [len(set(pids[i:i + 2])) for i in (0, 2, 4)] == [1, 1, 1]
    assert len(set(pids)) == 3  # a new process every two tasks
    assert worker.stop() == 0
    assert "exited with" not in worker.log  # a recycled process is not a crash


def test_max_tasks_per_child_setting_works_like_the_option(start_worker: Start, papp: App,
                                                           redis_url: str) -> None:
    start_worker("-P", "prefork", "-c", "1", module="parity_app",
                 env={"PARITY_MAX_TASKS": "1"})
    pids = pids_of_sequential_tasks(3)
    assert len(set(pids)) == 3


def test_max_memory_per_child_replaces_a_process_above_the_limit(start_worker: Start,
                                                                 papp: App) -> None:
    # any Python process is above 1000 KiB: every task leaves its process to be replaced
    start_worker("-P", "prefork", "-c", "1", "--max-memory-per-child", "1000",
                 module="parity_app")
    pids = pids_of_sequential_tasks(3)
    assert len(set(pids)) == 3


def test_autoscale_grows_to_max_while_messages_wait(start_worker: Start, papp: App,
                                                   redis_client: redis.Redis) -> None:
    start_worker("-P", "prefork", "--autoscale", "3,1", module="parity_app", expect=1)
    assert redis_client.zcard("flowc:workers") == 1
    held = [parity_app.hold.delay() for _ in range(6)]
    wait_until(lambda: redis_client.zcard("flowc:workers") >= 3, 20,
               "the pool to grow to 3 processes")
    for result in held:
        redis_client.rpush(f"parity:go:{result.id}", 1)
    assert len({r.get(timeout=15) for r in held}) >= 2
    assert redis_client.zcard("flowc:workers") == 3  # never above max


def test_gevent_pool_runs_hundreds_of_io_tasks_at_once(start_worker: Start, papp: App) -> None:
    start_worker("-P", "gevent", "-c", "300", module="parity_app")
    started = time.monotonic()
    results = [parity_app.io_wait.delay(2.0) for _ in range(300)]
    assert [r.get(timeout=30) for r in results] == [2.0] * 300
    assert time.monotonic() - started < 12  # 300 two-second waits overlapped (serially: 600 s)


@pytest.mark.parametrize("args", [["-P", "threads", "--autoscale", "4,2"],
                                  ["-P", "prefork", "--autoscale", "2,5"]])
def test_bad_worker_option_combinations_are_usage_errors(redis_url: str,
                                                         args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "flowc", "worker", "-A", "parity_app", *args],
                          cwd=str(APPS_DIR), env={**os.environ, "FLOWC_BROKER_URL": redis_url},
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--autoscale" in proc.stderr


def test_eventlet_is_refused_in_one_line_pointing_to_gevent(redis_url: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "flowc", "worker", "-A", "parity_app",
                           "-P", "eventlet"], cwd=str(APPS_DIR),
                          env={**os.environ, "FLOWC_BROKER_URL": redis_url},
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "-P gevent" in proc.stderr

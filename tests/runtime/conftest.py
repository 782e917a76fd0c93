"""Fixtures for runtime tests: an App on the test Redis, and real worker subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flowc.runtime.app import App

APPS_DIR = Path(__file__).resolve().parent.parent / "apps"


@pytest.fixture
def app(redis_url: str, redis_client: redis.Redis) -> Iterator[App]:
    """An App on the (flushed) test database."""
    application = App("t", broker=redis_url)
    yield application
    application.close()


@pytest.fixture(params=["join", "worker"])
def publish_mode(request: pytest.FixtureRequest) -> str:
    """Both ways a workflow step made ready reaches its queue: enqueued by the atomic join
    (Redis single node) or published by the worker after the join (the path of a backend whose
    join cannot enqueue), forced by ``flowc_workflow_publish``. Workflow tests that take this
    fixture run once per way."""
    return str(request.param)


class WorkerProcess:
    """A real ``flowc worker`` subprocess; ``stop()`` sends SIGTERM and waits."""

    def __init__(self, proc: subprocess.Popen[bytes], log_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path

    @property
    def log(self) -> str:
        """Everything the worker printed so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Signal the worker and wait for it to exit; returns its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


@pytest.fixture
def start_worker(redis_url: str, redis_client: redis.Redis, process_reaper: Any,
                 tmp_path: Path) -> Callable[..., WorkerProcess]:
    """Start ``flowc worker -A sample_app`` (or another module) and wait until it beats."""

    def start(*args: str, module: str = "sample_app", env: dict[str, str] | None = None,
              cwd: Path = APPS_DIR, expect: int = 1, timeout: float = 20.0,
              popen: dict[str, Any] | None = None) -> WorkerProcess:
        log_path = tmp_path / f"worker-{time.monotonic_ns()}.log"
        full_env = {**os.environ, "FLOWC_BROKER_URL": redis_url, "PYTHONUNBUFFERED": "1",
                    **(env or {})}
        full_env.pop("FLOWC_RESULT_BACKEND", None)
        before = redis_client.zcard("flowc:workers")
        with open(log_path, "wb") as out:
            proc = process_reaper.spawn(
                [sys.executable, "-m", "flowc", "worker", "-A", module, *args],
                cwd=str(cwd), env=full_env, stdout=out, stderr=subprocess.STDOUT,
                **(popen or {}))
        worker = WorkerProcess(proc, log_path)
        deadline = time.monotonic() + timeout
        while redis_client.zcard("flowc:workers") < before + expect:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker did not start:\n{worker.log}")
            time.sleep(0.05)
        return worker

    return start


@pytest.fixture
def client_app(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> App:
    """``tests/apps/sample_app``'s App, pointed at the test database, as the producer side."""
    if str(APPS_DIR) not in sys.path:
        sys.path.insert(0, str(APPS_DIR))
    import sample_app

    monkeypatch.setenv("FLOWC_BROKER_URL", redis_url)
    sample_app.app.close()
    for name in ("broker_url", "backend_url"):
        sample_app.app.__dict__.pop(name, None)
    return sample_app.app

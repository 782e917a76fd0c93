"""Fixtures for reliability tests: a private Redis the test may restart, and real workers.

Each test gets its own ``redis-server`` (from ``embedded_server_factory``) so it can kill
workers, restart the server, and count exactly what ran, without touching other tests' data.
Workers run ``tests/apps/reliability_app.py`` with a short redelivery window (``REL_*``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis
from flowc.runtime.app import App
from flowc.runtime.redis.connection import connect
from flowc.runtime.redis.embedded import EmbeddedServer

APPS_DIR = Path(__file__).resolve().parent.parent / "apps"
sys.path.insert(0, str(APPS_DIR))
import reliability_app  # noqa: E402

from tests.runtime.conftest import WorkerProcess  # noqa: E402


class Worker(WorkerProcess):
    """One ``flowc worker -A reliability_app`` subprocess."""

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc.poll() is None

    def children(self) -> list[psutil.Process]:
        """Its pool processes (prefork)."""
        try:
            return psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            return []


class Cluster:
    """Starts workers against one private server and reads what the tasks recorded."""

    def __init__(self, server: EmbeddedServer, reaper: Any, tmp_path: Path) -> None:
        self.server = server
        self.reaper = reaper
        self.tmp_path = tmp_path
        self.redis = connect(server.url)
        self.workers: list[Worker] = []

    def live_consumers(self) -> set[str]:
        """Names of consumer processes with a heartbeat."""
        return {n.decode() for n in self.redis.zrange("flowc:workers", 0, -1)
                if self.redis.exists(f"flowc:worker:{n.decode()}")}

    def start(self, *args: str, env: dict[str, str] | None = None, expect: int = 1,
              timeout: float = 20.0) -> Worker:
        """Start a worker and wait until ``expect`` new consumer processes beat (0: no wait)."""
        log_path = self.tmp_path / f"worker-{time.monotonic_ns()}.log"
        full_env = {**os.environ, "FLOWC_BROKER_URL": self.server.url, "PYTHONUNBUFFERED": "1",
                    **(env or {})}
        full_env.pop("FLOWC_RESULT_BACKEND", None)
        before = self.live_consumers()
        with open(log_path, "wb") as out:
            proc = self.reaper.spawn(
                [sys.executable, "-m", "flowc", "worker", "-A", "reliability_app",
                 "-l", "INFO", *args],
                cwd=str(APPS_DIR), env=full_env, stdout=out, stderr=subprocess.STDOUT)
        worker = Worker(proc, log_path)
        self.workers.append(worker)
        deadline = time.monotonic() + timeout
        while len(self.live_consumers() - before) < expect:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker did not start:\n{worker.log}")
            time.sleep(0.05)
        return worker

    def logged(self, key: str) -> list[str]:
        """What tasks appended to ``rel:<key>``."""
        return [v.decode() for v in self.redis.lrange(f"rel:{key}", 0, -1)]

    def logs(self) -> str:
        """Every worker's output (for assertion messages)."""
        return "\n".join(w.log[-4000:] for w in self.workers)


@pytest.fixture
def cluster(embedded_server_factory: Callable[..., EmbeddedServer], process_reaper: Any,
            tmp_path: Path) -> Iterator[Cluster]:
    """A private server (AOF on, so it may be restarted) and a way to start workers on it."""
    server = embedded_server_factory(appendonly=True)
    c = Cluster(server, process_reaper, tmp_path)
    yield c
    for worker in c.workers:
        if worker.alive:
            worker.proc.kill()
    c.redis.close()


@pytest.fixture
def rel_app(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    """``reliability_app.app`` as the producer, pointed at the cluster's server."""
    monkeypatch.setenv("FLOWC_BROKER_URL", cluster.server.url)
    app = reliability_app.app
    app.close()
    for name in ("broker_url", "backend_url"):
        app.__dict__.pop(name, None)
    yield app
    app.close()
    for name in ("broker_url", "backend_url"):
        app.__dict__.pop(name, None)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str,
             logs: Callable[[], str] | None = None) -> None:
    """Poll ``predicate`` until true or fail saying ``what`` did not happen."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" +
                                 (f"\n{logs()}" if logs else ""))
        time.sleep(0.05)


def redis_of(cluster: Cluster) -> redis.Redis:
    """The cluster's client (typed helper for tests)."""
    return cluster.redis

"""Fixtures for reliability tests: a private Redis the test may restart, and real workers.

Each test gets its own ``redis-server`` (from ``embedded_server_factory``) so it can kill
workers, restart the server, and count exactly what ran, without touching other tests' data.
Workers run ``tests/apps/reliability_app.py`` with a short redelivery window (``REL_*``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flowc.runtime.app import App
from flowc.runtime.redis.connection import connect
from flowc.runtime.redis.embedded import EmbeddedServer

APPS_DIR = Path(__file__).resolve().parent.parent / "apps"
sys.path.insert(0, str(APPS_DIR))
import reliability_app  # noqa: E402

from tests.waiting import WorkerProcess, spawn_worker  # noqa: E402


class Cluster:
    """Starts workers against one private server and reads what the tasks recorded."""

    def __init__(self, server: EmbeddedServer, reaper: Any, tmp_path: Path) -> None:
        self.server = server
        self.reaper = reaper
        self.tmp_path = tmp_path
        self.redis = connect(server.url)
        self.workers: list[WorkerProcess] = []

    def live_consumers(self) -> set[str]:
        """Names of consumer processes with a heartbeat."""
        return {n.decode() for n in self.redis.zrange("flowc:workers", 0, -1)
                if self.redis.exists(f"flowc:worker:{n.decode()}")}

    def start(self, *args: str, env: dict[str, str] | None = None, expect: int = 1,
              timeout: float = 20.0, broker_url: str | None = None) -> WorkerProcess:
        """Start a worker and wait until ``expect`` new consumer processes beat (0: no wait);
        ``broker_url``: reach the server another way (through a ``tests.faults`` proxy)."""
        before = self.live_consumers()
        worker = spawn_worker(
            self.reaper, "reliability_app", ["-l", "INFO", *args],
            broker_url=broker_url or self.server.url,
            cwd=APPS_DIR, log_dir=self.tmp_path, env=env, timeout=timeout,
            ready=lambda: len(self.live_consumers() - before) >= expect)
        self.workers.append(worker)
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


def redis_of(cluster: Cluster) -> redis.Redis:
    """The cluster's client (typed helper for tests)."""
    return cluster.redis

"""Fixtures for the dashboard and monitoring tests: a real worker with events, a live server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from flowc.runtime.app import App

APPS_DIR = Path(__file__).resolve().parent / "apps"
TOKEN = "test-token-0123456789"


@pytest.fixture
def monitor_app(redis_url: str, redis_client: redis.Redis,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    """The ``monitor_app`` tasks module's App, on the (flushed) test database."""
    monkeypatch.setenv("FLOWC_BROKER_URL", redis_url)
    monkeypatch.syspath_prepend(str(APPS_DIR))
    import monitor_app

    app: App = monitor_app.app
    app.close()
    for name in ("broker_url", "backend_url", "keys"):
        app.__dict__.pop(name, None)
    yield app
    app.close()


def control_channel(client: redis.Redis) -> str:
    """The control channel workers on ``client``'s database subscribe to."""
    from flowc.runtime.redis.keys import Keys

    return Keys().control_channel(int(client.connection_pool.connection_kwargs.get("db", 0)))


@pytest.fixture
def start_monitored_worker(redis_url: str, redis_client: redis.Redis, process_reaper: Any,
                           tmp_path: Path) -> Callable[..., subprocess.Popen[bytes]]:
    """Start ``flowc worker -A monitor_app -E`` and wait until it answers a ping."""

    def start(*args: str, events: bool = True, timeout: float = 20.0) -> subprocess.Popen[bytes]:
        log_path = tmp_path / f"worker-{time.monotonic_ns()}.log"
        env = {**os.environ, "FLOWC_BROKER_URL": redis_url, "PYTHONUNBUFFERED": "1"}
        env.pop("FLOWC_RESULT_BACKEND", None)
        before = redis_client.zcard("flowc:workers")
        with open(log_path, "wb") as out:
            proc: subprocess.Popen[bytes] = process_reaper.spawn(
                [sys.executable, "-m", "flowc", "worker", "-A", "monitor_app", "-q",
                 *(["-E"] if events else []), *args],
                cwd=str(APPS_DIR), env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while redis_client.zcard("flowc:workers") <= before or \
                redis_client.pubsub_numsub(control_channel(redis_client))[0][1] < 1:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker did not start:\n{log_path.read_text()}")
            time.sleep(0.05)
        return proc

    return start


@dataclass
class Server:
    """A dashboard served by uvicorn on a thread."""

    url: str
    web: Any
    server: Any
    thread: threading.Thread

    @property
    def dashboard(self) -> Any:
        """The ``Dashboard`` shared state."""
        return self.web.state.dashboard


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def serve_dashboard() -> Iterator[Callable[..., Server]]:
    """``serve_dashboard(app, auth)`` starts a dashboard; all are stopped at teardown."""
    import uvicorn
    from flowc.runtime.dashboard.app import create_app

    servers: list[Server] = []

    def serve(app: App, auth: Any, **kwargs: Any) -> Server:
        web = create_app(app, auth, **kwargs)
        port = _free_port()
        config = uvicorn.Config(web, host="127.0.0.1", port=port, log_level="warning",
                                access_log=False, lifespan="on")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:
                raise AssertionError("the dashboard did not start")
            time.sleep(0.02)
        web.state.dashboard.feed.ready.wait(10)
        found = Server(f"http://127.0.0.1:{port}", web, server, thread)
        servers.append(found)
        return found

    yield serve
    for s in servers:
        s.server.should_exit = True
        s.thread.join(10)


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)

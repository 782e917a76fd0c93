"""Fixtures for the dashboard and monitoring tests: a real worker with events, a live server."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from flowc.runtime.app import App

from tests.waiting import spawn_worker, wait_until

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
        before = redis_client.zcard("flowc:workers")
        worker = spawn_worker(
            process_reaper, "monitor_app", ["-q", *(["-E"] if events else []), *args],
            broker_url=redis_url, cwd=APPS_DIR, log_dir=tmp_path, timeout=timeout,
            ready=lambda: redis_client.zcard("flowc:workers") > before
            and redis_client.pubsub_numsub(control_channel(redis_client))[0][1] >= 1)
        return worker.proc

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
        wait_until(lambda: server.started, 10, "the dashboard to start")
        web.state.dashboard.feed.ready.wait(10)
        found = Server(f"http://127.0.0.1:{port}", web, server, thread)
        servers.append(found)
        return found

    yield serve
    for s in servers:
        s.server.should_exit = True
        s.thread.join(10)

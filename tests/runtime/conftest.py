"""Fixtures for runtime tests: an App on the test Redis, and real worker subprocesses."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flowc.runtime.app import App

from tests.waiting import WorkerProcess, spawn_worker

APPS_DIR = Path(__file__).resolve().parent.parent / "apps"


@pytest.fixture
def app(redis_url: str, redis_client: redis.Redis) -> Iterator[App]:
    """An App on the (flushed) test database."""
    application = App("t", broker=redis_url)
    yield application
    application.close()


@pytest.fixture(params=["join", "worker", "rabbitmq+postgresql"])
def publish_mode(request: pytest.FixtureRequest) -> str:
    """Both ways a workflow step made ready reaches its queue: enqueued by the atomic join
    (Redis single node) or published by the worker after the join (the path of a backend whose
    join cannot enqueue), forced by ``flowc_workflow_publish``; and the second way on RabbitMQ
    with the PostgreSQL join (``support.use_publish_mode``). Workflow tests that take this
    fixture run once per way."""
    return str(request.param)


@pytest.fixture
def start_worker(redis_url: str, redis_client: redis.Redis, process_reaper: Any,
                 tmp_path: Path) -> Callable[..., WorkerProcess]:
    """Start ``flowc worker -A sample_app`` (or another module) and wait until it beats."""

    def start(*args: str, module: str = "sample_app", env: dict[str, str] | None = None,
              cwd: Path = APPS_DIR, expect: int = 1, timeout: float = 20.0,
              popen: dict[str, Any] | None = None) -> WorkerProcess:
        before = redis_client.zcard("flowc:workers")
        return spawn_worker(process_reaper, module, args, broker_url=redis_url, cwd=cwd,
                            log_dir=tmp_path, env=env, popen=popen, timeout=timeout,
                            ready=lambda: redis_client.zcard("flowc:workers") >= before + expect)

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


@pytest.fixture
def papp(redis_url: str, redis_client: redis.Redis,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    """``tests/apps/parity_app``'s App on the test database, as the producer side."""
    from tests.runtime.parity_support import parity_app

    monkeypatch.setenv("FLOWC_BROKER_URL", redis_url)
    parity_app.app.close()
    for name in ("broker_url", "backend_url"):
        parity_app.app.__dict__.pop(name, None)
    yield parity_app.app
    parity_app.app.close()

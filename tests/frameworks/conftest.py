"""A real ``flowc worker`` per module for the framework recipes (examples/django_project,
examples/fastapi_app), on the session's test Redis."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest
import redis

from tests.conftest import ProcessReaper
from tests.waiting import WorkerProcess, spawn_worker

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def module_worker(redis_url: str, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[Callable[..., WorkerProcess]]:
    """``start(module, args, cwd=, env=)``: a worker for the whole module, up once it beats;
    stopped (and reaped) after the module's last test."""
    reaper = ProcessReaper()
    client = redis.Redis.from_url(redis_url)
    workers: list[WorkerProcess] = []

    def start(module: str, args: Sequence[str], *, cwd: Path,
              env: Mapping[str, str] | None = None) -> WorkerProcess:
        before = client.zcard("flowc:workers")
        worker = spawn_worker(reaper, module, args, broker_url=redis_url, cwd=cwd,
                              log_dir=tmp_path_factory.mktemp("worker"), env=env,
                              ready=lambda: client.zcard("flowc:workers") > before)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        with contextlib.suppress(Exception):
            worker.stop()
    reaper.reap()
    client.close()

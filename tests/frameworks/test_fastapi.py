"""The FastAPI recipe (docs/frameworks.md): examples/fastapi_app served by uvicorn, called
with httpx, with a real threads-pool worker running the tasks; all three on the test Redis."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ProcessReaper
from tests.frameworks.conftest import ROOT
from tests.waiting import WorkerProcess, wait_until

pytest.importorskip("fastapi")  # in the dev extra

LISTENING = re.compile(r"Uvicorn running on (http://\S+)")


@pytest.fixture(scope="module")
def worker(module_worker: Callable[..., WorkerProcess], redis_url: str) -> WorkerProcess:
    """``flowc worker -A examples.fastapi_app.tasks -P threads``, from the repository root."""
    return module_worker("examples.fastapi_app.tasks", ["-P", "threads", "-c", "2"], cwd=ROOT,
                         env={"REDIS_URL": redis_url})


@pytest.fixture(scope="module")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``uvicorn examples.fastapi_app.main:api`` on a free port; yields its base URL."""
    log = tmp_path_factory.mktemp("uvicorn") / "uvicorn.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWC_")}
    env.update(FLOWC_BROKER_URL=redis_url, REDIS_URL=redis_url, PYTHONUNBUFFERED="1")
    reaper = ProcessReaper()
    with open(log, "wb") as out:
        proc = reaper.spawn([sys.executable, "-m", "uvicorn", "examples.fastapi_app.main:api",
                             "--host", "127.0.0.1", "--port", "0"], cwd=ROOT, env=env,
                            stdout=out, stderr=subprocess.STDOUT)
    try:
        found = wait_until(lambda: proc.poll() is not None or LISTENING.search(log.read_text()),
                           20, "uvicorn to listen", log.read_text)
        assert proc.poll() is None, log.read_text()
        yield found.group(1)
        proc.terminate()
        proc.wait(10)
    finally:
        reaper.reap()


@pytest.fixture
def client(server: str, worker: WorkerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=10) as http:
        yield http


def settled(client: httpx.Client, task_id: str) -> dict[str, Any]:
    """``GET /tasks/{id}`` once the task has finished."""
    def finished() -> dict[str, Any] | None:
        status: dict[str, Any] = client.get(f"/tasks/{task_id}").json()
        return status if status["state"] in ("SUCCESS", "FAILURE") else None

    return wait_until(finished, 10, f"task {task_id} to finish")


def test_post_starts_a_task_and_get_reports_its_result(client: httpx.Client) -> None:
    started = client.post("/add", json={"x": 2, "y": 3})
    assert started.status_code == 202
    status = settled(client, started.json()["task_id"])
    assert status["state"] == "SUCCESS" and status["result"] == 5


def test_a_failed_task_reports_its_error(client: httpx.Client) -> None:
    started = client.post("/divide", json={"x": 1, "y": 0})
    status = settled(client, started.json()["task_id"])
    assert status["state"] == "FAILURE" and "ZeroDivisionError" in status["error"]


def test_an_unknown_task_id_is_pending(client: httpx.Client) -> None:
    assert client.get("/tasks/no-such-task").json() == {"task_id": "no-such-task",
                                                         "state": "PENDING"}

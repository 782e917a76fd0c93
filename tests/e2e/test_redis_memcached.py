"""A real ``flowc worker`` on a Redis broker with Memcached results: a result comes back, a
failure's exception round-trips, results expire, an oversized result is a clear error, and a
workflow is refused at submit. One test runs the worker on RabbitMQ with Memcached results."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flowc.compiler.canvas.primitives import chain
from flowc.runtime.exceptions import ResultTooLarge, WorkflowsUnsupported
from flowc.runtime.memcached.backend import MemcachedResultBackend
from flowc.runtime.memcached.join import REFUSAL
from flowc.runtime.result import AsyncResult

from tests.transports import empty_memcached, empty_vhost
from tests.waiting import wait_until

APPS_DIR = Path(__file__).resolve().parent.parent / "apps"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(APPS_DIR))
import sample_app  # noqa: E402

pytestmark = [pytest.mark.memcached, pytest.mark.redis, pytest.mark.process]

Start = Callable[..., subprocess.Popen[bytes]]
RESULT_EXPIRES_S = 2


@pytest.fixture
def broker_kind() -> str:
    """The broker of a test's worker: "redis" unless the test is parametrized otherwise."""
    return "redis"


@pytest.fixture
def transports(memcached_url: str, redis_url: str, redis_client: redis.Redis,
               monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
               broker_kind: str) -> Iterator[dict[str, str]]:
    """An emptied memcached; the environment that selects Redis (or, for a test parametrized
    with ``broker_kind`` "rabbitmq", RabbitMQ with the Redis for coordination) + Memcached."""
    empty_memcached(memcached_url)
    env = {"FLOWC_BROKER_URL": redis_url, "FLOWC_RESULT_BACKEND": memcached_url}
    if broker_kind == "rabbitmq":
        amqp_url: str = request.getfixturevalue("amqp_url")
        empty_vhost(amqp_url, ["celery"])
        env.update(FLOWC_BROKER_URL=amqp_url, FLOWC_COORDINATION_URL=redis_url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    sample_app.app.close()
    for name in ("broker_url", "backend_url", "coordination_url", "broker_client", "coordination"):
        sample_app.app.__dict__.pop(name, None)
    yield env
    sample_app.app.close()


@pytest.fixture
def start_worker(transports: dict[str, str], redis_client: redis.Redis, process_reaper: Any,
                 tmp_path: Path) -> Start:
    """Start ``flowc worker -A sample_app`` on the transports and wait until it beats."""

    def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log_path = tmp_path / f"worker-{time.monotonic_ns()}.log"
        before = redis_client.zcard("flowc:workers")
        with open(log_path, "wb") as out:
            proc: subprocess.Popen[bytes] = process_reaper.spawn(
                [sys.executable, "-m", "flowc", "worker", "-A", "sample_app", *args],
                cwd=str(APPS_DIR), env={**os.environ, **transports, "PYTHONUNBUFFERED": "1",
                                        **(env or {})},
                stdout=out, stderr=subprocess.STDOUT)
        wait_until(lambda: redis_client.zcard("flowc:workers") > before or
                   proc.poll() is not None, 30, "the worker's first heartbeat")
        assert proc.poll() is None, f"worker exited:\n{log_path.read_text()}"
        return proc

    return start


def test_the_app_stores_results_in_memcached(transports: dict[str, str]) -> None:
    assert isinstance(sample_app.app.backend, MemcachedResultBackend)


def test_a_task_result_comes_back_through_memcached(start_worker: Start) -> None:
    start_worker("-P", "solo")
    assert sample_app.add.delay(2, 3).get(timeout=20) == 5


def test_a_failed_tasks_own_exception_is_raised_by_get(start_worker: Start) -> None:
    start_worker("-P", "prefork", "-c", "1")
    result = sample_app.fail_custom.delay("broken")
    with pytest.raises(sample_app.CustomError, match="broken"):
        result.get(timeout=20)
    assert result.state == "FAILURE"


def test_a_result_is_gone_after_result_expires(start_worker: Start) -> None:
    start_worker("-P", "solo", env={"SAMPLE_RESULT_EXPIRES": str(RESULT_EXPIRES_S)})
    result = sample_app.add.delay(1, 1)
    assert result.get(timeout=20) == 2
    wait_until(lambda: AsyncResult(result.id, sample_app.app).state == "PENDING",
               RESULT_EXPIRES_S + 10, "the result to expire")


def test_a_result_over_memcacheds_item_limit_is_an_error_saying_so(
        start_worker: Start) -> None:
    start_worker("-P", "solo")
    with pytest.raises(ResultTooLarge, match="item limit"):
        sample_app.sized.delay(2 << 20).get(timeout=20)


def test_a_workflow_is_refused_at_submit_and_nothing_is_queued(
        start_worker: Start) -> None:
    start_worker("-P", "solo")
    with pytest.raises(WorkflowsUnsupported) as refused:
        chain(sample_app.add.s(1, 2), sample_app.add.s(3)).apply_async()
    assert str(refused.value) == REFUSAL
    assert sample_app.app.broker.depth("celery") == {"ready": 0, "delayed": 0}


def test_flowc_run_refuses_a_flow_in_one_line_before_starting_any_worker(
        transports: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flowc", "run", str(EXAMPLES / "etl.flow"), "--param",
         "path=data.csv"], env={**os.environ, **transports}, capture_output=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.decode().splitlines() == [f"Error: {REFUSAL}"]
    assert done.stdout == b""


@pytest.mark.amqp
@pytest.mark.parametrize("broker_kind", ["rabbitmq"])
def test_a_task_result_comes_back_through_memcached_on_a_rabbitmq_broker(
        start_worker: Start) -> None:
    start_worker("-P", "solo")
    assert sample_app.add.delay(2, 3).get(timeout=20) == 5
    with pytest.raises(sample_app.CustomError, match="broken"):
        sample_app.fail_custom.delay("broken").get(timeout=20)

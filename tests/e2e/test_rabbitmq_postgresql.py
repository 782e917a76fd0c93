"""A real ``flowc worker`` on RabbitMQ with PostgreSQL results: tasks, chains, chords, failures
and a killed worker's task run again.

Coordination (heartbeats, revocations, remote control) is kept in Redis here with
``FLOWC_COORDINATION_URL`` (the session's test database); ``test_no_redis.py`` runs the same
deployment with coordination in PostgreSQL and no Redis at all.
"""

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
from flowc.compiler.canvas.primitives import chain, chord
from flowc.runtime.amqp.broker import AmqpBroker
from flowc.runtime.app import App
from flowc.runtime.sql.backend import PgResultBackend
from flowc.runtime.sql.join import PgWorkflowJoin

from tests.transports import empty_schema, empty_vhost

APPS_DIR = Path(__file__).resolve().parent.parent / "apps"
sys.path.insert(0, str(APPS_DIR))
import sample_app  # noqa: E402

pytestmark = [pytest.mark.amqp, pytest.mark.postgresql, pytest.mark.redis,
              pytest.mark.process]

Start = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def transports(amqp_url: str, pg_url: str, redis_url: str, redis_client: redis.Redis,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Emptied RabbitMQ queues and PostgreSQL tables; the environment that selects them."""
    empty_vhost(amqp_url, ["celery"])
    empty_schema(pg_url)
    env = {"FLOWC_BROKER_URL": amqp_url, "FLOWC_RESULT_BACKEND": pg_url,
           "FLOWC_COORDINATION_URL": redis_url}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    sample_app.app.close()
    for name in ("broker_url", "backend_url", "coordination_url"):
        sample_app.app.__dict__.pop(name, None)
    yield env
    sample_app.app.close()


@pytest.fixture
def start_worker(transports: dict[str, str], redis_client: redis.Redis, process_reaper: Any,
                 tmp_path: Path) -> Start:
    """Start ``flowc worker -A sample_app`` on the transports and wait until it beats."""

    def start(*args: str, env: dict[str, str] | None = None, expect: int = 1
              ) -> subprocess.Popen[bytes]:
        log_path = tmp_path / f"worker-{time.monotonic_ns()}.log"
        before = redis_client.zcard("flowc:workers")
        with open(log_path, "wb") as out:
            proc: subprocess.Popen[bytes] = process_reaper.spawn(
                [sys.executable, "-m", "flowc", "worker", "-A", "sample_app", *args],
                cwd=str(APPS_DIR), env={**os.environ, **transports, "PYTHONUNBUFFERED": "1",
                                        **(env or {})},
                stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while redis_client.zcard("flowc:workers") < before + expect:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker did not start:\n{log_path.read_text()}")
            time.sleep(0.05)
        return proc

    return start


def test_the_app_picks_the_adapters_by_url_scheme(transports: dict[str, str]) -> None:
    app = App("t", broker=transports["FLOWC_BROKER_URL"],
              backend=transports["FLOWC_RESULT_BACKEND"])
    try:
        assert isinstance(app.broker, AmqpBroker)
        assert isinstance(app.backend, PgResultBackend)
        assert isinstance(app.workflow_join, PgWorkflowJoin)
        assert type(app.settlement).__name__ == "PortSettlement"
    finally:
        app.close()


def test_a_task_result_comes_back_through_postgresql(start_worker: Start) -> None:
    start_worker("-P", "solo")
    assert sample_app.add.delay(2, 3).get(timeout=20) == 5


def test_a_chain_passes_each_result_to_the_next_step(start_worker: Start) -> None:
    start_worker("-P", "prefork", "-c", "2", expect=2)
    steps = chain(sample_app.add.s(1, 2), *[sample_app.add.s(10) for _ in range(5)])
    assert steps.apply_async().get(timeout=30) == 53


def test_a_chord_body_gets_every_header_result(start_worker: Start) -> None:
    start_worker("-P", "prefork", "-c", "2", expect=2)
    run = chord([sample_app.add.s(i, i) for i in range(20)], sample_app.identity.s())
    assert run.apply_async().get(timeout=30) == [2 * i for i in range(20)]


def test_a_failing_step_fails_the_chain_with_its_own_error(start_worker: Start) -> None:
    start_worker("-P", "solo")
    steps = chain(sample_app.add.s(1, 2), sample_app.fail_custom.si("broken"),
                  sample_app.add.s(1))
    with pytest.raises(sample_app.CustomError, match="broken"):
        steps.apply_async().get(timeout=20)


def test_a_countdown_task_runs_after_its_delay(start_worker: Start) -> None:
    start_worker("-P", "solo")
    sent = time.time()
    assert sample_app.add.apply_async((1, 1), countdown=1.5).get(timeout=20) == 2
    assert time.time() - sent >= 1.5


def test_a_killed_workers_task_runs_again_on_another_worker(start_worker: Start) -> None:
    first = start_worker("-P", "solo", env={"SAMPLE_ACKS_LATE": "1"})
    result = sample_app.sleep_then.delay(2.0, "survived")
    deadline = time.monotonic() + 20
    while sample_app.app.broker.depth("celery")["ready"]:  # the first worker claims it
        assert time.monotonic() < deadline, "the task was never claimed"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    start_worker("-P", "solo", env={"SAMPLE_ACKS_LATE": "1"})
    assert result.get(timeout=30) == "survived"


def test_beat_publishes_one_due_time_once_on_rabbitmq(transports: dict[str, str]) -> None:
    from datetime import UTC, datetime

    from flowc.runtime.beat.entries import ScheduleEntry
    from flowc.runtime.beat.publish import EntryPublisher
    from flowc.runtime.redis.beat_store import BeatStore
    from flowc.runtime.schedules import crontab

    app = sample_app.app
    entry = ScheduleEntry("nightly", crontab(minute="30", hour="2"), task="sample_app.add",
                          args=(1, 2))
    publisher = EntryPublisher(app, BeatStore(app.broker_client, app.keys))
    due = datetime(2026, 1, 2, 2, 30, tzinfo=UTC)
    first, again = publisher.publish(entry, due), publisher.publish(entry, due)
    assert first.new and not again.new and again.run_id == first.run_id
    assert app.broker.depth("celery")["ready"] == 1


def test_workers_and_producers_reconnect_when_rabbitmq_drops_their_connections(
        start_worker: Start, amqp_url: str) -> None:
    start_worker("-P", "prefork", "-c", "2", expect=2)
    assert sample_app.add.delay(1, 1).get(timeout=20) == 2
    # RabbitMQ closes every connection of this run's vhost (as a broker restart would)
    vhost = amqp_url.rsplit("/", 1)[1]
    listed = subprocess.run(["rabbitmqctl", "-q", "list_connections", "vhost", "pid"],
                            capture_output=True, text=True, check=True, timeout=60).stdout
    pids = [line.split()[1] for line in listed.splitlines() if line.split()[:1] == [vhost]]
    assert len(pids) >= 3  # the producer's and each pool process's
    for pid in pids:
        subprocess.run(["rabbitmqctl", "-q", "close_connection", pid, "test: dropped"],
                       capture_output=True, check=True, timeout=60)
    assert [sample_app.add.delay(i, 1).get(timeout=30) for i in range(5)] == [1, 2, 3, 4, 5]

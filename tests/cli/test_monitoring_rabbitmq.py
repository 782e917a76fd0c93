"""``flowc status`` and the dashboard's views (``Monitor``) on a RabbitMQ broker read queue
depths, consumers and dead letters from RabbitMQ itself (passive ``queue.declare``, the
dead-letter queue), not from Redis streams."""

from __future__ import annotations

import time
from collections.abc import Iterator

import orjson
import pika
import pytest
import redis
from click.testing import CliRunner
from flowc.runtime.app import App
from flowc.runtime.broker import Outgoing
from flowc.runtime.monitoring.views import Monitor

from flowc.cli import main
from tests.transports import empty_vhost

pytestmark = [pytest.mark.amqp, pytest.mark.redis]


@pytest.fixture
def rabbit(amqp_url: str, redis_url: str, redis_client: redis.Redis,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    """An App on the run's RabbitMQ vhost (emptied), the test's Redis for coordination."""
    empty_vhost(amqp_url, ["celery"])
    monkeypatch.setenv("FLOWC_COORDINATION_URL", redis_url)
    app = App("status", broker=amqp_url)
    app.broker.declare(["celery"])
    yield app
    app.close()


def status(app: App) -> dict:
    result = CliRunner().invoke(main, ["status", "--json", "--broker", app.broker_url])
    assert result.exit_code == 0, result.output
    return orjson.loads(result.output)


def queue(report: dict, name: str = "celery") -> dict:
    [found] = [q for q in report["queues"] if q["name"] == name]
    return found


def message(eta: float | None = None) -> Outgoing:
    return Outgoing("celery", 0, b'{"id":"x","task":"t"}', b"j", eta)


def dead_letter_one(app: App) -> None:
    app.broker.publish([message()])
    [delivery] = app.broker.fetch("probe", ["celery"], 1, 0)
    app.broker.dead_letter(delivery, "unknown task 't'", "w1@host")


def test_status_counts_ready_and_delayed_messages_on_rabbitmq(rabbit: App) -> None:
    rabbit.broker.publish([message(), message(), message(eta=time.time() + 3600)])
    found = queue(status(rabbit))
    assert (found["ready"], found["delayed"]) == (2, 1)


def test_status_counts_the_consumers_rabbitmq_has_on_a_queue(rabbit: App) -> None:
    assert queue(status(rabbit))["consumers"] == 0
    connection = pika.BlockingConnection(pika.URLParameters(rabbit.broker_url))
    try:
        connection.channel().basic_consume("celery", lambda *_: None)
        assert queue(status(rabbit))["consumers"] == 1
    finally:
        connection.close()


def test_status_counts_rabbitmqs_dead_letters(rabbit: App) -> None:
    dead_letter_one(rabbit)
    assert status(rabbit)["dead_letters"] == 1


def test_the_status_table_shows_rabbitmqs_counts(rabbit: App) -> None:
    rabbit.broker.publish([message()])
    result = CliRunner().invoke(main, ["status", "--broker", rabbit.broker_url])
    header, _, row = result.output.split("queues: ")[1].splitlines()[1:4]
    assert header.split() == ["queue", "ready", "delayed", "workers", "consumers"]
    assert row.split() == ["celery", "1", "0", "0", "0"]


def test_the_dashboard_lists_rabbitmqs_dead_letters_with_their_reason(rabbit: App) -> None:
    dead_letter_one(rabbit)
    [letter] = Monitor(rabbit).dead_letters()
    assert (letter.reason, letter.worker, letter.task_id, letter.task) == (
        "unknown task 't'", "w1@host", "x", "t")
    assert Monitor(rabbit).dead_letter(letter.entry_id) == letter


def test_the_dashboard_requeues_a_rabbitmq_dead_letter_to_its_queue(rabbit: App) -> None:
    dead_letter_one(rabbit)
    [letter] = Monitor(rabbit).dead_letters()
    assert Monitor(rabbit).requeue_dead_letter(letter.entry_id) == letter.entry_id
    assert Monitor(rabbit).dead_letter_count() == 0
    assert rabbit.broker.depth("celery")["ready"] == 1


def test_the_dashboard_deletes_a_rabbitmq_dead_letter(rabbit: App) -> None:
    dead_letter_one(rabbit)
    [letter] = Monitor(rabbit).dead_letters()
    assert Monitor(rabbit).delete_dead_letter(letter.entry_id)
    assert Monitor(rabbit).dead_letters() == []
    assert not Monitor(rabbit).delete_dead_letter(letter.entry_id)

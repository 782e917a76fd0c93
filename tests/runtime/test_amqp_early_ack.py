"""Acks early on RabbitMQ: a lone message is acknowledged before its task runs (Celery's
``task_acks_late = False``), also when the worker knows the task to be fast (whose settlement
it otherwise batches until after the run), so RabbitMQ confirms it to a waiting ``delay()``
while the task runs instead of after its result is stored."""

from __future__ import annotations

import pytest
from flowc.runtime.app import App

from tests.runtime.support import RABBITMQ_POSTGRESQL, drain, use_publish_mode


def test_a_lone_early_acked_message_of_a_fast_task_is_acknowledged_before_it_runs(
        app: App, request: pytest.FixtureRequest) -> None:
    use_publish_mode(app, RABBITMQ_POSTGRESQL, request)
    runs: list[bool] = []

    @app.task(name="maybe_drop_connection")
    def maybe_drop_connection(drop: bool) -> bool:
        runs.append(drop)
        if drop:  # RabbitMQ puts back what this connection had not acknowledged
            app.broker.close()
        return drop

    consumer = drain(app, rounds=0)
    first = maybe_drop_connection.delay(False)
    consumer.run_once()
    assert first.get(timeout=10) is False  # the worker now knows the task is fast
    result = maybe_drop_connection.delay(True)
    for _ in range(4):
        consumer.run_once()
    assert result.get(timeout=10) is True
    assert runs == [False, True]  # not put back and run again: acknowledged before it ran
    assert app.broker.depth(app.conf.task_default_queue)["ready"] == 0

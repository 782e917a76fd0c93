"""Helpers shared by runtime tests."""

from __future__ import annotations

from flowc.runtime.app import App
from flowc.runtime.consumer import Consumer


def drain(app: App, queues: list[str] | None = None, rounds: int = 1) -> Consumer:
    """Run the in-process solo consume loop for a few rounds without blocking."""
    consumer = Consumer(app, queues or [app.conf.task_default_queue], "test-consumer")
    app.broker.declare(consumer.queues)
    for _ in range(rounds):
        consumer.run_once()
    return consumer

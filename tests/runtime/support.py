"""Helpers shared by runtime tests."""

from __future__ import annotations

from flowc.runtime.app import App
from flowc.runtime.worker.consumer import Consumer


def add_arithmetic_tasks(app: App) -> None:
    """Register the small tasks workflow tests compose: ``add``, ``tsum`` and ``upto``."""

    @app.task(name="add")
    def add(x: int, y: int) -> int:
        return x + y

    @app.task(name="tsum")
    def tsum(values: list[int]) -> int:
        return sum(values)

    @app.task(name="upto")
    def upto(n: int) -> list[int]:
        return list(range(n))


def drain(app: App, queues: list[str] | None = None, rounds: int = 1) -> Consumer:
    """Run the in-process solo consume loop for a few rounds without blocking."""
    consumer = Consumer(app, queues or [app.conf.task_default_queue], "test-consumer")
    app.broker.declare(consumer.queues)
    for _ in range(rounds):
        consumer.run_once()
    return consumer


class BackgroundConsumer:
    """An in-process solo consume loop on a thread, for tests that wait on results."""

    def __init__(self, app: App, queues: list[str] | None = None) -> None:
        import threading

        self.consumer = Consumer(app, queues or [app.conf.task_default_queue], "bg-consumer")
        app.broker.declare(self.consumer.queues)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.consumer.stopping:
            self.consumer.run_once()

    def stop(self) -> None:
        """Stop after the current batch and wait for the thread."""
        self.consumer.stop()
        self.thread.join(10)

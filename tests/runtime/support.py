"""Helpers shared by runtime tests."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from flowc.runtime.app import App
from flowc.runtime.worker.consumer import Consumer

from tests.transports import empty_schema, empty_vhost
from tests.waiting import wait_until

RABBITMQ_POSTGRESQL = "rabbitmq+postgresql"
"""The ``publish_mode`` that moves a test App to RabbitMQ and PostgreSQL (joins return ready
messages, the worker publishes them)."""


def use_publish_mode(app: App, mode: str, request: pytest.FixtureRequest) -> None:
    """Set ``flowc_workflow_publish`` to ``mode``, or move ``app`` (on the test Redis) to the
    session's RabbitMQ vhost and PostgreSQL schema, emptied, with no Redis at all (coordination
    in PostgreSQL too)."""
    if mode != RABBITMQ_POSTGRESQL:
        app.conf.flowc_workflow_publish = mode  # type: ignore[assignment]
        return
    amqp_url: str = request.getfixturevalue("amqp_url")
    pg_url: str = request.getfixturevalue("pg_url")
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    empty_vhost(amqp_url, [app.conf.task_default_queue])
    empty_schema(pg_url)
    # no Redis for coordination either: heartbeats, revocations and events go to PostgreSQL,
    # and a fallback to an embedded server would fail (nothing listens at port 1)
    monkeypatch.delenv("FLOWC_COORDINATION_URL", raising=False)
    monkeypatch.setenv("FLOWC_EMBEDDED_URL", "redis://127.0.0.1:1/0")
    app.close()
    for name in ("broker_url", "backend_url", "coordination_url", "broker_client", "coordination"):
        app.__dict__.pop(name, None)
    app.conf.broker_url = amqp_url
    app.conf.result_backend = pg_url


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


def unsettled_messages(app: App) -> int:
    """Messages still queued, delayed or in flight (acknowledging deletes them) on every queue
    (another broker: queued and delayed on the default queue, through the port)."""
    from flowc.runtime.app import transport

    if transport(app.broker_url) != "redis":
        depth = app.broker.depth(app.conf.task_default_queue)
        return depth["ready"] + depth["delayed"]
    client = app.broker_client
    names = {q.decode() if isinstance(q, bytes) else q for q in client.smembers(app.keys.queues())}
    names.add(app.conf.task_default_queue)
    total = 0
    for queue in names:
        total += sum(int(client.xlen(stream)) for stream in app.keys.streams(queue))
        total += int(client.zcard(app.keys.delayed(queue)))
    return total


def wait_settled(app: App, timeout: float = 10.0) -> None:
    """Wait until every message is processed: proves nothing more is coming, without a sleep."""
    wait_until(lambda: unsettled_messages(app) == 0, timeout, "every message to be settled")


def clients_in(client: redis.Redis, command: str) -> int:
    """Connections to ``client``'s database in (or last done with) ``command``, e.g. ``blmove``.

    A client blocked in a command shows it until it returns, so this sees waiters block.
    """
    db = int(client.connection_pool.connection_kwargs.get("db", 0))
    clients: Any = client.client_list()
    return sum(1 for c in clients if c.get("cmd") == command and int(c.get("db", -1)) == db)


def forget_app(app: App) -> None:
    """Take ``app`` off the apps ``@shared_task`` registers on (each App until collected): one
    left with a broken configuration on purpose would fail later tests' shared tasks."""
    from flowc.runtime import current

    current._apps.discard(app)

"""A Redis at ``maxmemory`` with ``noeviction`` refuses new messages: ``delay()`` raises flowc's
own one-line ``BrokerFull`` naming the limit and what to do, not redis-py's OOM text."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import redis
from flowc.runtime.app import App
from flowc.runtime.redis.embedded import EmbeddedServer
from flowc.runtime.worker.consumer import Consumer

from flowc.exceptions import BrokerFull

pytestmark = [pytest.mark.redis, pytest.mark.process]


def test_delay_on_a_full_redis_raises_a_one_line_error_saying_what_to_do(
        embedded_server_factory: Callable[..., EmbeddedServer]) -> None:
    # Given a private server limited to 5 MB that refuses writes when full
    server = embedded_server_factory(config={"maxmemory": "5mb",
                                             "maxmemory-policy": "noeviction"})
    app = App("full", broker=server.url)

    @app.task
    def store(blob: str) -> None:
        """Takes 100 KB per call."""

    # When messages are sent until it is full
    try:
        with pytest.raises(BrokerFull) as info:
            for _ in range(200):  # 20 MB, four times the limit
                store.delay("x" * 100_000)
        # Then the error is flowc's, on one line, with the limit and the fix
        text = str(info.value)
        assert "\n" not in text
        assert text.startswith("Redis is out of memory (maxmemory 5.00M reached")
        assert "maxmemory-policy noeviction" in text
        assert "purge queues" in text and "raise maxmemory" in text
        # And a delayed message (its ZADD) fails the same way
        with pytest.raises(BrokerFull):
            store.apply_async(("y" * 100_000,), countdown=10)
    finally:
        app.close()


def test_a_batch_of_results_stops_at_the_limit_instead_of_writing_past_it(
        embedded_server_factory: Callable[..., EmbeddedServer]) -> None:
    # Given a 5 MB server filled to just under its limit
    server = embedded_server_factory(config={"maxmemory": "5mb",
                                             "maxmemory-policy": "noeviction"})
    app = App("full", broker=server.url)
    client = app.broker_client
    limit = int(client.config_get("maxmemory")["maxmemory"])
    try:
        for i in range(100):
            try:
                client.set(f"filler:{i}", b"f" * 100_000)
            except redis.exceptions.OutOfMemoryError:
                break
        client.delete(f"filler:{i - 1}")  # 100 KB of room
        # When a worker's flush stores thirty 100 KB results in one go
        records = [(f"task-{n}", b"j" + b"r" * 100_000) for n in range(30)]
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            app.backend.store(records, 3600)
        # Then the server stopped within one record of its limit (it wrote all 3 MB before)
        used = int(client.info("memory")["used_memory"])
        stored = sum(client.exists(app.keys.result(tid)) for tid, _ in records)
        print(f"stored {stored} of 30, used {used / 2**20:.2f} MB of {limit / 2**20:.2f} MB")
        assert stored <= 2
        assert used < limit + 250_000
    finally:
        app.close()


def test_a_worker_draining_a_full_redis_starts_every_task_it_acknowledged(
        embedded_server_factory: Callable[..., EmbeddedServer]) -> None:
    # Given a full 5 MB server whose queued tasks each return 100 KB (early acks)
    server = embedded_server_factory(config={"maxmemory": "5mb",
                                             "maxmemory-policy": "noeviction"})
    app = App("full", broker=server.url, result_expires=3600)

    @app.task
    def echo(blob: str) -> str:
        return blob

    ids: list[str] = []
    try:
        with pytest.raises(BrokerFull):
            for _ in range(200):
                ids.append(echo.delay("x" * 100_000).id)
        sent = len(ids)
        # When a worker drains it (its flushes keep hitting the limit: results cannot fit)
        consumer = Consumer(app, ["celery"], "full-drainer")
        deadline = time.monotonic() + 20
        while consumer.processed < sent and time.monotonic() < deadline:
            try:
                consumer.run_once()
            except redis.exceptions.OutOfMemoryError:
                consumer.errors_seen = None  # what Consumer.run does after a failed round
        # Then every task ran (none acknowledged and dropped), and every result is stored or
        # still queued in the worker to be written once there is room
        assert consumer.processed == sent
        stored = {tid for tid in ids if app.broker_client.exists(app.keys.result(tid))}
        assert stored | {tid for tid, _ in consumer.settler.records} == set(ids)
    finally:
        app.close()

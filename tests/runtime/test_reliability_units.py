"""Reliability building blocks against a real Redis, in-process: redelivery, poison pills,
rate-limit slots, idempotency keys, and the call-time checks of bad options."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis
from flowc.runtime.app import App
from flowc.runtime.exceptions import InvalidTaskOptions, SerializationError
from flowc.runtime.options import RateLimit
from flowc.runtime.worker.consumer import Consumer
from flowc.runtime.worker.heartbeat import Heartbeat
from flowc.runtime.worker.ratelimit import RateLimiter, interval_ms, limit_key_value
from flowc.runtime.worker.reaper import Reaper

from tests.waiting import wait_until

STREAM = "flowc:{q:celery}:p0"


def _claim(app: App, consumer: str, count: int = 10) -> list:
    app.broker.declare(["celery"])
    return app.broker.fetch(consumer, ["celery"], count, 0)


# --- redelivery ----------------------------------------------------------------------------


def test_messages_of_a_consumer_without_heartbeat_go_back_with_their_delivery_count(
        app: App, redis_client: redis.Redis) -> None:
    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    ids = [add.delay(i, i).id for i in range(3)]
    claimed = _claim(app, "dead.1")
    assert [d.deliveries for d in claimed] == [1, 1, 1]
    # the consumer never beat (or its key expired): it is lost
    returned = Reaper(app, "alive.1").reap_lost()
    assert returned == 3
    assert redis_client.xpending(STREAM, "workers")["pending"] == 0
    again = _claim(app, "alive.1")
    assert [d.deliveries for d in again] == [2, 2, 2]
    assert [d.redelivered for d in again] == [True] * 3
    assert all(i.encode() in d.body for i, d in zip(ids, again, strict=True))
    names = [c["name"] for c in redis_client.xinfo_consumers(STREAM, "workers")]
    assert b"dead.1" not in names  # the lost consumer is forgotten


def test_a_consumer_with_a_live_heartbeat_keeps_its_messages(app: App,
                                                             redis_client: redis.Redis) -> None:
    @app.task
    def noop() -> None:
        return None

    noop.delay()
    _claim(app, "busy.1")
    Heartbeat(app, "busy.1", ["celery"], "solo", lambda: 0).beat()
    assert Reaper(app, "other.1").reap_lost() == 0
    assert redis_client.xpending(STREAM, "workers")["pending"] == 1


def test_reaping_twice_returns_each_message_once(app: App, redis_client: redis.Redis) -> None:
    @app.task
    def noop() -> None:
        return None

    noop.delay()
    _claim(app, "dead.2")
    assert Reaper(app, "a").reap_lost() == 1
    assert Reaper(app, "b").reap_lost() == 0
    assert redis_client.xlen(STREAM) == 1


def test_orphaned_claims_of_a_live_consumer_are_returned(app: App,
                                                         redis_client: redis.Redis) -> None:
    @app.task
    def noop() -> None:
        return None

    noop.delay()
    noop.delay()
    held, orphan = _claim(app, "me.1")
    app.broker.reclaim_entries("me.1", [(orphan.source, orphan.entry_id)])
    assert redis_client.xpending(STREAM, "workers")["pending"] == 1
    [pending] = redis_client.xpending_range(STREAM, "workers", "-", "+", 10)
    assert pending["message_id"] == held.entry_id


def test_the_orphan_check_keeps_entries_whose_ack_is_not_written_yet(
        app: App, redis_client: redis.Redis) -> None:
    # Given a consumer that finished one of two claimed messages, its ack not yet flushed
    @app.task
    def noop() -> None:
        return None

    noop.delay()
    noop.delay()
    consumer = Consumer(app, ["celery"], "me.2")
    finished, lost = _claim(app, "me.2")
    consumer.settler.ack(finished)
    # When it looks for orphans with no minimum age
    returned = Reaper(app, "me.2", consumer.held_ids).reclaim_orphans(min_idle_s=0)
    # Then only the message it does not hold goes back (the other would run twice)
    assert returned == 1
    [pending] = redis_client.xpending_range(STREAM, "workers", "-", "+", 10)
    assert pending["message_id"] == finished.entry_id != lost.entry_id


def test_a_message_lost_with_its_worker_too_often_is_dead_lettered_not_run(
        app: App, redis_client: redis.Redis) -> None:
    runs = []

    @app.task
    def crashy() -> None:
        runs.append(1)

    app.conf.flowc_max_deliveries = 2
    crashy.delay()
    for n in range(2):  # two deliveries, each lost with its worker
        _claim(app, f"dead.{n}")
        Reaper(app, "reaper").reap_lost()
    consumer = Consumer(app, ["celery"], "survivor")
    consumer.run_once()
    assert runs == []
    [(_, fields)] = redis_client.xrange("flowc:dlq")
    assert b"delivered 2 times and its worker was lost each time" in fields[b"reason"]
    assert redis_client.xlen(STREAM) == 0


# --- rate limits ---------------------------------------------------------------------------


def test_rate_limit_slots_are_evenly_spaced_across_callers(app: App) -> None:
    @app.task(rate_limit="10/s")
    def limited() -> None:
        return None

    first, second = RateLimiter(app), RateLimiter(app)  # two workers
    message = app.build_message(limited.name, [], {}, limited, {})
    waits = [(first if i % 2 else second).acquire(limited, message).wait_s  # type: ignore[union-attr]
             for i in range(5)]
    assert waits[0] == 0.0
    for i, wait in enumerate(waits[1:], start=1):
        assert wait == pytest.approx(i * interval_ms(RateLimit(10, 1.0)) / 1000, abs=0.02)


def test_a_message_holding_a_slot_runs_without_asking_again(app: App) -> None:
    @app.task(rate_limit="1/m")
    def limited() -> None:
        return None

    limiter = RateLimiter(app)
    message = app.build_message(limited.name, [], {}, limited, {})
    assert limiter.acquire(limited, message).wait_s == 0.0  # type: ignore[union-attr]
    decision = limiter.acquire(limited, message)
    assert decision is not None and decision.wait_s > 50
    limiter.mark(message, decision)
    assert limiter.acquire(limited, message) is None  # promoted: runs now
    assert limiter.acquire(limited, message).wait_s > 100  # type: ignore[union-attr]


def test_the_limit_key_comes_from_the_named_argument_however_it_is_passed(app: App) -> None:
    @app.task(bind=True, rate_limit="1/s", rate_limit_key="store_id")
    def sync(self: object, store_id: str, full: bool = False) -> None:
        return None

    by_position = app.build_message(sync.name, ["s1"], {}, sync, {})
    by_name = app.build_message(sync.name, [], {"store_id": "s2"}, sync, {})
    assert limit_key_value(sync, by_position) == "s1"
    assert limit_key_value(sync, by_name) == "s2"


def test_unlimited_tasks_never_touch_redis(app: App, redis_client: redis.Redis) -> None:
    @app.task
    def free() -> None:
        return None

    assert RateLimiter(app).acquire(free, app.build_message(free.name, [], {}, free, {})) \
        is None
    assert redis_client.keys("flowc:rate:*") == []


# --- idempotency ---------------------------------------------------------------------------


def test_a_second_submission_with_the_same_key_returns_the_first_and_enqueues_nothing(
        app: App, redis_client: redis.Redis) -> None:
    @app.task
    def charge(order: int) -> None:
        return None

    first = charge.apply_async((1,), idempotency_key="charge:1")
    second = charge.apply_async((1,), idempotency_key="charge:1")
    other = charge.apply_async((2,), idempotency_key="charge:2")
    assert second.id == first.id != other.id
    assert redis_client.xlen(STREAM) == 2
    delayed = charge.apply_async((3,), countdown=60, idempotency_key="charge:3")
    assert charge.apply_async((3,), countdown=60, idempotency_key="charge:3").id == delayed.id
    assert redis_client.zcard("flowc:{q:celery}:delayed") == 1


def test_an_idempotency_key_expires_after_its_ttl(app: App, redis_client: redis.Redis) -> None:
    @app.task
    def charge(order: int) -> None:
        return None

    app.conf.flowc_idempotency_ttl = 0.2
    first = charge.apply_async((1,), idempotency_key="k")
    key = app.keys.idempotency("k", app.conf.task_default_queue)
    wait_until(lambda: not redis_client.exists(key), 5, "the idempotency key to expire")
    assert charge.apply_async((1,), idempotency_key="k").id != first.id


# --- bad input fails at call time ------------------------------------------------------------


def test_bad_options_fail_when_called_with_the_fix_in_the_message(app: App) -> None:
    @app.task
    def t(x: object = None) -> None:
        return None

    with pytest.raises(InvalidTaskOptions, match="invalid rate_limit '10/x'.*'10/m'"):
        app.task(rate_limit="10/x")(lambda: None)
    with pytest.raises(InvalidTaskOptions, match="priority must be an integer from 0 to 9"):
        t.apply_async(priority=10)
    with pytest.raises(InvalidTaskOptions, match="use either eta or countdown, not both"):
        t.apply_async(countdown=5, eta=datetime.now(UTC))
    with pytest.raises(InvalidTaskOptions, match="countdown must not be negative"):
        t.apply_async(countdown=-1)
    with pytest.raises(SerializationError):
        t.delay(object())
    with pytest.raises(InvalidTaskOptions, match="time_limit must be a positive number"):
        t.apply_async(time_limit=0)
    with pytest.raises(InvalidTaskOptions, match="idempotency_key must be a non-empty string"):
        t.apply_async(idempotency_key="")

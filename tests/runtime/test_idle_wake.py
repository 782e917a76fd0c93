"""The idle wait on the streams' wake group (``RedisBroker.fetch``): no message is left
unclaimed while a worker that could take it sits idle."""

from __future__ import annotations

import threading
import time
from typing import Any

import redis
from flowc.runtime.app import App

from tests.runtime.support import add_arithmetic_tasks, clients_in
from tests.waiting import wait_until


def test_wakes_taken_from_several_streams_are_not_lost(app: App,
                                                       redis_client: redis.Redis) -> None:
    add_arithmetic_tasks(app)
    add = app.tasks["add"]
    queues = [app.conf.task_default_queue]
    app.broker.declare(queues)
    # both processes just found nothing (their idle claims moved the wake group to the end)
    assert app.broker.fetch("a@host", queues, 1, 0.0) == []
    assert app.broker.fetch("b@host", queues, 1, 0.0) == []
    low = add.apply_async((1, 1), priority=0)
    high = add.apply_async((2, 2), priority=9)
    # a (prefetch 1) waits now: both entries are new to the wake group; it claims the urgent one
    got_a = app.broker.fetch("a@host", queues, 1, 5.0, idle_ids=[b"-"] * 10)
    assert len(got_a) == 1 and high.id.encode() in got_a[0].body
    got_b: list[Any] = []
    t = threading.Thread(target=lambda: got_b.extend(
        app.broker.fetch("b@host", queues, 1, 3.0, idle_ids=[b"-"] * 10)))
    start = time.monotonic()
    t.start()
    t.join(10)
    # b, idle, must be woken for the message a could not take (not wait out its timeout)
    assert len(got_b) == 1 and low.id.encode() in got_b[0].body, time.monotonic() - start



def _waiting(app: App, client: redis.Redis, name: str, count: int = 4
             ) -> tuple[threading.Thread, list[Any]]:
    """A consumer that found nothing and now blocks on the wake group (like an idle worker)."""
    queues = [app.conf.task_default_queue]
    assert app.broker.fetch(name, queues, count, 0.0) == []
    got: list[Any] = []
    before = clients_in(client, "xreadgroup")
    thread = threading.Thread(target=lambda: got.extend(
        app.broker.fetch(name, queues, count, 4.0, idle_ids=[b"-"] * 10)))
    thread.start()
    wait_until(lambda: clients_in(client, "xreadgroup") > before, 5, "the consumer to block")
    return thread, got


def test_a_promoted_delayed_message_wakes_an_idle_waiter(app: App,
                                                         redis_client: redis.Redis) -> None:
    add_arithmetic_tasks(app)
    queues = [app.conf.task_default_queue]
    app.broker.declare(queues)
    later = app.tasks["add"].apply_async((1, 2), countdown=30)
    thread, got = _waiting(app, redis_client, "idle@host")
    redis_client.zadd(app.keys.delayed(queues[0]), {m: 0 for m in  # as if 30 s passed
                      redis_client.zrange(app.keys.delayed(queues[0]), 0, -1)})
    assert app.broker.promote_due(queues) is None  # another worker promotes
    thread.join(10)
    assert len(got) == 1 and later.id.encode() in got[0].body


def test_a_lost_workers_message_wakes_an_idle_waiter_and_no_wake_is_pending(
        app: App, redis_client: redis.Redis) -> None:
    from flowc.runtime.redis.broker import WAKE_GROUP

    add_arithmetic_tasks(app)
    queues = [app.conf.task_default_queue]
    app.broker.declare(queues)
    sent = app.tasks["add"].delay(2, 2)
    lost = app.broker.fetch("lost@host", queues, 4, 0.0)  # claimed, then its worker dies
    assert len(lost) == 1
    thread, got = _waiting(app, redis_client, "idle@host")
    assert app.broker.reclaim("lost@host", [lost[0].source]) == 1  # the reaper returns it
    thread.join(10)
    assert len(got) == 1 and sent.id.encode() in got[0].body and got[0].deliveries == 2
    app.broker.ack(got)
    for key in app.broker.stream_keys(queues):  # NOACK: the wake group never holds anything
        groups: Any = redis_client.xinfo_groups(key)
        assert {g["name"]: g["pending"] for g in groups}[WAKE_GROUP.encode()] == 0
        assert redis_client.xlen(key) == 0

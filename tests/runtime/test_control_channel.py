"""Control commands broadcast through Redis and answered by each worker process."""

from __future__ import annotations

import pytest
from flowc.runtime.app import App
from flowc.runtime.monitoring.control_channel import ControlClient, UnknownCommand
from flowc.runtime.monitoring.worker_side import attach
from flowc.runtime.worker.consumer import Consumer


@pytest.fixture
def two_workers(redis_url, redis_client):
    app = App("ctl", broker=redis_url)

    @app.task(name="ctl.add")
    def add(x: int, y: int) -> int:
        return x + y

    consumers = [Consumer(app, ["celery"], f"node{i}@host.{i}.tok") for i in (1, 2)]
    monitors = [attach(c) for c in consumers]
    yield app, consumers, monitors
    for c in consumers:
        c.shutdown()
    app.close()


def test_every_process_answers_a_broadcast(two_workers):
    app, _, _ = two_workers
    replies = ControlClient(app).broadcast("ping", timeout_s=5)
    assert replies == [{"worker": "node1@host.1.tok", "ok": "pong"},
                       {"worker": "node2@host.2.tok", "ok": "pong"}]


def test_a_destination_limits_who_acts_and_nobody_is_waited_for_in_vain(two_workers):
    import time

    app, _, _ = two_workers
    started = time.monotonic()
    replies = ControlClient(app).broadcast("inspect_registered", destination=["node2@host"],
                                           timeout_s=5)
    assert time.monotonic() - started < 2  # the skipped process said so at once
    # (shared tasks other test modules defined register on every app too: check ours only)
    assert [r["worker"] for r in replies] == ["node2@host.2.tok"]
    assert "ctl.add" in replies[0]["ok"]


def test_inspect_reserved_and_scheduled_and_revoke(two_workers):
    app, consumers, _ = two_workers
    delayed = app.tasks["ctl.add"].apply_async((1, 1), countdown=300)
    scheduled = ControlClient(app).broadcast("inspect_scheduled", timeout_s=5)
    assert scheduled[0]["ok"][0]["id"] == delayed.id
    replies = ControlClient(app).broadcast("revoke", {"ids": [delayed.id]}, timeout_s=5)
    assert all(r["ok"] == [] for r in replies)
    assert all(delayed.id in c.revoked.ids for c in consumers)


def test_rate_limit_changes_the_task_and_bad_values_are_refused(two_workers):
    app, _, _ = two_workers
    ok = ControlClient(app).broadcast("rate_limit", {"task": "ctl.add", "rate": "5/s"},
                                      timeout_s=5)
    assert [r["ok"] for r in ok] == ["rate limit of ctl.add set to 5/s"] * 2
    assert app.tasks["ctl.add"].options["rate_limit"] == "5/s"
    bad = ControlClient(app).broadcast("rate_limit", {"task": "ctl.add", "rate": "fast"},
                                       timeout_s=5)
    assert all("rate_limit" in r["error"] for r in bad)


def test_solo_pool_cannot_be_resized_and_says_why(two_workers):
    app, _, _ = two_workers
    replies = ControlClient(app).broadcast("pool_grow", {"n": 2}, timeout_s=5)
    assert all("cannot be resized" in r["error"] for r in replies)


def test_shutdown_stops_an_in_process_consumer(two_workers):
    app, consumers, _ = two_workers
    ControlClient(app).broadcast("shutdown", destination=["node1@host.1.tok"], timeout_s=5)
    assert consumers[0].stopping and not consumers[1].stopping


def test_add_consumer_makes_a_worker_claim_from_another_queue(two_workers):
    app, consumers, _ = two_workers
    client = ControlClient(app)
    replies = client.broadcast("add_consumer", {"queue": "extra"},
                               destination=["node1@host.1.tok"], timeout_s=5)
    assert replies == [{"worker": "node1@host.1.tok", "ok": "now consuming from extra"}]
    assert consumers[0].queues == ["celery", "extra"] and consumers[1].queues == ["celery"]
    app.tasks["ctl.add"].apply_async((2, 3), queue="extra")
    claimed = app.broker.fetch(consumers[0].name, consumers[0].queues, 10, 1.0)
    assert len(claimed) == 1 and b"extra" in claimed[0].source
    queues = client.broadcast("inspect_active_queues", timeout_s=5)
    assert [r["ok"] for r in queues] == [["celery", "extra"], ["celery"]]


def test_cancel_consumer_stops_claiming_and_refuses_the_last_queue(two_workers):
    app, consumers, _ = two_workers
    client = ControlClient(app)
    client.broadcast("add_consumer", {"queue": "extra"}, timeout_s=5)
    done = client.broadcast("cancel_consumer", {"queue": "celery"}, timeout_s=5)
    assert [r["ok"] for r in done] == ["no longer consuming from celery"] * 2
    assert all(c.queues == ["extra"] for c in consumers)
    app.tasks["ctl.add"].apply_async((2, 3), queue="celery")
    assert app.broker.fetch(consumers[0].name, consumers[0].queues, 10, 0.2) == []
    last = client.broadcast("cancel_consumer", {"queue": "extra"}, timeout_s=5)
    assert all("only queue" in r["error"] for r in last)
    unknown = client.broadcast("cancel_consumer", {"queue": "nope"}, timeout_s=5)
    assert all("not consuming from 'nope'" in r["error"] for r in unknown)
    nameless = client.broadcast("add_consumer", {}, timeout_s=5)
    assert all("needs a queue name" in r["error"] for r in nameless)


def test_stats_describe_each_process_with_its_rate_limits_and_claims(two_workers):
    app, _, _ = two_workers
    client = ControlClient(app)
    client.broadcast("rate_limit", {"task": "ctl.add", "rate": "5/s"}, timeout_s=5)
    replies = client.broadcast("inspect_stats", destination=["node2@host"], timeout_s=5)
    assert len(replies) == 1
    stats = replies[0]["ok"]
    assert stats["pool"] == {"implementation": "solo", "max-concurrency": 1}
    assert stats["queues"] == ["celery"] and stats["rate_limits"] == {"ctl.add": "5/s"}
    assert stats["total"] == 0 and stats["reserved"] == 0 and stats["running"] == 0
    assert stats["prefetch_count"] >= 1 and stats["registered"] >= 1


def test_no_worker_means_no_reply_and_unknown_commands_are_refused(redis_url, redis_client):
    app = App("nobody", broker=redis_url)
    assert ControlClient(app).broadcast("ping", timeout_s=0.2) == []
    with pytest.raises(UnknownCommand, match="known: ping"):
        ControlClient(app).broadcast("reboot")
    app.close()


def _on_db(url: str, db: int) -> str:
    """``url`` pointing at database ``db`` of the same server (tcp ``/N`` or unix ``?db=N``)."""
    if "?db=" in url:
        return url.split("?db=")[0] + f"?db={db}"
    return url.rsplit("/", 1)[0] + f"/{db}"


def test_apps_on_different_databases_of_one_server_never_hear_each_others_commands(
        redis_url, redis_client):
    import uuid

    db = int(redis_client.connection_pool.connection_kwargs.get("db", 0))
    prefix = f"ctl-{uuid.uuid4().hex[:8]}"  # same prefix on both sides: only the db differs
    here = App("here", broker=redis_url, flowc_key_prefix=prefix)
    there = App("there", broker=_on_db(redis_url, (db + 1) % 16), flowc_key_prefix=prefix)
    listener = Consumer(here, ["celery"], "listener@here")
    attach(listener)
    try:
        ControlClient(there).broadcast("revoke", {"ids": ["from-there"]}, timeout_s=1)
        ControlClient(here).broadcast("revoke", {"ids": ["from-here"]}, timeout_s=5)
        assert "from-here" in listener.revoked.ids
        assert "from-there" not in listener.revoked.ids
    finally:
        listener.shutdown()
        here.close()
        there.close()


def test_a_stopped_listener_is_no_longer_subscribed_when_stop_returns(two_workers):

    app, _, monitors = two_workers
    monitors[0].stop()
    [(_, listeners)] = app.broker_client.pubsub_numsub(app.coordination.channel())
    assert listeners == 1

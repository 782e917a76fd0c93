"""Task events: off by default, batched into one capped stream entry per flush, readable back."""

from __future__ import annotations

import pytest
from flowc.runtime.app import App
from flowc.runtime.consumer import Consumer
from flowc.runtime.events import EventSender, decode_entry, format_event, iter_range, read_since
from flowc.runtime.monitor_worker import attach


@pytest.fixture
def events_app(redis_url, redis_client):
    app = App("ev", broker=redis_url, worker_send_task_events=True)

    @app.task(name="ev.add")
    def add(x: int, y: int) -> int:
        return x + y

    @app.task(name="ev.boom")
    def boom() -> None:
        raise KeyError("missing")

    yield app
    app.close()


def _all_events(app: App) -> list[dict]:
    return [e for _, batch in iter_range(app.broker_client, app.keys.events()) for e in batch]


def test_a_flush_writes_every_buffered_event_as_one_stream_entry(events_app):
    sender = EventSender(events_app, "w@h")
    for i in range(10):
        sender.send("task-succeeded", uuid=str(i), result="1")
    assert events_app.broker_client.xlen(events_app.keys.events()) == 0
    sender.flush()
    sender.flush()  # nothing left: no empty entry
    assert events_app.broker_client.xlen(events_app.keys.events()) == 1
    assert [e["uuid"] for e in _all_events(events_app)] == [str(i) for i in range(10)]


def test_flush_can_ride_on_a_pipeline_the_caller_executes(events_app):
    sender = EventSender(events_app, "w@h")
    sender.send("worker-online")
    pipe = events_app.broker_client.pipeline(transaction=False)
    sender.flush(pipe)
    assert events_app.broker_client.xlen(events_app.keys.events()) == 0
    pipe.execute()
    assert _all_events(events_app)[0]["type"] == "worker-online"


def test_the_stream_is_capped_at_flowc_events_maxlen(events_app):
    events_app.conf.flowc_events_maxlen = 100
    sender = EventSender(events_app, "w@h")
    for i in range(1000):
        sender.send("task-sent", uuid=str(i))
        sender.flush()
    assert events_app.broker_client.xlen(events_app.keys.events()) < 300  # MAXLEN ~ trims


def test_a_disabled_sender_sends_nothing(events_app):
    sender = EventSender(events_app, "w@h", enabled=False)
    sender.send("task-sent", uuid="x")
    sender.flush()
    assert not events_app.broker_client.exists(events_app.keys.events())


def test_a_worker_sends_received_started_and_outcome_events_per_task(events_app):
    consumer = Consumer(events_app, ["celery"], "w1@host.1.abc")
    monitor = attach(consumer)
    ok = events_app.tasks["ev.add"].delay(1, 2)
    bad = events_app.tasks["ev.boom"].delay()
    consumer.run_once()
    consumer.shutdown()
    events = _all_events(events_app)
    kinds = [(e["type"], e.get("uuid")) for e in events]
    assert kinds[0] == ("worker-online", None) and kinds[-1] == ("worker-offline", None)
    assert [k for k, u in kinds if u == ok.id] == ["task-received", "task-started",
                                                   "task-succeeded"]
    assert [k for k, u in kinds if u == bad.id] == ["task-received", "task-started",
                                                    "task-failed"]
    failed = next(e for e in events if e["type"] == "task-failed")
    assert "KeyError" in failed["exception"] and "Traceback" in failed["traceback"]
    received = next(e for e in events if e["type"] == "task-received" and e["uuid"] == ok.id)
    assert received["name"] == "ev.add" and received["args"] == "[1, 2]"
    assert monitor.running == {}


def test_events_are_off_unless_switched_on(redis_url, redis_client):
    app = App("quiet", broker=redis_url)

    @app.task(name="quiet.noop")
    def noop() -> None:
        return None

    consumer = Consumer(app, ["celery"], "w1@host.1.abc")
    attach(consumer)
    noop.delay()
    consumer.run_once()
    consumer.shutdown()
    assert not redis_client.exists(app.keys.events())
    app.close()


def test_reading_follows_the_stream_and_formats_lines(events_app):
    sender = EventSender(events_app, "w@h")
    last, found = read_since(events_app.broker_client, events_app.keys.events(), "0-0")
    assert found == []
    sender.task_revoked("abc", "ev.add", "expired")
    sender.flush()
    last, found = read_since(events_app.broker_client, events_app.keys.events(), last)
    assert found[0]["expired"] is True
    line = format_event(found[0])
    assert "task-revoked" in line and "ev.add[abc]" in line and "@w@h" in line
    assert decode_entry({b"e": b"not json"}) == [] and decode_entry({}) == []


def test_producers_send_task_sent_and_workflow_submitted_when_asked(redis_url, redis_client):
    from flowc.compiler.primitives import chain
    from flowc.runtime.app import App
    from flowc.runtime.events import decode_entry

    app = App("sent", broker=redis_url, task_send_sent_event=True)

    @app.task(name="sent.add")
    def add(x: int, y: int) -> int:
        return x + y

    result = add.delay(1, 2)
    chain(add.s(1, 1), add.s(1)).delay()
    events = [e for _, fields in redis_client.xrange("flowc:events")
              for e in decode_entry(fields)]
    types = [e.get("type") for e in events]
    assert "task-sent" in types and "workflow-submitted" in types
    assert any(e.get("uuid") == result.id or e.get("id") == result.id or
               result.id in str(e) for e in events if e.get("type") == "task-sent")
    app.close()


def test_a_monitored_consumer_still_claims_its_next_batch_with_each_flush(redis_url,
                                                                           redis_client):
    """The monitoring hooks must not swallow the flush's claim (a past regression)."""
    from flowc.runtime.app import App
    from flowc.runtime.consumer import Consumer
    from flowc.runtime.monitor_worker import attach

    app = App("claims", broker=redis_url, worker_send_task_events=True)

    @app.task(name="claims.add")
    def add(x: int, y: int) -> int:
        return x + y

    consumer = Consumer(app, ["celery"], "monitored")
    attach(consumer)
    app.broker.declare(["celery"])
    first, second = add.delay(1, 1), add.delay(2, 2)
    consumer.batch_size = 1
    consumer.run_once()  # runs the first; its flush claims the second
    assert first.get(timeout=1) == 2
    assert [d.entry_id for d in consumer.pending] != []
    consumer.run_once()
    assert second.get(timeout=1) == 4
    consumer.hooks.stopped()
    app.close()

"""Task events: off by default, batched into one capped stream entry per flush, readable back."""

from __future__ import annotations

import pytest
from flowc.runtime.app import App
from flowc.runtime.monitoring.events import EventSender, format_event
from flowc.runtime.monitoring.events_read import decode_entry
from flowc.runtime.monitoring.worker_side import attach
from flowc.runtime.redis.events_stream import iter_range, read_since
from flowc.runtime.worker.consumer import Consumer


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
    from flowc.compiler.canvas.primitives import chain
    from flowc.runtime.app import App
    from flowc.runtime.monitoring.events_read import decode_entry

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
    from flowc.runtime.monitoring.worker_side import attach
    from flowc.runtime.worker.consumer import Consumer

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


def _message(app: App, **options):
    """A message of ``ev.add`` with every optional field a task-received event carries set."""
    from flowc.runtime.message import Message

    return Message(id=options.pop("id"), task="ev.add", args=[1, [2, 3]],
                   kwargs={"label": "x" * 2000}, queue="media", priority=7, eta=1.5e9,
                   expires=2.5e9, retries=2, root_id="root-1", parent_id="parent-1",
                   workflow={"id": "wf-1", "node": "step_a"}, **options)


def _without_times(event: dict) -> dict:
    return {k: v for k, v in event.items() if k not in ("uuid", "ts")}


def test_a_task_that_succeeds_between_flushes_is_read_back_as_its_three_full_events(events_app):
    """Written as one compact record; readers get the same events as the per-event path."""
    from flowc.runtime.execute import Outcome
    from flowc.runtime.monitoring.worker_side import TaskEventHooks

    hooks = TaskEventHooks(Consumer(events_app, ["celery"], "w1@host.1.abc"))
    task = events_app.tasks["ev.add"]
    # Given one task finished before the flush (compact) and one that spans a flush
    fast, slow = _message(events_app, id="fast"), _message(events_app, id="slow")
    hooks.received(slow)
    hooks.started(task, slow)
    hooks.flushed()  # the slow one is still running: its received and started are written
    hooks.received(fast)
    hooks.started(task, fast)
    for m in (fast, slow):
        hooks.finished(m, Outcome("SUCCESS", {"total": 6}, runtime_s=0.25))
    hooks.flushed()
    import orjson

    raw = orjson.loads(events_app.broker_client.xrange(events_app.keys.events())[-1][1][b"e"])
    assert raw[0][:2] == ["t", "fast"]  # one compact record for the fast task
    assert [(e["type"], e["uuid"]) for e in raw[1:]] == [("task-succeeded", "slow")]
    # Then both read back as received, started, succeeded, in time order, with equal content
    events = _all_events(events_app)
    by_task = {tid: [e for e in events if e["uuid"] == tid] for tid in ("fast", "slow")}
    for seq in by_task.values():
        assert [e["type"] for e in seq] == ["task-received", "task-started", "task-succeeded"]
        assert [e["ts"] for e in seq] == sorted(e["ts"] for e in seq)
    assert [_without_times(e) for e in by_task["fast"]] == \
        [_without_times(e) for e in by_task["slow"]]
    received = by_task["fast"][0]
    assert received == {**received, "name": "ev.add", "queue": "media", "priority": 7,
                        "retries": 2, "args": "[1, [2, 3]]", "eta": 1.5e9, "expires": 2.5e9,
                        "root_id": "root-1", "parent_id": "parent-1", "workflow_id": "wf-1",
                        "node": "step_a", "hostname": "w1@host.1.abc"}
    assert received["kwargs"].startswith("{'label': 'xxx") and len(received["kwargs"]) == 1024
    started, succeeded = by_task["fast"][1:]
    assert started["pid"] > 0 and succeeded["result"] == "{'total': 6}"
    assert succeeded["runtime"] == 0.25
    assert hooks.pending == {} and hooks.announced == set() and hooks.running == {}


def test_arguments_are_shown_as_they_were_received(events_app):
    """A task that mutates its arguments does not change what its task-received event says."""
    from flowc.runtime.execute import Outcome
    from flowc.runtime.monitoring.worker_side import TaskEventHooks

    hooks = TaskEventHooks(Consumer(events_app, ["celery"], "w1@host.1.abc"))
    message = _message(events_app, id="mutated")
    hooks.received(message)
    hooks.started(events_app.tasks["ev.add"], message)
    message.args[1].append(4)
    hooks.finished(message, Outcome("SUCCESS", None))
    hooks.flushed()
    received = next(e for e in _all_events(events_app) if e["type"] == "task-received")
    assert received["args"] == "[1, [2, 3]]"


def test_a_failure_after_a_batch_flush_still_reports_received_and_started_once(events_app):
    from flowc.runtime.execute import Outcome
    from flowc.runtime.monitoring.worker_side import TaskEventHooks

    hooks = TaskEventHooks(Consumer(events_app, ["celery"], "w1@host.1.abc"))
    message = _message(events_app, id="late")
    hooks.received(message)
    hooks.flushed()  # received, not started yet (a pool between its two hooks)
    hooks.started(events_app.tasks["ev.add"], message)
    hooks.finished(message, Outcome("FAILURE", exc=KeyError("k"), traceback="Traceback: k"))
    hooks.flushed()
    kinds = [e["type"] for e in _all_events(events_app)]
    assert kinds == ["task-received", "task-started", "task-failed"]


def test_entries_from_before_compact_records_still_read(events_app):
    """An entry of plain event objects (older workers, other tools) reads as it always did."""
    import orjson

    batch = [{"type": "task-received", "uuid": "a", "ts": 1.0, "hostname": "w"},
             {"type": "task-succeeded", "uuid": "a", "ts": 2.0, "hostname": "w"}]
    assert decode_entry({b"e": orjson.dumps(batch)}) == batch
    assert decode_entry({b"e": b'[["t", "too short"]]', b"h": b"w"}) == []


def test_rates_count_compact_records_as_their_three_events(events_app):
    from collections import Counter

    from flowc.runtime.monitoring.events_read import count_types
    from flowc.runtime.monitoring.views import Monitor

    consumer = Consumer(events_app, ["celery"], "w1@host.1.abc")
    attach(consumer)
    for i in range(5):
        events_app.tasks["ev.add"].delay(i, i)
    events_app.tasks["ev.boom"].delay()
    while consumer.processed < 6:
        consumer.run_once()
    consumer.shutdown()
    counts: dict[str, int] = {}
    expanded: Counter[str] = Counter()
    for _, fields in events_app.broker_client.xrange(events_app.keys.events()):
        count_types(fields, counts)
        expanded.update(e["type"] for e in decode_entry(fields))
    assert counts == dict(expanded)
    assert counts["task-succeeded"] == 5 and counts["task-failed"] == 1
    rates = Monitor(events_app).rates()
    assert rates["events"] and rates["succeeded_per_min"] == 5 and rates["failed_per_min"] == 1


def test_a_thread_pool_reports_each_task_once_in_order(events_app):
    """Tasks finish on several threads while flushes write what is unfinished: every task
    still gets exactly one received, one started and one outcome event, in that order."""
    import time as time_mod

    from flowc.runtime.worker.pools import ThreadConsumer

    @events_app.task(name="ev.nap")
    def nap(i: int) -> int:
        time_mod.sleep(0.001 * (i % 7))
        if i % 10 == 3:
            raise ValueError(i)
        return i

    consumer = ThreadConsumer(events_app, ["celery"], "w1@host.1.abc", concurrency=4)
    attach(consumer)
    ids = [nap.delay(i).id for i in range(120)]
    while consumer.processed < len(ids):
        consumer.run_once()
    consumer.shutdown()
    events = _all_events(events_app)
    for i, task_id in enumerate(ids):
        kinds = [e["type"] for e in events if e.get("uuid") == task_id]
        outcome = "task-failed" if i % 10 == 3 else "task-succeeded"
        assert kinds == ["task-received", "task-started", outcome], (i, kinds)
    assert consumer.hooks.pending == {} and consumer.hooks.announced == set()

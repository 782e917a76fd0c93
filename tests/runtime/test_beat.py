"""Beat driven by a controllable clock against a real Redis: due entries, catch-up, restarts,
leadership and fencing, idempotent publishing. No test sleeps through real minutes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from flowc.compiler.canvas.primitives import chain
from flowc.compiler.validate import compile_canvas
from flowc.runtime.app import App
from flowc.runtime.beat.entries import ScheduleEntry, entries_from_app
from flowc.runtime.beat.service import Beat
from flowc.runtime.redis.beat_store import to_us
from flowc.runtime.schedules import crontab, every

from tests.runtime.beat_support import dues, sent

T0 = datetime(2026, 3, 2, 2, 29, 58, tzinfo=UTC)  # a Monday, two seconds before 02:30 UTC
CLEANUP = {"task": "tasks.execute_db_maintenance", "schedule": crontab(hour=2, minute=30)}


def at(hour: int, minute: int, second: int = 0, day: int = 2) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def make_beat(app: App) -> Iterator[Any]:
    """``make_beat(schedule_dict or entries)``: a Beat on the test app; lease released after."""
    made: list[Beat] = []

    def make(schedule: dict[str, Any] | list[ScheduleEntry], **kwargs: Any) -> Beat:
        if isinstance(schedule, dict):
            app.conf.beat_schedule = schedule
            entries = entries_from_app(app)
        else:
            entries = schedule
        beat = Beat(app, entries, **kwargs)
        made.append(beat)
        return beat

    yield make
    for beat in made:
        beat.lock.release()


# --- crontab entries fire when due, once ---------------------------------------------------------

def test_the_seed_cleanup_entry_publishes_its_task_at_0230_utc_once(
        make_beat: Any, redis_client: redis.Redis) -> None:
    beat = make_beat({"daily-database-cleanup": CLEANUP})
    # Given beat has been running since 02:29:58, when the clock reaches 02:30
    assert beat.tick(T0).published == []
    assert beat.tick(at(2, 29, 59)).published == []
    report = beat.tick(at(2, 30, 0, 2) + timedelta(milliseconds=3))
    # Then the task is published once, identified by its due time
    assert [(p.entry, p.due, p.new) for p in report.published] == [
        ("daily-database-cleanup", at(2, 30), True)]
    [message] = sent(redis_client)
    assert message.envelope["task"] == "tasks.execute_db_maintenance"
    assert message.envelope["id"] == report.published[0].run_id
    # And later ticks of the same day publish nothing more
    for t in (at(2, 30, 1), at(2, 31), at(23, 59)):
        assert beat.tick(t).published == []
    assert dues(redis_client, "daily-database-cleanup") == [at(2, 30)]
    # The next day it fires again
    assert [p.due for p in beat.tick(at(2, 30, 0, day=3)).published] == [at(2, 30, day=3)]


def test_a_new_entry_does_not_fire_the_run_it_was_added_after(
        make_beat: Any, redis_client: redis.Redis) -> None:
    # Given the cleanup entry is added at 15:00, long after today's 02:30
    beat = make_beat({"daily-database-cleanup": CLEANUP})
    assert beat.tick(at(15, 0)).published == []
    assert beat.tick(at(23, 0)).published == []
    # Then its first run is tomorrow's
    assert [p.due for p in beat.tick(at(2, 30, 5, day=3)).published] == [at(2, 30, day=3)]


def test_a_new_entry_started_just_after_a_fire_time_still_runs_it_within_grace(
        make_beat: Any, redis_client: redis.Redis) -> None:
    beat = make_beat({"daily-database-cleanup": CLEANUP, "sec": {"task": "t.s", "schedule": 1}})
    published = beat.tick(at(2, 30, 20)).published
    # the newest late time only: a new 1-second entry does not publish the last minute of runs
    assert sorted((p.entry, p.due) for p in published) == [
        ("daily-database-cleanup", at(2, 30)), ("sec", at(2, 30, 20))]


def test_crontab_fields_with_day_of_week_and_a_zone(make_beat: Any,
                                                    redis_client: redis.Redis) -> None:
    entry = {"task": "t.report",
             "schedule": crontab(minute="0,30", hour="9-10", day_of_week="mon-fri"),
             "tz": "Europe/Berlin"}
    beat = make_beat({"report": entry})
    start = datetime(2026, 3, 6, 7, 0, tzinfo=UTC)  # Friday 08:00 in Berlin (CET, UTC+1)
    beat.tick(start)
    t = start
    while t < start + timedelta(days=3, hours=12):  # through the weekend, to Monday 10:30 CET
        t += timedelta(minutes=15)
        beat.tick(t)
    local = [d.astimezone(beat.entries[0].schedule.zone).strftime("%a %H:%M")
             for d in dues(redis_client, "report")]
    assert local == ["Fri 09:00", "Fri 09:30", "Fri 10:00", "Fri 10:30",
                     "Mon 09:00", "Mon 09:30", "Mon 10:00", "Mon 10:30"]


def test_the_fall_back_night_in_berlin_fires_a_fixed_hour_entry_once(
        make_beat: Any, redis_client: redis.Redis) -> None:
    entry = {"task": "t.nightly", "schedule": "30 2 * * *", "tz": "Europe/Berlin"}
    beat = make_beat({"nightly": entry})
    t = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # Sat 00:00 CEST; clocks fall back at 03:00
    beat.tick(t)
    while t < datetime(2026, 10, 25, 6, 0, tzinfo=UTC):
        t += timedelta(minutes=5)
        beat.tick(t)
    # 02:30 CEST (00:30 UTC) only, not again at 02:30 CET (01:30 UTC)
    assert dues(redis_client, "nightly") == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]


# --- catch-up after downtime ---------------------------------------------------------------------

@pytest.mark.parametrize(("policy", "expected_days"), [
    ("skip", []),
    ("once", [5]),
    ("all", [3, 4, 5]),
])
def test_catch_up_policies_after_beat_was_down_for_days(
        make_beat: Any, redis_client: redis.Redis, policy: str, expected_days: list[int]) -> None:
    beat = make_beat({"cleanup": {**CLEANUP, "catchup": policy}})
    # Given Monday's run happened and beat went down at Monday 10:00
    beat.tick(T0)
    beat.tick(at(2, 30, 1))
    beat.tick(at(10, 0))
    # When it comes back on Thursday at 12:00
    report = beat.tick(at(12, 0, day=5))
    # Then the policy decides which of Tuesday..Thursday 02:30 run now
    assert [p.due for p in report.published] == [at(2, 30, day=d) for d in expected_days]
    assert dues(redis_client, "cleanup") == [at(2, 30)] + [at(2, 30, day=d)
                                                           for d in expected_days]
    # And nothing of the outage is reconsidered later
    assert beat.tick(at(12, 1, day=5)).published == []
    assert [p.due for p in beat.tick(at(2, 30, 2, day=6)).published] == [at(2, 30, day=6)]


def test_a_failover_shorter_than_grace_loses_no_interval_run(make_beat: Any,
                                                             redis_client: redis.Redis) -> None:
    beat = make_beat({"sec": {"task": "t.s", "schedule": every(1)}})
    beat.tick(T0)
    # ten seconds without a tick (the leader died; the next one takes over) ...
    beat.tick(T0 + timedelta(seconds=10, milliseconds=400))
    # ... are published late, oldest first, each once
    assert dues(redis_client, "sec") == [T0 + timedelta(seconds=s) for s in range(11)]


# --- state in Redis: restart neither re-fires nor misses -----------------------------------------

def test_a_restarted_beat_continues_from_the_state_in_redis(
        app: App, make_beat: Any, redis_client: redis.Redis) -> None:
    schedule = {"cleanup": CLEANUP, "sec": {"task": "t.s", "schedule": 1}}
    first = make_beat(schedule)
    for s in range(6):  # 02:29:58 .. 02:30:03
        first.tick(T0 + timedelta(seconds=s))
    first.lock.release()  # a clean stop; a new process starts (a new candidate, a new fence)
    second = make_beat(schedule)
    # When the new process ticks again at a time already handled, and after a short gap
    assert second.tick(T0 + timedelta(seconds=5)).published == []
    second.tick(T0 + timedelta(seconds=8))
    # Then each due time was published once: no re-fire, no miss
    assert dues(redis_client, "sec") == [T0 + timedelta(seconds=s) for s in range(9)]
    assert dues(redis_client, "cleanup") == [at(2, 30)]
    assert second.lock.lease is not None and first.lock.lease is None
    state = redis_client.hgetall(app.keys.beat_state())
    assert state == {b"last:cleanup": str(to_us(at(2, 30))).encode(),
                     b"last:sec": str(to_us(T0 + timedelta(seconds=8))).encode()}


def test_an_interrupted_publish_is_finished_once_by_the_next_leader(
        app: App, make_beat: Any, redis_client: redis.Redis) -> None:
    first = make_beat({"cleanup": CLEANUP})
    first.tick(T0)
    lease = first.lock.held()
    entry = first.entries[0]
    # Given a leader claimed and published 02:30, then died before recording it
    first.store.claim(lease, "cleanup", at(2, 30))
    first.publisher.publish(entry, at(2, 30))
    redis_client.delete(app.keys.beat_lock())  # its lease expired
    # When another process leads
    second = make_beat({"cleanup": CLEANUP})
    report = second.tick(at(2, 30, 4))
    # Then it finishes the pending due time without publishing it again
    assert [(p.due, p.new) for p in report.published] == [(at(2, 30), False)]
    assert dues(redis_client, "cleanup") == [at(2, 30)]
    assert redis_client.hkeys(app.keys.beat_state()) == [b"last:cleanup"]


# --- several beat processes ----------------------------------------------------------------------

def test_only_the_leader_publishes_when_two_beats_tick_together(
        make_beat: Any, redis_client: redis.Redis) -> None:
    schedule = {"sec": {"task": "t.s", "schedule": 1}}
    a, b = make_beat(schedule), make_beat(schedule)
    for s in range(5):
        now = T0 + timedelta(seconds=s)
        ra, rb = a.tick(now), b.tick(now)
        assert ra.leader and not rb.leader and rb.published == []
    assert dues(redis_client, "sec") == [T0 + timedelta(seconds=s) for s in range(5)]


def test_a_deposed_leader_cannot_publish_with_its_old_fencing_token(
        app: App, make_beat: Any, redis_client: redis.Redis) -> None:
    schedule = {"sec": {"task": "t.s", "schedule": 1}}
    a, b = make_beat(schedule), make_beat(schedule)
    a.tick(T0)
    old = a.lock.held()
    assert old is not None
    # Given a's lease expires while it is paused, and b takes over with a larger fence
    redis_client.delete(app.keys.beat_lock())
    b.tick(T0 + timedelta(seconds=1))
    new = b.lock.held()
    assert new is not None and new.fence > old.fence
    # When a wakes up still believing it leads (its own clock says the lease is valid)
    report = a.tick(T0 + timedelta(seconds=2))
    # Then Redis rejects its token: it published nothing and follows
    assert not report.leader and report.published == []
    assert a.lock.lease is None
    assert dues(redis_client, "sec") == [T0, T0 + timedelta(seconds=1)]


def test_publishing_one_due_time_twice_enqueues_one_message(
        app: App, make_beat: Any, redis_client: redis.Redis) -> None:
    beat = make_beat({"cleanup": {**CLEANUP, "options": {"queue": "maint", "priority": 7}}})
    first = beat.publisher.publish(beat.entries[0], at(2, 30))
    again = beat.publisher.publish(beat.entries[0], at(2, 30))
    assert first.new and not again.new and again.run_id == first.run_id
    [message] = sent(redis_client, "maint")
    assert message.envelope["priority"] == 7 and message.envelope["queue"] == "maint"
    marker = app.keys.beat_fired("cleanup", to_us(at(2, 30)), "maint")
    assert redis_client.get(marker) == first.run_id.encode()
    assert 0 < redis_client.ttl(marker) <= 6 * 3600


def test_beat_leaves_only_its_lease_fence_state_markers_and_the_queue(
        app: App, make_beat: Any, redis_client: redis.Redis) -> None:
    beat = make_beat({"cleanup": CLEANUP})
    beat.tick(T0)
    beat.tick(at(2, 30))
    marker = app.keys.beat_fired("cleanup", to_us(at(2, 30)), "celery")
    expected = {app.keys.beat_lock(), app.keys.beat_fence(), app.keys.beat_state(), marker,
                app.keys.queues(), *app.keys.streams("celery")}
    assert {k.decode() for k in redis_client.keys("*")} == expected
    assert 0 < redis_client.pttl(app.keys.beat_lock()) <= app.conf.flowc_beat_lock_ttl * 1000
    assert redis_client.ttl(app.keys.beat_state()) == -1  # state never expires


# --- messages, workflows, dry run, timing --------------------------------------------------------

def test_messages_carry_args_kwargs_options_and_a_deterministic_id(
        app: App, make_beat: Any, redis_client: redis.Redis) -> None:
    entry = {"task": "t.report", "schedule": 60, "args": [1, "a"], "kwargs": {"k": True},
             "options": {"queue": "reports", "priority": 3, "expires": 30,
                         "headers": {"who": "beat"}}}
    beat = make_beat({"report": entry})
    beat.tick(at(2, 29, 0))
    [message] = sent(redis_client, "reports")
    env = message.envelope
    assert (env["task"], env["args"], env["kwargs"]) == ("t.report", [1, "a"], {"k": True})
    assert env["headers"] == {"who": "beat", "beat_entry": "report",
                              "beat_due": at(2, 29).isoformat()}
    assert env["id"] == beat.store.run_id("report", at(2, 29))
    assert "expires" in env


def test_a_countdown_option_waits_in_the_delayed_set(app: App, make_beat: Any,
                                                     redis_client: redis.Redis) -> None:
    beat = make_beat({"later": {"task": "t.s", "schedule": 60,
                                "options": {"countdown": 3600}}})
    beat.tick(datetime.now(UTC))
    assert app.broker.depth("celery") == {"ready": 0, "delayed": 1}


def test_a_workflow_entry_submits_its_run_once_per_due_time(
        app: App, make_beat: Any, redis_client: redis.Redis) -> None:
    @app.task(name="add")
    def add(x: int, y: int) -> int:
        return x + y

    wf = compile_canvas(chain(add.s(1, 2), add.s(3)), app.tasks, (), {}, {})
    entry = ScheduleEntry("pipeline", every(60), workflow=wf, source="test.flow:3")
    beat = make_beat([entry])
    report = beat.tick(at(2, 30, 1))
    [published] = report.published
    assert published.new and published.run_id == beat.store.run_id("pipeline", at(2, 30))
    assert beat.publisher.publish(entry, at(2, 30)).new is False
    assert app.workflow(published.run_id).status() is not None
    assert app.broker.depth("celery")["ready"] == 1  # the chain's first step, once


def test_dry_run_logs_what_it_would_publish_and_writes_nothing(
        make_beat: Any, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture) -> None:
    beat = make_beat({"daily-database-cleanup": CLEANUP}, dry_run=True)
    caplog.set_level("INFO", logger="flowc.beat")
    beat.tick(T0)
    report = beat.tick(at(2, 30, 1))
    assert [p.due for p in report.published] == [at(2, 30)]
    assert "would publish daily-database-cleanup due 2026-03-02T02:30:00+00:00" in caplog.text
    assert redis_client.keys("*") == []


def test_the_loop_sleeps_until_the_next_fire_time_capped_by_max_loop_interval(
        app: App, make_beat: Any) -> None:
    app.conf.beat_max_loop_interval = 5.0
    beat = make_beat({"cleanup": CLEANUP}, lock_ttl_s=60.0)  # renewals every 20 s
    assert beat.tick(at(2, 29, 58)).sleep_s == pytest.approx(2.0, abs=0.01)
    assert beat.tick(at(2, 31)).sleep_s == pytest.approx(5.0, abs=0.01)
    # a leader also wakes up to renew its lease in time
    beat.lock.release()
    short = make_beat({"cleanup": CLEANUP}, lock_ttl_s=3.0)
    report = short.tick(at(2, 31))
    assert report.leader and report.sleep_s <= 1.0
    follower = make_beat({"cleanup": CLEANUP})
    report = follower.tick(at(2, 31))
    assert not report.leader and 0 < report.sleep_s <= follower.lock.renew_interval_s

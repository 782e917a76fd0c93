"""Catch-up policies: which due times beat publishes after a tick, a hiccup or an outage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from flowc.runtime.schedules import ScheduleError, cron, due_times, every, plan_due

DAILY = cron("30 2 * * *")
MINUTELY = cron("* * * * *")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


# -- normal operation --------------------------------------------------------------------------


def test_a_tick_just_after_the_fire_time_publishes_it() -> None:
    assert due_times(DAILY, utc(2026, 5, 1, 2, 30), utc(2026, 5, 2, 2, 30, 0, 300_000)) == [
        utc(2026, 5, 2, 2, 30)
    ]


def test_a_tick_before_the_next_fire_time_publishes_nothing() -> None:
    assert due_times(DAILY, utc(2026, 5, 1, 2, 30), utc(2026, 5, 2, 2, 29, 59)) == []


def test_a_tick_exactly_at_the_fire_time_publishes_it() -> None:
    assert due_times(DAILY, utc(2026, 5, 1, 2, 30), utc(2026, 5, 2, 2, 30)) == [
        utc(2026, 5, 2, 2, 30)
    ]


def test_an_already_recorded_fire_time_is_not_published_again() -> None:
    assert due_times(DAILY, utc(2026, 5, 2, 2, 30), utc(2026, 5, 2, 2, 30, 5)) == []


def test_a_hiccup_shorter_than_grace_loses_no_fire_time() -> None:
    # Given a leader failover of 5 s on a 1-second interval, all five seconds are still published.
    last, now = utc(2026, 5, 1, 0, 0, 0), utc(2026, 5, 1, 0, 0, 5)
    assert due_times(every(1), last, now, grace=30) == [
        utc(2026, 5, 1, 0, 0, s) for s in range(1, 6)
    ]


def test_a_clock_behind_the_recorded_fire_time_publishes_nothing() -> None:
    assert due_times(every(1), utc(2026, 5, 1, 0, 0, 10), utc(2026, 5, 1, 0, 0, 8)) == []


# -- skip --------------------------------------------------------------------------------------


def test_skip_drops_fire_times_missed_during_downtime() -> None:
    # Down from May 1 to May 4 at noon: three 02:30 runs are older than grace.
    assert due_times(DAILY, utc(2026, 5, 1, 2, 30), utc(2026, 5, 4, 12)) == []


def test_skip_still_publishes_the_fire_time_within_grace_after_downtime() -> None:
    now = utc(2026, 5, 4, 2, 30, 45)
    assert due_times(DAILY, utc(2026, 5, 1, 2, 30), now, grace=60) == [utc(2026, 5, 4, 2, 30)]


def test_skip_reports_the_newest_missed_time_as_the_new_last_fire() -> None:
    plan = plan_due(DAILY, utc(2026, 5, 1, 2, 30), utc(2026, 5, 4, 12))
    assert (plan.publish, plan.latest_due, plan.missed) == ((), utc(2026, 5, 4, 2, 30), True)


def test_skip_is_cheap_after_a_long_outage_of_a_minutely_entry() -> None:
    plan = plan_due(MINUTELY, utc(2025, 5, 1), utc(2026, 5, 1, 0, 0, 30), grace=10)
    assert plan.latest_due == utc(2026, 5, 1)


def test_a_fire_time_exactly_grace_old_is_still_late_not_missed() -> None:
    assert due_times(DAILY, utc(2026, 5, 1, 2, 30), utc(2026, 5, 2, 2, 31), grace=60) == [
        utc(2026, 5, 2, 2, 30)
    ]


# -- once --------------------------------------------------------------------------------------


def test_once_publishes_one_run_for_all_missed_fire_times() -> None:
    assert due_times(DAILY, utc(2026, 5, 1, 2, 30), utc(2026, 5, 4, 12), policy="once") == [
        utc(2026, 5, 4, 2, 30)
    ]


def test_once_lets_a_late_run_stand_for_the_missed_ones() -> None:
    now = utc(2026, 5, 4, 2, 30, 10)
    assert due_times(DAILY, utc(2026, 5, 1, 2, 30), now, policy="once") == [utc(2026, 5, 4, 2, 30)]


def test_once_publishes_nothing_when_nothing_was_due() -> None:
    assert due_times(DAILY, utc(2026, 5, 1, 2, 30), utc(2026, 5, 1, 12), policy="once") == []


# -- all ---------------------------------------------------------------------------------------


def test_all_publishes_every_missed_fire_time_oldest_first() -> None:
    assert due_times(DAILY, utc(2026, 5, 1, 2, 30), utc(2026, 5, 4, 12), policy="all") == [
        utc(2026, 5, 2, 2, 30),
        utc(2026, 5, 3, 2, 30),
        utc(2026, 5, 4, 2, 30),
    ]


# -- no recorded state -------------------------------------------------------------------------


def test_a_new_entry_does_not_backfill_whatever_the_policy() -> None:
    assert due_times(DAILY, None, utc(2026, 5, 4, 12), policy="all") == []


def test_a_new_entry_publishes_a_fire_time_within_grace() -> None:
    assert due_times(DAILY, None, utc(2026, 5, 4, 2, 30, 2)) == [utc(2026, 5, 4, 2, 30)]


# -- validation --------------------------------------------------------------------------------


def test_unknown_policy_is_rejected_with_the_choices() -> None:
    with pytest.raises(ScheduleError, match="unknown catch-up policy 'twice'") as e:
        due_times(DAILY, None, utc(2026, 5, 4), policy=cast(Any, "twice"))
    assert e.value.hint == "use one of skip, once, all"


def test_negative_grace_is_rejected() -> None:
    with pytest.raises(ScheduleError, match="grace must be >= 0"):
        due_times(DAILY, None, utc(2026, 5, 4), grace=timedelta(seconds=-1))

"""every(): a fixed grid of real elapsed time, identical on every beat process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from flowc.runtime.schedules import ScheduleError, every


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def test_interval_fires_on_multiples_of_the_interval_since_the_unix_epoch() -> None:
    assert every(30).next_after(utc(2026, 5, 1, 12, 0, 7)) == utc(2026, 5, 1, 12, 0, 30)


def test_interval_next_after_is_strictly_after_a_fire_time() -> None:
    assert every(30).next_after(utc(2026, 5, 1, 12, 0, 30)) == utc(2026, 5, 1, 12, 1, 0)


def test_two_processes_starting_at_different_times_share_the_grid() -> None:
    early = every(7).next_n(utc(2026, 5, 1, 12, 0, 0), 10)
    late = every(7).next_n(utc(2026, 5, 1, 12, 0, 3, 123456), 5)
    assert set(late) <= set(early)


def test_interval_grid_can_be_anchored_explicitly() -> None:
    quarter_past = every(timedelta(hours=1), anchor=utc(2026, 1, 1, 0, 15))
    assert quarter_past.next_after(utc(2026, 5, 1, 12, 20)) == utc(2026, 5, 1, 13, 15)


def test_interval_before_its_anchor_extends_the_grid_backwards() -> None:
    grid = every(60, anchor=utc(2026, 1, 1, 0, 0, 10))
    assert grid.next_after(utc(2025, 12, 31, 23, 0)) == utc(2025, 12, 31, 23, 0, 10)


def test_fractional_intervals_do_not_drift() -> None:
    tenth = every(0.1)
    fires = tenth.next_n(utc(2026, 5, 1), 1000)
    assert fires[-1] == utc(2026, 5, 1, 0, 1, 40)


def test_interval_ignores_dst() -> None:
    daily = every(timedelta(days=1))
    assert daily.next_after(utc(2026, 3, 29, 0, 30)) - daily.next_after(
        utc(2026, 3, 28, 0, 30)
    ) == (timedelta(days=1))


def test_fire_times_between_is_open_on_the_left_and_closed_on_the_right() -> None:
    fires = list(every(10).fire_times_between(utc(2026, 5, 1, 0, 0, 0), utc(2026, 5, 1, 0, 0, 30)))
    assert fires == [
        utc(2026, 5, 1, 0, 0, 10),
        utc(2026, 5, 1, 0, 0, 20),
        utc(2026, 5, 1, 0, 0, 30),
    ]


def test_next_n_lists_upcoming_fire_times() -> None:
    assert every(60).next_n(utc(2026, 5, 1, 0, 0, 30), 2) == [
        utc(2026, 5, 1, 0, 1),
        utc(2026, 5, 1, 0, 2),
    ]


def test_describe_interval() -> None:
    assert every(timedelta(hours=1, minutes=30)).describe() == "every 1h30m"
    assert every(1.5).describe() == "every 1.5s"


@pytest.mark.parametrize("bad", [0, -5, float("nan"), float("inf"), True, "30"])
def test_invalid_interval_is_rejected(bad: object) -> None:
    with pytest.raises(ScheduleError, match="interval"):
        every(cast(Any, bad))


def test_naive_anchor_is_rejected() -> None:
    with pytest.raises(ScheduleError, match="anchor is a naive datetime"):
        every(30, anchor=datetime(2026, 1, 1))

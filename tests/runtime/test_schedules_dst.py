"""crontab across DST changes: no double fire in the repeated hour, no skipped fire in the gap.

Europe/Berlin 2026: clocks spring forward 03-29 02:00 CET -> 03:00 CEST (01:00 UTC) and fall back
10-25 03:00 CEST -> 02:00 CET (01:00 UTC). America/New_York 2026: 03-08 02:00 EST -> 03:00 EDT
(07:00 UTC) and 11-01 02:00 EDT -> 01:00 EST (06:00 UTC).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from flowc.runtime.schedules import cron, crontab

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def local(
    zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, fold: int = 0
) -> datetime:
    wall = datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone), fold=fold)
    return wall.astimezone(UTC)


def fires_on(schedule: crontab, zone: str, day: datetime) -> list[datetime]:
    start = local(zone, day.year, day.month, day.day) - timedelta(microseconds=1)
    end = local(zone, day.year, day.month, day.day) + timedelta(days=1, hours=-1)
    return list(schedule.fire_times_between(start, end))


# -- Europe/Berlin, spring forward ---------------------------------------------------------------


def test_berlin_daily_0230_fires_at_0300_on_the_spring_forward_day() -> None:
    daily = cron("30 2 * * *", tz=BERLIN)
    assert daily.next_after(utc(2026, 3, 28, 12)) == local(BERLIN, 2026, 3, 29, 3, 0)


def test_berlin_daily_0230_resumes_at_0230_the_day_after_spring_forward() -> None:
    daily = cron("30 2 * * *", tz=BERLIN)
    assert daily.next_after(local(BERLIN, 2026, 3, 29, 3, 0)) == local(BERLIN, 2026, 3, 30, 2, 30)


def test_berlin_several_wall_times_inside_the_gap_fire_once() -> None:
    twice_in_gap = cron("0,30 2 * * *", tz=BERLIN)
    assert fires_on(twice_in_gap, BERLIN, utc(2026, 3, 29)) == [local(BERLIN, 2026, 3, 29, 3, 0)]


def test_berlin_gap_time_and_0300_do_not_double_fire_at_0300() -> None:
    two_and_three = cron("0 2,3 * * *", tz=BERLIN)
    assert fires_on(two_and_three, BERLIN, utc(2026, 3, 29)) == [local(BERLIN, 2026, 3, 29, 3, 0)]


def test_berlin_every_15_minutes_continues_on_real_time_across_the_gap() -> None:
    quarter = cron("*/15 * * * *", tz=BERLIN)
    fires = quarter.next_n(local(BERLIN, 2026, 3, 29, 1, 30), 3)
    assert fires == [
        local(BERLIN, 2026, 3, 29, 1, 45),
        local(BERLIN, 2026, 3, 29, 3, 0),
        local(BERLIN, 2026, 3, 29, 3, 15),
    ]
    assert fires[1] - fires[0] == timedelta(minutes=15)


# -- Europe/Berlin, fall back ------------------------------------------------------------------


def test_berlin_daily_0230_fires_once_at_the_first_occurrence_when_clocks_fall_back() -> None:
    daily = cron("30 2 * * *", tz=BERLIN)
    assert fires_on(daily, BERLIN, utc(2026, 10, 25)) == [local(BERLIN, 2026, 10, 25, 2, 30)]


def test_berlin_daily_0230_does_not_refire_when_asked_from_inside_the_repeated_hour() -> None:
    daily = cron("30 2 * * *", tz=BERLIN)
    second_pass_0210 = local(BERLIN, 2026, 10, 25, 2, 10, fold=1)
    assert daily.next_after(second_pass_0210) == local(BERLIN, 2026, 10, 26, 2, 30)


def test_berlin_fixed_hour_minutely_runs_through_the_repeated_hour_once() -> None:
    every_minute_of_two = cron("* 2 * * *", tz=BERLIN)
    assert len(fires_on(every_minute_of_two, BERLIN, utc(2026, 10, 25))) == 60


def test_berlin_every_15_minutes_fires_at_both_occurrences_of_the_repeated_hour() -> None:
    quarter = cron("*/15 * * * *", tz=BERLIN)
    fires = list(quarter.fire_times_between(utc(2026, 10, 24, 23, 59), utc(2026, 10, 25, 2, 0)))
    assert len(fires) == 9  # 00:00 .. 02:00 UTC: 02:00-02:45 CEST, 02:00-02:45 CET, 03:00 CET
    assert {b - a for a, b in pairwise(fires)} == {timedelta(minutes=15)}


def test_berlin_every_15_minutes_reaches_the_second_pass_from_inside_the_first() -> None:
    quarter = cron("*/15 * * * *", tz=BERLIN)
    first_pass_0250 = local(BERLIN, 2026, 10, 25, 2, 50)
    assert quarter.next_after(first_pass_0250) == local(BERLIN, 2026, 10, 25, 2, 0, fold=1)


def test_berlin_hourly_fires_every_real_hour_through_the_repeated_hour() -> None:
    hourly = cron("0 * * * *", tz=BERLIN)
    fires = hourly.next_n(utc(2026, 10, 24, 23, 30), 4)
    assert fires == [
        utc(2026, 10, 25, 0),
        utc(2026, 10, 25, 1),
        utc(2026, 10, 25, 2),
        utc(2026, 10, 25, 3),
    ]


# -- America/New_York --------------------------------------------------------------------------


def test_new_york_daily_0230_fires_at_0300_edt_on_the_spring_forward_day() -> None:
    daily = crontab(minute=30, hour=2, tz=NEW_YORK)
    assert fires_on(daily, NEW_YORK, utc(2026, 3, 8)) == [utc(2026, 3, 8, 7, 0)]


def test_new_york_daily_0130_fires_once_at_0130_edt_when_clocks_fall_back() -> None:
    daily = crontab(minute=30, hour=1, tz=NEW_YORK)
    assert fires_on(daily, NEW_YORK, utc(2026, 11, 1)) == [utc(2026, 11, 1, 5, 30)]


def test_new_york_half_past_every_hour_fires_twice_at_0130_when_clocks_fall_back() -> None:
    half_past = crontab(minute=30, tz=NEW_YORK)
    fires = list(half_past.fire_times_between(utc(2026, 11, 1, 5), utc(2026, 11, 1, 7)))
    assert fires == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30)]


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        (BERLIN, utc(2026, 3, 29)),
        (BERLIN, utc(2026, 10, 25)),
        (NEW_YORK, utc(2026, 3, 8)),
        (NEW_YORK, utc(2026, 11, 1)),
    ],
)
def test_every_fixed_daily_time_fires_exactly_once_on_transition_days(
    zone: str, day: datetime
) -> None:
    for hour in range(5):
        for minute in (0, 15, 30, 45):
            daily = crontab(minute=minute, hour=hour, tz=zone)
            before, after = day - timedelta(days=1), day + timedelta(days=2)
            start = local(zone, before.year, before.month, before.day) - timedelta(microseconds=1)
            end = local(zone, after.year, after.month, after.day) - timedelta(microseconds=1)
            fires = list(daily.fire_times_between(start, end))
            per_day = Counter(f.astimezone(ZoneInfo(zone)).date() for f in fires)
            assert sorted(per_day.values()) == [1, 1, 1], (zone, hour, minute, fires)


def test_a_skipped_calendar_day_fires_at_the_first_instant_after_it() -> None:
    # Samoa skipped 2011-12-30 entirely when it moved across the date line.
    noon = crontab(minute=0, hour=12, tz="Pacific/Apia")
    assert noon.next_after(local("Pacific/Apia", 2011, 12, 29, 13)) == local(
        "Pacific/Apia", 2011, 12, 31, 0, 0
    )

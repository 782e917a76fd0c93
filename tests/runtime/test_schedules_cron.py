"""crontab fields, names, ranges, steps and errors, with Celery's semantics."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from flowc.dsl.errors import FlowcError
from flowc.runtime.schedules import ScheduleError, cron, crontab


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


# -- field expansion ---------------------------------------------------------------------------


def test_star_slash_n_expands_from_the_field_minimum() -> None:
    assert crontab(minute="*/15").minute == {0, 15, 30, 45}


def test_range_with_step_takes_every_nth_value_of_the_range() -> None:
    assert crontab(hour="0,8-17/2").hour == {0, 8, 10, 12, 14, 16}


def test_value_with_step_means_value_to_maximum() -> None:
    assert crontab(minute="5/20").minute == {5, 25, 45}


def test_range_ending_below_its_start_wraps_around_like_celery() -> None:
    assert crontab(minute="55-2").minute == {55, 56, 57, 58, 59, 0, 1, 2}


def test_lists_sets_ranges_and_ints_are_accepted() -> None:
    assert crontab(minute=[0, 30], hour={1, 2}, day_of_month=range(1, 4)).day_of_month == {1, 2, 3}
    assert crontab(minute=7).minute == {7}


def test_day_of_week_counts_sunday_as_zero() -> None:
    assert crontab(day_of_week="sun").day_of_week == {0}


def test_day_of_week_seven_is_sunday_too() -> None:
    assert crontab(day_of_week=7).day_of_week == {0}
    assert crontab(day_of_week="5-7").day_of_week == {5, 6, 0}


def test_day_of_week_names_and_name_ranges() -> None:
    assert crontab(day_of_week="mon-fri").day_of_week == {1, 2, 3, 4, 5}
    assert crontab(day_of_week="Friday,SAT").day_of_week == {5, 6}


def test_day_of_week_name_range_wraps_over_the_weekend() -> None:
    assert crontab(day_of_week="fri-mon").day_of_week == {5, 6, 0, 1}


def test_month_names() -> None:
    assert crontab(month_of_year="jan,jul-sep").month_of_year == {1, 7, 8, 9}


def test_day_fields_are_anded_like_celery_not_ored_like_unix_cron() -> None:
    # First Sunday of each month: day_of_week AND day_of_month 1-7.
    first_sundays = crontab(minute=0, hour=0, day_of_week="sun", day_of_month="1-7")
    assert first_sundays.next_n(at(2026, 1, 1), 3) == [
        at(2026, 1, 4),
        at(2026, 2, 1),
        at(2026, 3, 1),
    ]


# -- next fire times ---------------------------------------------------------------------------


def test_next_after_is_strictly_after_a_fire_time() -> None:
    assert crontab(minute=30, hour=2).next_after(at(2026, 5, 1, 2, 30)) == at(2026, 5, 2, 2, 30)


def test_next_after_mid_minute_fires_at_the_next_matching_minute() -> None:
    assert crontab(minute="*").next_after(at(2026, 5, 1, 2, 30, 0, 1)) == at(2026, 5, 1, 2, 31)


def test_every_15_minutes_on_weekdays_skips_the_weekend() -> None:
    friday_late = at(2026, 5, 1, 23, 50)  # 2026-05-01 is a Friday
    assert crontab(minute="*/15", day_of_week="mon-fri").next_after(friday_late) == at(
        2026, 5, 4, 0, 0
    )


def test_day_31_skips_short_months() -> None:
    assert crontab(minute=0, hour=0, day_of_month=31).next_after(at(2026, 3, 31)) == at(2026, 5, 31)


def test_february_29_fires_only_in_leap_years() -> None:
    assert cron("0 0 29 2 *").next_after(at(2024, 3, 1)) == at(2028, 2, 29)


def test_result_is_aware_utc_whatever_zone_the_input_has() -> None:
    from zoneinfo import ZoneInfo

    t = datetime(2026, 5, 1, 12, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert crontab(minute=0).next_after(t).tzinfo is UTC


def test_next_fire_times_match_celerys_own_crontab() -> None:
    celery_schedules = pytest.importorskip("celery.schedules")
    from celery import Celery

    app = Celery(set_as_current=False)
    app.conf.timezone = "UTC"
    rng = random.Random(7)
    specs = [
        ("*/15", "*", "*", "*", "*"),
        ("0", "9-17", "mon-fri", "*", "*"),
        ("5", "*/3", "*", "1,15", "*"),
        ("0", "0", "sun", "1-7", "*"),
        ("10,40", "8,20", "*", "*", "jan,jul"),
        ("45", "23", "fri-mon", "*", "*"),
        ("0", "0", "*", "29", "2"),
    ]
    for spec in specs:
        ours, theirs = crontab(*spec), celery_schedules.crontab(*spec, app=app)
        for _ in range(50):
            last = at(2024, 1, 1) + timedelta(minutes=rng.randrange(3 * 365 * 24 * 60))
            _, delta, _ = theirs.remaining_delta(last)
            assert ours.next_after(last) == last + delta, (spec, last)


# -- cron strings ------------------------------------------------------------------------------


def test_from_string_orders_fields_like_unix_cron() -> None:
    c = crontab.from_string("30 2 1 6 mon")
    assert (c.minute, c.hour, c.day_of_month, c.month_of_year, c.day_of_week) == (
        {30},
        {2},
        {1},
        {6},
        {1},
    )


def test_cron_constructor_carries_the_zone() -> None:
    assert str(cron("30 2 * * *", tz="Europe/Berlin").zone) == "Europe/Berlin"


def test_macros_expand_to_their_cron_strings() -> None:
    assert cron("@daily") == cron("0 0 * * *")
    assert cron("@hourly") == cron("0 * * * *")


def test_expression_round_trips_to_a_cron_string() -> None:
    assert crontab(minute=30, hour=2, day_of_week="mon-fri").expression == "30 2 * * mon-fri"


def test_equal_schedules_compare_and_hash_equal() -> None:
    assert crontab(minute="0,30") == crontab(minute=[30, 0])
    assert len({crontab(minute="0,30"), crontab(minute=[30, 0])}) == 1


def test_describe_a_daily_schedule() -> None:
    assert cron("30 2 * * *", tz="Europe/Berlin").describe() == (
        "cron '30 2 * * *' (every day at 02:30, Europe/Berlin)"
    )


def test_describe_an_every_n_minutes_schedule() -> None:
    assert cron("*/15 * * * *").describe() == "cron '*/15 * * * *' (every 15 minutes, UTC)"


# -- invalid expressions -----------------------------------------------------------------------


def test_out_of_range_minute_names_the_field_and_range() -> None:
    with pytest.raises(ScheduleError, match=r"minute 61 is out of range 0-59"):
        crontab(minute=61)


def test_every_invalid_field_is_reported_at_once() -> None:
    with pytest.raises(ScheduleError) as e:
        crontab(minute="61", hour="x", day_of_week="funday")
    assert "3 problems" in str(e.value)
    assert "day_of_week 'funday' is not a number or a name" in str(e.value)


def test_error_carries_a_hint_for_the_first_bad_field() -> None:
    with pytest.raises(ScheduleError) as e:
        crontab(hour=24)
    assert e.value.hint == "hour takes 0-23, e.g. '*/3' or '0,8-17/2'"


def test_zero_step_is_rejected() -> None:
    with pytest.raises(ScheduleError, match="minute step '0' is not a whole number >= 1"):
        crontab(minute="*/0")


def test_impossible_date_is_rejected_like_celery() -> None:
    with pytest.raises(ScheduleError, match="never occurs in month_of_year"):
        crontab(day_of_month=30, month_of_year=2)


def test_wrong_number_of_fields_explains_the_format() -> None:
    with pytest.raises(ScheduleError, match="expected 5 fields, found 6") as e:
        cron("0 30 2 * * *")
    assert "minute hour day-of-month month day-of-week" in (e.value.hint or "")


def test_invalid_cron_string_quotes_the_expression() -> None:
    with pytest.raises(ScheduleError, match=r"invalid cron expression '99 \* \* \* \*'"):
        cron("99 * * * *")


def test_unknown_zone_suggests_the_closest_name() -> None:
    with pytest.raises(ScheduleError, match="unknown time zone") as e:
        cron("0 0 * * *", tz="Europe/Berln")
    assert e.value.hint == "did you mean 'Europe/Berlin'?"


def test_schedule_error_is_a_flowc_error_and_a_value_error() -> None:
    with pytest.raises(ScheduleError) as e:
        crontab(minute=-1)
    assert isinstance(e.value, FlowcError)
    assert isinstance(e.value, ValueError)


def test_naive_datetime_is_rejected_with_a_hint() -> None:
    with pytest.raises(ScheduleError, match="naive datetime"):
        crontab().next_after(datetime(2026, 1, 1))

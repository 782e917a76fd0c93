"""as_schedule(): what a beat_schedule entry may hold; resolve_zone(): which zone a crontab uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flowc.runtime.schedules import ScheduleError, as_schedule, cron, crontab, every, resolve_zone


def test_seconds_become_an_interval() -> None:
    assert as_schedule(30) == every(30)
    assert as_schedule(1.5) == every(1.5)


def test_a_timedelta_becomes_an_interval() -> None:
    assert as_schedule(timedelta(minutes=5)) == every(300)


def test_a_duration_string_becomes_an_interval() -> None:
    assert as_schedule("30s") == every(30)
    assert as_schedule("1.5h") == every(5400)


def test_a_cron_string_becomes_a_crontab() -> None:
    assert as_schedule("30 2 * * *") == crontab(minute=30, hour=2)


def test_a_crontab_without_zone_is_bound_to_the_default_zone() -> None:
    bound = as_schedule(crontab(minute=30, hour=2), default_tz="Europe/Berlin")
    assert bound == cron("30 2 * * *", tz="Europe/Berlin")


def test_a_crontab_keeps_its_own_zone_over_the_default() -> None:
    own = cron("30 2 * * *", tz="Asia/Tokyo")
    assert as_schedule(own, default_tz="Europe/Berlin") is own


def test_celery_crontab_objects_convert_for_migrations() -> None:
    celery_schedules = pytest.importorskip("celery.schedules")
    theirs = celery_schedules.crontab(hour=7, minute=30, day_of_week=1)
    assert as_schedule(theirs) == crontab(hour=7, minute=30, day_of_week=1)


def test_celery_interval_schedules_convert_for_migrations() -> None:
    celery_schedules = pytest.importorskip("celery.schedules")
    assert as_schedule(celery_schedules.schedule(run_every=10.0)) == every(10)


@pytest.mark.parametrize("bad", [True, None, object(), "every day"])
def test_unusable_values_are_rejected_with_a_hint(bad: object) -> None:
    with pytest.raises(ScheduleError):
        as_schedule(bad)


def test_entry_zone_wins_over_app_timezone() -> None:
    assert resolve_zone("Asia/Tokyo", "Europe/Berlin") == ZoneInfo("Asia/Tokyo")


def test_app_timezone_applies_when_the_entry_has_none() -> None:
    assert resolve_zone(None, "Europe/Berlin") == ZoneInfo("Europe/Berlin")


def test_enable_utc_without_timezone_means_utc() -> None:
    assert resolve_zone(None, None, enable_utc=True) is UTC


def test_next_n_in_the_entry_zone_for_schedule_list() -> None:
    berlin = cron("0 9 * * mon-fri", tz="Europe/Berlin")
    fires = berlin.next_n(datetime(2026, 5, 1, tzinfo=UTC), 3)  # a Friday
    assert [f.astimezone(berlin.zone).isoformat() for f in fires] == [
        "2026-05-01T09:00:00+02:00",
        "2026-05-04T09:00:00+02:00",
        "2026-05-05T09:00:00+02:00",
    ]

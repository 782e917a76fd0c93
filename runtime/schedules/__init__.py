"""Schedule math for beat: crontab and interval schedules, zones, DST and catch-up policies.

Pure functions and value objects, no Redis: given instants in, instants out. The pieces live in
``schedules_*`` modules (one concept each); import them from here.

- ``crontab(minute=, hour=, day_of_week=, day_of_month=, month_of_year=, tz=)``,
  ``crontab.from_string("30 2 * * *")`` and ``cron("30 2 * * *", tz="Europe/Berlin")``: Celery's
  crontab, DST-correct (``schedules_cron``).
- ``every(30)`` / ``every(timedelta(minutes=5), anchor=...)``: an interval on a fixed grid
  (``schedules_interval``).
- ``Schedule``: the contract, ``next_after(t)``, ``fire_times_between(a, b)``, ``next_n(t, n)``,
  ``describe()`` (``schedules_base``).
- ``due_times`` / ``plan_due``: the ``skip``/``once``/``all`` catch-up policies
  (``schedules_catchup``).
- ``as_schedule(value)``: what a ``beat_schedule`` entry's ``schedule`` may be.

See docs/beat.md for the rules in prose.
"""

from __future__ import annotations

from datetime import timedelta, tzinfo

from .base import Schedule, ScheduleError, get_zone, resolve_zone
from .catchup import DEFAULT_GRACE, CatchUpPolicy, DuePlan, due_times, plan_due
from .cron import cron, crontab
from .interval import every, parse_duration

__all__ = [
    "DEFAULT_GRACE",
    "CatchUpPolicy",
    "DuePlan",
    "Schedule",
    "ScheduleError",
    "as_schedule",
    "cron",
    "crontab",
    "due_times",
    "every",
    "get_zone",
    "parse_duration",
    "plan_due",
    "resolve_zone",
]

_CELERY_CRONTAB_FIELDS = (
    "_orig_minute",
    "_orig_hour",
    "_orig_day_of_week",
    "_orig_day_of_month",
    "_orig_month_of_year",
)


def as_schedule(value: object, default_tz: str | tzinfo | None = None) -> Schedule:
    """Convert what a ``beat_schedule`` entry may hold into a Schedule.

    Accepts a Schedule; seconds as int or float; a timedelta; a cron string (``"30 2 * * *"``,
    ``"@daily"``); a duration string (``"30s"``, ``"5m"``, ``"1h"``); and, for migrations,
    Celery's own ``crontab`` and ``schedule`` objects (read by attribute, Celery is not imported).
    A crontab without its own zone is bound to ``default_tz`` (see ``resolve_zone``).
    """
    schedule = _convert(value)
    if isinstance(schedule, crontab):
        return schedule.with_default_zone(default_tz)
    return schedule


def _convert(value: object) -> Schedule:
    if isinstance(value, Schedule):
        return value
    if isinstance(value, (int, float, timedelta)) and not isinstance(value, bool):
        return every(value)
    if isinstance(value, str):
        duration = parse_duration(value)
        return every(duration) if duration is not None else cron(value)
    if all(hasattr(value, name) for name in _CELERY_CRONTAB_FIELDS):
        fields = [getattr(value, name) for name in _CELERY_CRONTAB_FIELDS]
        return crontab(*fields)
    run_every = getattr(value, "run_every", None)
    if isinstance(run_every, timedelta):
        return every(run_every)
    raise ScheduleError(
        f"cannot use {value!r} ({type(value).__name__}) as a schedule",
        hint="use seconds (30), a timedelta, crontab(...), a cron string ('30 2 * * *') "
        "or a duration string ('30s')",
    )

"""``crontab``: Celery's crontab schedule, evaluated in a zone, correct across DST changes.

The field matcher is flowc's own, not croniter: croniter ORs day_of_month with day_of_week (Unix
cron) where Celery ANDs them, and its handling of the repeated and missing hours is not the rule
below. Fire times are computed in three steps: enumerate matching wall-clock minutes in the zone
(in order, jumping over non-matching months, days and hours), map each wall time to real instants
by the DST rule, and keep the earliest instant after ``t``.

DST rule (documented in docs/beat.md):

- *Fixed-hour* entries (the hour field does not cover all 24 hours, e.g. ``30 2 * * *``) fire at
  the first instant the local clock reaches the wall time. In the repeated hour (clocks fall back)
  02:30 therefore fires once, at its first occurrence; in the missing hour (clocks spring forward)
  02:30 fires once at the first valid instant after the gap (03:00 local) instead of being skipped.
  Several wall times inside one gap collapse into that single instant.
- *Wildcard-hour* entries (the hour field covers all 24 hours, e.g. ``*/15 * * * *``) follow real
  elapsed time, like Vixie cron's wildcard jobs: in the repeated hour they fire at both
  occurrences (every 15 real minutes), and wall times inside the gap do not exist, so nothing is
  due there (the 15-minute rhythm continues after the gap).
"""

from __future__ import annotations

import calendar
import copy
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from flowc.dsl.cron import (
    DAY_OF_MONTH,
    DAY_OF_WEEK,
    FIELDS,
    HOUR,
    MINUTE,
    MONTH_OF_YEAR,
    STRING_ORDER,
    Cronspec,
    FieldSpec,
    days_occur,
    parse_field,
    split_expression,
)

from .base import UTC, Schedule, ScheduleError, get_zone, require_aware

__all__ = ["cron", "crontab"]

MINUTE_STEP = timedelta(minutes=1)
#: The Gregorian calendar repeats every 400 years, so a date pattern that matches nothing in
#: 401 years never matches.
HORIZON_YEARS = 401
_CRON_STRING_HELP = (
    "a cron expression has 5 fields: minute hour day-of-month month day-of-week, "
    "e.g. '30 2 * * *' (02:30 daily) or '*/15 9-17 * * mon-fri'"
)
_DAY_ABBREVIATIONS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")


class crontab(Schedule):  # lower-case: Celery's name, kept for drop-in compatibility
    """A crontab schedule with Celery's fields and semantics, in a time zone.

    ``crontab(minute=30, hour=2)`` fires at 02:30 every day. Fields accept an int, a string
    (``'*/15'``, ``'1-5'``, ``'mon-fri'``, ``'0,30'``) or an iterable of them; see
    ``flowc.dsl.cron`` for the grammar (the one ``flowc check`` uses). Like Celery, and unlike
    Unix cron, a day must match month_of_year AND day_of_month AND day_of_week.
    ``day_of_week`` counts 0 (or 7) = Sunday.

    ``tz`` is an IANA name or tzinfo; ``None`` means "the app's zone", bound later by
    ``with_default_zone`` (beat does this from the ``timezone``/``enable_utc`` settings) and UTC
    until then. Fields are matched by flowc's own matcher (not croniter); the DST rule is in the
    module docstring and docs/beat.md. Raises ScheduleError listing every invalid field.
    """

    def __init__(
        self,
        minute: Cronspec = "*",
        hour: Cronspec = "*",
        day_of_week: Cronspec = "*",
        day_of_month: Cronspec = "*",
        month_of_year: Cronspec = "*",
        tz: str | tzinfo | None = None,
        *,
        nowfun: Callable[[], datetime] | None = None,
        app: Any = None,
    ) -> None:
        raw = (minute, hour, day_of_week, day_of_month, month_of_year)
        self.nowfun = nowfun
        if tz is None and app is not None and getattr(app.conf, "timezone", None):
            tz = app.conf.timezone  # Celery's crontab(app=) reads the app's timezone
        parsed: dict[str, frozenset[int]] = {}
        problems: list[tuple[FieldSpec, str]] = []
        for spec, value in zip(FIELDS, raw, strict=True):
            values, errors = parse_field(spec, value)
            parsed[spec.name] = values
            problems += [(spec, e) for e in errors]
        if problems:
            lines = "\n".join(f"  - {text}" for _, text in problems)
            first = problems[0][0]
            raise ScheduleError(
                f"invalid crontab ({len(problems)} problem{'s' * (len(problems) > 1)}):\n{lines}",
                hint=f"{first.name} takes {first.lo}-{first.max_input}, e.g. {first.example}",
            )
        self.minute = parsed[MINUTE.name]
        self.hour = parsed[HOUR.name]
        self.day_of_week = parsed[DAY_OF_WEEK.name]
        self.day_of_month = parsed[DAY_OF_MONTH.name]
        self.month_of_year = parsed[MONTH_OF_YEAR.name]
        self.tz: tzinfo | None = None if tz is None else get_zone(tz)
        self._texts = {
            spec.name: _field_text(spec, value, parsed[spec.name])
            for spec, value in zip(FIELDS, raw, strict=True)
        }
        self._minutes = sorted(self.minute)
        self._hours = sorted(self.hour)
        self._doms = sorted(self.day_of_month)
        self._check_can_fire()

    # -- constructors --------------------------------------------------------------------------

    @classmethod
    def from_string(cls, expression: str, tz: str | tzinfo | None = None) -> crontab:
        """Build from ``"minute hour day_of_month month_of_year day_of_week"`` (or ``@daily``...).

        The day fields keep Celery's AND semantics (see the class docstring).
        """
        if not isinstance(expression, str):
            raise ScheduleError(f"a cron expression must be a string, got {expression!r}")
        fields, wrong_count = split_expression(expression)
        if wrong_count:
            raise ScheduleError(
                f"invalid cron expression {expression!r}: {wrong_count}", hint=_CRON_STRING_HELP
            )
        minute, hour, day_of_month, month_of_year, day_of_week = fields
        try:
            return cls(minute, hour, day_of_week, day_of_month, month_of_year, tz=tz)
        except ScheduleError as e:
            raise ScheduleError(
                f"invalid cron expression {expression!r}: {e.message}", hint=e.hint
            ) from None

    def with_default_zone(self, zone: str | tzinfo | None) -> crontab:
        """Return this crontab in ``zone`` unless it already has its own zone."""
        if self.tz is not None or zone is None:
            return self
        bound = copy.copy(self)
        bound.tz = get_zone(zone)
        return bound

    # -- the Schedule contract -----------------------------------------------------------------

    @property
    def zone(self) -> tzinfo:
        return UTC if self.tz is None else self.tz

    @property
    def follows_elapsed_time(self) -> bool:
        """True for wildcard-hour entries, which fire at both occurrences of a repeated hour."""
        return len(self.hour) == len(HOUR.values())

    def next_after(self, t: datetime) -> datetime:
        t = require_aware(t)
        local = t.astimezone(self.zone)
        wall = local.replace(tzinfo=None, fold=0)
        if self.follows_elapsed_time:
            # In the second pass of a repeated hour an earlier wall time can still lie ahead.
            offset, other = local.utcoffset(), local.replace(fold=1 - local.fold).utcoffset()
            if offset is not None and other is not None and offset != other:
                wall -= abs(offset - other)
        best: datetime | None = None
        while True:
            wall = self._next_wall(wall)
            instants = self._instants(wall)
            if instants and best is not None and instants[0] >= best:
                return best  # instants[0] never decreases as wall time grows
            for u in instants:
                if u > t and (best is None or u < best):
                    best = u
            if best is not None and not self.follows_elapsed_time:
                return best

    def describe(self) -> str:
        friendly = self._friendly()
        zone = str(self.zone)
        return f"cron '{self.expression}' ({friendly + ', ' if friendly else ''}{zone})"

    # -- presentation ------------------------------------------------------------------------

    @property
    def expression(self) -> str:
        """The schedule as a 5-field cron string: minute hour day_of_month month day_of_week."""
        t = self._texts
        return " ".join(t[s.name] for s in STRING_ORDER)

    def __repr__(self) -> str:
        t = self._texts
        zone = "" if self.tz is None else f" {self.tz}"
        return (
            f"<crontab: {t['minute']} {t['hour']} {t['day_of_month']} {t['month_of_year']} "
            f"{t['day_of_week']} (m/h/dM/MY/d){zone}>"
        )

    def _key(self) -> tuple[object, ...]:
        sets = (self.minute, self.hour, self.day_of_week, self.day_of_month, self.month_of_year)
        return (*sets, None if self.tz is None else str(self.tz))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, crontab) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _friendly(self) -> str:
        all_days = len(self.day_of_month) == 31 and len(self.month_of_year) == 12
        every_weekday = len(self.day_of_week) == len(DAY_OF_WEEK.values())
        if not all_days:
            return ""
        if len(self.minute) == 1 and len(self.hour) == 1:
            at = f"at {self._hours[0]:02d}:{self._minutes[0]:02d}"
            if every_weekday:
                return f"every day {at}"
            days = ", ".join(_DAY_ABBREVIATIONS[d] for d in sorted(self.day_of_week))
            return f"{at} on {days}"
        if not (self.follows_elapsed_time and every_weekday):
            return ""
        if len(self.minute) == 1:
            return f"every hour at minute {self._minutes[0]}"
        step = self._minutes[1] - self._minutes[0]
        if self._minutes[0] == 0 and self.minute == frozenset(range(0, 60, step)):
            return "every minute" if step == 1 else f"every {step} minutes"
        return ""

    # -- wall-clock enumeration and the DST rule ---------------------------------------------

    def _instants(self, wall: datetime) -> list[datetime]:
        """The real instants at which matching wall time ``wall`` fires (see module docstring)."""
        zone = self.zone
        first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
        second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
        if first == second:
            return [first]
        if first < second:  # the wall time occurs twice: clocks fell back
            return [first, second] if self.follows_elapsed_time else [first]
        # the wall time does not exist: clocks sprang forward over it
        return [] if self.follows_elapsed_time else [_gap_end(second, first, zone)]

    def _next_wall(self, after: datetime) -> datetime:
        """The first matching wall-clock minute strictly after the naive datetime ``after``."""
        start = after.replace(second=0, microsecond=0) + MINUTE_STEP
        for day in self._matching_days(start.date()):
            if day == start.date():
                hm = self._first_time(start.hour, start.minute)
            else:
                hm = (self._hours[0], self._minutes[0])
            if hm is not None:
                return datetime.combine(day, time(*hm))
        raise ScheduleError(f"{self!r} has no fire time within {HORIZON_YEARS} years of {after}")

    def _first_time(self, hour: int, minute: int) -> tuple[int, int] | None:
        i = bisect_left(self._hours, hour)
        if i < len(self._hours) and self._hours[i] == hour:
            j = bisect_left(self._minutes, minute)
            if j < len(self._minutes):
                return hour, self._minutes[j]
            i += 1
        return (self._hours[i], self._minutes[0]) if i < len(self._hours) else None

    def _matching_days(self, first: date) -> Iterator[date]:
        year, month, day = first.year, first.month, first.day
        while year <= first.year + HORIZON_YEARS:
            if month in self.month_of_year:
                last = calendar.monthrange(year, month)[1]
                for dom in self._doms[bisect_left(self._doms, day) :]:
                    if dom > last:
                        break
                    d = date(year, month, dom)
                    if d.isoweekday() % 7 in self.day_of_week:
                        yield d
            day, month = 1, month + 1
            if month > len(MONTH_OF_YEAR.values()):
                year, month = year + 1, 1

    def _check_can_fire(self) -> None:
        if not days_occur(self.day_of_month, self.month_of_year):
            raise ScheduleError(
                f"invalid crontab: day_of_month {self._texts['day_of_month']!r} never occurs in "
                f"month_of_year {self._texts['month_of_year']!r}",
                hint="pick days that exist in those months (February has at most 29)",
            )
        if next(self._matching_days(date(2000, 1, 1)), None) is None:
            raise ScheduleError(
                f"invalid crontab: no date matches day_of_month {self._texts['day_of_month']!r}, "
                f"month_of_year {self._texts['month_of_year']!r} and day_of_week "
                f"{self._texts['day_of_week']!r} together",
                hint="flowc (like Celery) requires all three day fields to match",
            )


def cron(expression: str, tz: str | tzinfo | None = None) -> crontab:
    """Build a crontab from a cron string: ``cron("30 2 * * *", tz="Europe/Berlin")``."""
    return crontab.from_string(expression, tz=tz)


def _gap_end(before: datetime, after: datetime, zone: tzinfo) -> datetime:
    """The first valid instant after a DST gap: the transition between ``before`` and ``after``.

    ``before`` is in the old offset and ``after`` in the new one; binary search in whole seconds
    (tz transitions fall on whole seconds) for the first instant with the new offset.
    """
    target = after.astimezone(zone).utcoffset()
    lo, hi = 0, int((after - before).total_seconds())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if (before + timedelta(seconds=mid)).astimezone(zone).utcoffset() == target:
            hi = mid
        else:
            lo = mid
    return before + timedelta(seconds=hi)


def _field_text(spec: FieldSpec, value: Cronspec | None, values: frozenset[int]) -> str:
    if len(values) == len(spec.values()):
        return "*"
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        return ",".join(str(v) for v in sorted(values))
    return str(value)

"""The schedule contract shared by cron and interval schedules, its error, and time-zone helpers.

Every schedule answers one question, ``next_after(t)``: the first fire time strictly after the
instant ``t``. Times go in as aware datetimes (any zone) and come out as aware UTC datetimes, so a
fire time is a plain instant that every beat process computes identically: it is the identity of
one run (``(entry, due_time)``), which is what lets several beat processes publish idempotently.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flowc.dsl.diagnostics import did_you_mean_hint
from flowc.dsl.errors import FlowcError

__all__ = ["UTC", "Schedule", "ScheduleError", "get_zone", "require_aware", "resolve_zone",
           "schedstate"]

LOCALTIME_FILE = "/etc/localtime"


class schedstate(NamedTuple):  # Celery's name
    """What ``is_due`` returns: ``(is_due, next)`` with ``next`` in seconds."""

    is_due: bool
    next: float


class ScheduleError(FlowcError, ValueError):
    """Raised when a schedule cannot be built or evaluated.

    Raised for an invalid cron expression or field, a non-positive interval, an unknown time zone,
    a naive datetime, or a catch-up policy flowc does not know. It is also a ``ValueError``, so code
    written for Celery (whose ``crontab`` raises ``ValueError``) keeps working. ``hint`` holds the
    suggested fix, which is also the last line of the message.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message}\nhint: {hint}")


class Schedule(abc.ABC):
    """When a periodic entry fires: a set of instants, enumerated in order.

    Subclasses implement ``next_after`` and ``describe``; the other methods derive from them.
    """

    @abc.abstractmethod
    def next_after(self, t: datetime) -> datetime:
        """Return the first fire time strictly after ``t`` (aware) as an aware UTC datetime."""

    @abc.abstractmethod
    def describe(self) -> str:
        """Return a one-line human description, e.g. ``cron '30 2 * * *' (Europe/Berlin)``."""

    @property
    def zone(self) -> tzinfo:
        """The zone to show fire times in (UTC unless the schedule has its own)."""
        return UTC

    def fire_times_between(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Yield every fire time ``f`` with ``start < f <= end``, in order, as aware UTC datetimes.

        The interval is half-open on the left so that consecutive windows ``(a, b]``, ``(b, c]``
        never yield a fire time twice: pass the last handled fire time as ``start`` and now as
        ``end``.
        """
        end = require_aware(end, "end")
        t = self.next_after(start)
        while t <= end:
            yield t
            t = self.next_after(t)

    # -- Celery's polling API (``celery.schedules.BaseSchedule``) --------------------------------

    nowfun: Callable[[], datetime] | None = None
    """Celery's ``nowfun``: what ``now()`` returns (for tests and custom schedulers)."""

    def now(self) -> datetime:
        """The current time, aware (``nowfun()`` when set; naive values are taken as UTC)."""
        t = self.nowfun() if self.nowfun is not None else datetime.now(UTC)
        return t if t.tzinfo is not None else t.replace(tzinfo=UTC)

    def _aware(self, t: datetime) -> datetime:
        return t if t.tzinfo is not None else t.replace(tzinfo=self.zone)

    def remaining_estimate(self, last_run_at: datetime) -> timedelta:
        """Time from now until the first fire time after ``last_run_at`` (negative when that
        is already past), as Celery's ``remaining_estimate``. Naive times are in ``zone``."""
        return self.next_after(self._aware(last_run_at)) - self.now()

    def is_due(self, last_run_at: datetime) -> schedstate:
        """Celery's ``(is_due, next)``: whether a run is due given the last run, and seconds
        until the schedule should be checked again (the next fire time when it is due now)."""
        remaining = self.remaining_estimate(last_run_at).total_seconds()
        if remaining > 0:
            return schedstate(False, remaining)
        now = self.now()
        return schedstate(True, max((self.next_after(now) - now).total_seconds(), 0.0))

    def next_n(self, t: datetime, n: int) -> list[datetime]:
        """Return the next ``n`` fire times strictly after ``t`` (for ``flowc schedule list``)."""
        if n < 0:
            raise ScheduleError(f"next_n needs a count >= 0, got {n}")
        times: list[datetime] = []
        for _ in range(n):
            t = self.next_after(t)
            times.append(t)
        return times


def require_aware(t: datetime, name: str = "t") -> datetime:
    """Return ``t`` converted to UTC; raise ScheduleError if it is naive."""
    if not isinstance(t, datetime):
        raise ScheduleError(f"{name} must be a datetime, got {type(t).__name__}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise ScheduleError(
            f"{name} is a naive datetime ({t.isoformat()}); schedules need an aware one",
            hint="pass datetime.now(timezone.utc) or attach a zone with .replace(tzinfo=...)",
        )
    return t.astimezone(UTC)


def get_zone(zone: str | tzinfo) -> tzinfo:
    """Return the tzinfo for an IANA name (``"Europe/Berlin"``) or pass a tzinfo through."""
    if isinstance(zone, tzinfo):
        pytz_name = getattr(zone, "zone", None)  # pytz zones misbehave with replace(tzinfo=...)
        return get_zone(pytz_name) if isinstance(pytz_name, str) else zone
    if not isinstance(zone, str) or not zone:
        raise ScheduleError(f"a time zone must be an IANA name or a tzinfo, got {zone!r}")
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        hint = did_you_mean_hint(zone, sorted(available_timezones())) or (
            "use an IANA name like 'Europe/Berlin'")
        raise ScheduleError(f"unknown time zone {zone!r}", hint=hint) from None


def resolve_zone(
    entry_tz: str | tzinfo | None = None,
    timezone: str | tzinfo | None = None,
    enable_utc: bool = True,
) -> tzinfo:
    """Pick the zone an entry's crontab is evaluated in, with Celery's precedence.

    The entry's own zone wins; otherwise the app's ``timezone`` setting; otherwise UTC when
    ``enable_utc`` is true (Celery's default) and the machine's local zone when it is false.
    """
    if entry_tz is not None:
        return get_zone(entry_tz)
    if timezone is not None:
        return get_zone(timezone)
    return UTC if enable_utc else local_zone()


def local_zone() -> tzinfo:
    """The machine's zone as a DST-aware ZoneInfo (``$TZ``, then /etc/localtime, then UTC)."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        with open(LOCALTIME_FILE, "rb") as f:
            return ZoneInfo.from_file(f, key="localtime")
    except (OSError, ValueError):
        return UTC

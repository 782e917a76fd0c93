"""``every``: a fixed interval of real elapsed time on a grid anchored at an instant.

Fire times are ``anchor + k * interval`` for whole ``k``; the anchor defaults to the Unix epoch.
Every beat process therefore computes the same grid without talking to the others (``every(30)``
fires at :00 and :30 of each minute), so a fire time is an identity of one run. Intervals ignore
time zones and DST: ``every(timedelta(days=1))`` fires every 24 real hours at 00:00 UTC; use a
crontab for "every day at 02:30 local time".
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

from .base import UTC, Schedule, ScheduleError, require_aware

__all__ = ["EPOCH", "every", "parse_duration"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DURATION = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DESCRIBE_UNITS = (("d", timedelta(days=1)), ("h", timedelta(hours=1)), ("m", timedelta(minutes=1)))


class every(Schedule):  # Celery's ``schedule(run_every=...)``; lower-case like ``crontab``
    """Fire every ``interval`` (seconds as int/float, or a timedelta) on a grid from ``anchor``.

    Raises ScheduleError for a zero, negative, non-finite or sub-microsecond interval and for a
    naive anchor.
    """

    def __init__(self, interval: float | timedelta, *, anchor: datetime | None = None) -> None:
        self.interval = _to_timedelta(interval)
        self.anchor = EPOCH if anchor is None else require_aware(anchor, "anchor")

    @property
    def run_every(self) -> timedelta:
        """Celery's name for the interval."""
        return self.interval

    def next_after(self, t: datetime) -> datetime:
        t = require_aware(t)
        k = (t - self.anchor) // self.interval  # floor division: exact, in microseconds
        return self.anchor + (k + 1) * self.interval

    def describe(self) -> str:
        text = f"every {format_interval(self.interval)}"
        return text if self.anchor == EPOCH else f"{text} from {self.anchor.isoformat()}"

    def __repr__(self) -> str:
        anchor = "" if self.anchor == EPOCH else f", anchor={self.anchor.isoformat()!r}"
        return f"every({self.interval.total_seconds()!r}{anchor})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, every)
            and self.interval == other.interval
            and self.anchor == other.anchor
        )

    def __hash__(self) -> int:
        return hash((self.interval, self.anchor))


def parse_duration(text: str) -> timedelta | None:
    """Parse ``"30s"``, ``"5m"``, ``"1.5h"``, ``"250ms"``, ``"2d"``; None if ``text`` is not one."""
    m = _DURATION.match(text)
    if m is None:
        return None
    return _to_timedelta(float(m.group("number")) * _UNIT_SECONDS[m.group("unit")])


def format_interval(interval: timedelta) -> str:
    """Format an interval compactly: 1h30m -> ``"1h30m"``, 1.5 seconds -> ``"1.5s"``."""
    parts: list[str] = []
    rest = interval
    for unit, size in _DESCRIBE_UNITS:
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    if rest or not parts:
        parts.append(f"{rest.total_seconds():g}s")
    return "".join(parts)


def _to_timedelta(interval: float | timedelta) -> timedelta:
    if isinstance(interval, bool) or not isinstance(interval, (int, float, timedelta)):
        raise ScheduleError(
            f"an interval must be seconds (int or float) or a timedelta, got {interval!r}",
            hint="write every(30), every(timedelta(minutes=5)) or a duration like '30s'",
        )
    if isinstance(interval, (int, float)):
        if not math.isfinite(interval):
            raise ScheduleError(f"an interval must be finite, got {interval!r}")
        try:
            interval = timedelta(seconds=interval)
        except OverflowError:
            raise ScheduleError(f"an interval of {interval!r}s is too large") from None
    if interval <= timedelta(0):
        raise ScheduleError(
            f"an interval must be positive, got {interval.total_seconds():g}s",
            hint="use a positive number of seconds, e.g. every(30)",
        )
    return interval

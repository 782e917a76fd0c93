"""Catch-up policies: which due times to publish now, given the last handled fire time.

Pure functions over a schedule and two instants; beat calls them every tick with the entry's
``last_fire`` from Redis and the current time. Definitions (also in docs/beat.md):

- The *due* times are the fire times ``f`` with ``last_fire < f <= now``.
- A due time is *late* if ``now - f <= grace`` and *missed* if it is older. Late times are the
  normal case (a tick a little after the fire time, a leader failover) and are published under
  every policy, so a hiccup shorter than ``grace`` loses nothing and fires nothing twice.
- ``skip`` (default): missed times are dropped; the entry resumes with its next fire time.
- ``once``: missed times are coalesced into one run. If no late time is published anyway, the
  newest missed time is published (it is the run's identity); otherwise the late run stands for
  them all.
- ``all``: every due time is published, oldest first (opt-in; a long outage of a frequent entry
  publishes many runs).
- With no ``last_fire`` (a new entry, or lost state) nothing is known to be missed: only late times
  are published, whatever the policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

from .base import Schedule, ScheduleError, require_aware

__all__ = ["DEFAULT_GRACE", "CatchUpPolicy", "DuePlan", "due_times", "plan_due"]

CatchUpPolicy = Literal["skip", "once", "all"]
POLICIES: tuple[str, ...] = get_args(CatchUpPolicy)
#: How late a due time may be published and still count as on time.
DEFAULT_GRACE = timedelta(seconds=60)
_RESOLUTION = timedelta(microseconds=1)
_FIRST_LOOKBACK = timedelta(seconds=1)


@dataclass(frozen=True)
class DuePlan:
    """What beat should do for one entry at one tick.

    ``publish``: the due times to publish now, oldest first (each one an identity).
    ``latest_due``: the newest due time in ``(last_fire, now]``, published or not; store it as
    the entry's new ``last_fire`` (None: nothing was due, keep the old value).
    ``missed``: True if some due times were older than ``grace``.
    """

    publish: tuple[datetime, ...]
    latest_due: datetime | None
    missed: bool


def plan_due(
    schedule: Schedule,
    last_fire: datetime | None,
    now: datetime,
    policy: CatchUpPolicy = "skip",
    grace: float | timedelta = DEFAULT_GRACE,
) -> DuePlan:
    """Decide which due times of ``schedule`` to publish at ``now`` (see the module docstring)."""
    if policy not in POLICIES:
        raise ScheduleError(
            f"unknown catch-up policy {policy!r}", hint=f"use one of {', '.join(POLICIES)}"
        )
    now = require_aware(now, "now")
    late_after = now - _to_grace(grace) - _RESOLUTION  # times strictly after this are late
    if last_fire is not None:
        last_fire = require_aware(last_fire, "last_fire")
        late_after = max(late_after, last_fire)
    late = tuple(schedule.fire_times_between(late_after, now))
    if last_fire is None or late_after == last_fire:
        return DuePlan(late, late[-1] if late else None, missed=False)
    if policy == "all":
        missed_times = tuple(schedule.fire_times_between(last_fire, late_after))
        publish = missed_times + late
        return DuePlan(publish, publish[-1] if publish else None, missed=bool(missed_times))
    newest_missed = _latest_between(schedule, last_fire, late_after)
    if newest_missed is None:
        return DuePlan(late, late[-1] if late else None, missed=False)
    if policy == "once" and not late:
        return DuePlan((newest_missed,), newest_missed, missed=True)
    return DuePlan(late, late[-1] if late else newest_missed, missed=True)


def due_times(
    schedule: Schedule,
    last_fire: datetime | None,
    now: datetime,
    policy: CatchUpPolicy = "skip",
    grace: float | timedelta = DEFAULT_GRACE,
) -> list[datetime]:
    """The due times to publish at ``now``, oldest first: ``plan_due(...).publish`` as a list."""
    return list(plan_due(schedule, last_fire, now, policy, grace).publish)


def _latest_between(schedule: Schedule, start: datetime, end: datetime) -> datetime | None:
    """The newest fire time in ``(start, end]``, searching backwards in doubling windows.

    Costs about as much as enumerating the fire times since the newest one, not since ``start``,
    so a long outage of a minutely entry stays cheap.
    """
    if schedule.next_after(start) > end:
        return None
    width = _FIRST_LOOKBACK
    while True:
        window_start = max(start, end - width)
        newest: datetime | None = None
        for newest in schedule.fire_times_between(window_start, end):  # noqa: B007
            pass
        if newest is not None:
            return newest
        width *= 2


def _to_grace(grace: float | timedelta) -> timedelta:
    if isinstance(grace, bool) or not isinstance(grace, (int, float, timedelta)):
        raise ScheduleError(f"grace must be seconds or a timedelta, got {grace!r}")
    value = grace if isinstance(grace, timedelta) else timedelta(seconds=grace)
    if value < timedelta(0):
        raise ScheduleError(f"grace must be >= 0, got {value.total_seconds():g}s")
    return value

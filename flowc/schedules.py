"""Celery's ``celery.schedules``: ``crontab``, ``schedule(run_every=)``, ``solar``.

The objects are flowc's beat schedules with Celery's polling API too: ``is_due(last_run_at)``
returns ``(is_due, next_seconds)`` and ``remaining_estimate(last_run_at)`` a timedelta.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flowc.runtime.schedules import ScheduleError, crontab, every
from flowc.runtime.schedules.base import schedstate


class schedule(every):  # Celery's name
    """Celery's ``schedule(run_every=30)``: an interval. In beat it fires on flowc's fixed grid
    (every ``run_every`` since the epoch); ``is_due`` follows Celery: due ``run_every`` after
    the last run."""

    def __init__(self, run_every: float | timedelta | None = None, relative: bool = False,
                 nowfun: Callable[[], datetime] | None = None, app: Any = None) -> None:
        if run_every is None:
            raise ScheduleError("schedule() needs run_every", hint="e.g. schedule(run_every=30)")
        super().__init__(run_every)
        self.relative = relative
        self.nowfun = nowfun
        self.app = app

    @property
    def seconds(self) -> float:
        """The interval in seconds (Celery's attribute)."""
        return self.run_every.total_seconds()

    def remaining_estimate(self, last_run_at: datetime) -> timedelta:
        """``last_run_at + run_every - now`` (negative when overdue), as Celery computes it."""
        return self._aware(last_run_at) + self.run_every - self.now()

    def is_due(self, last_run_at: datetime) -> schedstate:
        """Due once ``run_every`` has passed since ``last_run_at``; next check in seconds."""
        remaining = self.remaining_estimate(last_run_at).total_seconds()
        if remaining > 0:
            return schedstate(False, remaining)
        return schedstate(True, self.seconds)

    def __repr__(self) -> str:
        return f"<freq: {self.run_every}>"


class solar:  # Celery's name
    """Celery's sunrise/sunset schedule; flowc does not have one."""

    def __init__(self, event: str, lat: float, lon: float, **_: Any) -> None:
        raise ScheduleError(
            f"solar schedules ({event!r}) are not supported by flowc",
            hint="use a crontab in the place's time zone, e.g. crontab(hour=7, minute=0, "
            "tz='Europe/Berlin'), or compute the time in a task")


__all__ = ["crontab", "schedstate", "schedule", "solar"]

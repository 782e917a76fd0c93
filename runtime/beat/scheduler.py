"""A custom beat scheduler hook with Celery's ``Scheduler`` shape (``beat_scheduler``, ``-S``).

flowc's own beat (``beat.service.Beat``: state in Redis, a lease, each due time published
once) stays the default. A project that needs its own source of entries (a database, an API)
subclasses ``Scheduler`` and overrides ``setup_schedule``/``tick``/``sync`` as it would
Celery's ``celery.beat.Scheduler``; this one keeps entries in memory, like Celery's.
"""

from __future__ import annotations

import copy
import importlib
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flowc.runtime.exceptions import ImproperlyConfigured
from flowc.runtime.schedules import Schedule, as_schedule

if TYPE_CHECKING:
    from flowc.runtime.app import App
    from flowc.runtime.result import AsyncResult

CELERY_DEFAULTS = frozenset({
    "celery.beat:PersistentScheduler", "celery.beat.PersistentScheduler",
    "celery.beat:Scheduler", "celery.beat.Scheduler",
})
"""Celery's own scheduler paths: they select flowc's default beat."""


class ScheduleEntry:
    """One entry of a ``Scheduler`` (Celery's ``beat.ScheduleEntry``)."""

    def __init__(self, name: str | None = None, task: str | None = None,
                 last_run_at: datetime | None = None, total_run_count: int | None = None,
                 schedule: Any = None, args: Any = (), kwargs: dict[str, Any] | None = None,
                 options: dict[str, Any] | None = None, relative: bool = False,
                 app: App | None = None) -> None:
        self.app = app
        self.name = name
        self.task = task
        self.args = tuple(args or ())
        self.kwargs = dict(kwargs or {})
        self.options = dict(options or {})
        self.schedule: Schedule = as_schedule(schedule)
        self.last_run_at = last_run_at or self.schedule.now()
        self.total_run_count = total_run_count or 0

    def is_due(self) -> tuple[bool, float]:
        """``(is_due, next_seconds)`` of the schedule since the last run."""
        return self.schedule.is_due(self.last_run_at)

    def __next__(self) -> ScheduleEntry:
        """A copy marked as run now (Celery's ``next(entry)``)."""
        entry = copy.copy(self)
        entry.last_run_at = self.schedule.now()
        entry.total_run_count = self.total_run_count + 1
        return entry

    next = __next__

    def __repr__(self) -> str:
        return f"<ScheduleEntry: {self.name} {self.task}(*{self.args}, **{self.kwargs}) " \
               f"{self.schedule!r}>"


class Scheduler:
    """Celery's scheduler contract: ``tick()`` publishes due entries and returns the seconds to
    sleep; ``setup_schedule()`` loads entries (``beat_schedule`` here); ``sync()`` persists."""

    Entry = ScheduleEntry

    def __init__(self, app: App, schedule: dict[str, Any] | None = None,
                 max_interval: float | None = None, lazy: bool = False, **kwargs: Any) -> None:
        self.app = app
        self.data: dict[str, ScheduleEntry] = {}
        self.max_interval = max_interval or app.conf.beat_max_loop_interval
        if schedule:
            self.merge_inplace(schedule)
        if not lazy:
            self.setup_schedule()

    @property
    def schedule(self) -> dict[str, ScheduleEntry]:
        """The entries by name."""
        return self.data

    def setup_schedule(self) -> None:
        """Load ``beat_schedule`` (override to read entries from elsewhere)."""
        self.merge_inplace(self.app.conf.beat_schedule)

    def merge_inplace(self, entries: dict[str, Any]) -> None:
        """Add or replace entries from ``beat_schedule``-shaped dicts."""
        for name, spec in entries.items():
            if isinstance(spec, ScheduleEntry):
                self.data[name] = spec
                continue
            fields = {k: v for k, v in dict(spec).items()
                      if k in ("task", "schedule", "args", "kwargs", "options", "relative")}
            self.data[name] = self.Entry(name=name, app=self.app, **fields)

    def tick(self) -> float:
        """Publish every due entry; return seconds until the next one may be due."""
        sleep = float(self.max_interval)
        for name, entry in list(self.schedule.items()):
            due, next_s = entry.is_due()
            if due:
                self.apply_entry(entry)
                self.data[name] = next(entry)
            sleep = min(sleep, next_s)
        return max(sleep, 0.0)

    def apply_entry(self, entry: ScheduleEntry) -> AsyncResult | None:
        """Publish one entry (errors are logged, not raised, so other entries still run)."""
        import logging

        try:
            return self.apply_async(entry)
        except Exception:
            logging.getLogger("flowc.beat").exception("beat: could not send %s", entry.name)
            return None

    def apply_async(self, entry: ScheduleEntry) -> AsyncResult:
        """Send the entry's task."""
        assert entry.task is not None
        return self.app.send_task(entry.task, entry.args, entry.kwargs, **entry.options)

    def sync(self) -> None:
        """Persist state (nothing to do for the in-memory scheduler)."""

    def close(self) -> None:
        """Called once when beat stops."""
        self.sync()

    def now(self) -> datetime:
        """The current time, aware UTC."""
        return datetime.now(UTC)


def load_scheduler(path: str) -> type[Scheduler] | None:
    """The class at ``module:Class`` or ``module.Class``; None for Celery's defaults."""
    if path in CELERY_DEFAULTS:
        return None
    module, sep, name = path.partition(":")
    if not sep:
        module, _, name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as e:
        raise ImproperlyConfigured(f"cannot load beat scheduler {path!r}: {e}",
                                   hint="give module:Class of a flowc.beat.Scheduler "
                                   "subclass") from None
    if not (isinstance(cls, type) and hasattr(cls, "tick")):
        raise ImproperlyConfigured(f"beat scheduler {path!r} is not a Scheduler class",
                                   hint="subclass flowc.beat.Scheduler")
    return cls


def run_scheduler(scheduler: Scheduler, stopping: threading.Event) -> None:
    """Tick until ``stopping`` is set, sleeping what each tick asks; then ``close()``."""
    try:
        while not stopping.is_set():
            stopping.wait(min(scheduler.tick(), float(scheduler.max_interval)))
    finally:
        scheduler.close()


__all__ = ["ScheduleEntry", "Scheduler", "load_scheduler", "run_scheduler"]

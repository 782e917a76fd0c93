"""Celery's ``celery.beat`` for custom schedulers: ``from flowc.beat import Scheduler``.

Select one with ``beat_scheduler = 'module:Class'`` or ``flowc beat -S module:Class``;
without it flowc's own beat runs (state in Redis, each due time published once).
"""

from flowc.runtime.beat.scheduler import ScheduleEntry, Scheduler

__all__ = ["ScheduleEntry", "Scheduler"]

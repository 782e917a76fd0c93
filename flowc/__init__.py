"""flowc: a workflow language, its compiler, and a Redis-backed, Celery-compatible task runtime.

Port a Celery app by changing ``from celery import Celery`` to ``from flowc import App``.
"""

from flowc.runtime import states
from flowc.runtime.app import App
from flowc.runtime.result import AsyncResult, EagerResult
from flowc.runtime.task import Task

Celery = App
"""Celery's class name, so ``from flowc import Celery`` also works."""

__all__ = [  # noqa: RUF022 - grouped by topic, not sorted
    # application and tasks
    "App", "Celery", "Task",
    # results
    "AsyncResult", "EagerResult", "states",
]

"""Celery's ``celery.app.task``: the ``Task`` base class and ``Context`` (a task's request)."""

from flowc.runtime.request import Request
from flowc.runtime.task import Task

Context = Request
"""Celery's name of the request class (``self.request``)."""

__all__ = ["Context", "Task"]

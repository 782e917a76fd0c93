"""flowc: a workflow language, its compiler, and a Redis-backed, Celery-compatible task runtime.

Port a Celery app by changing ``from celery import Celery`` to ``from flowc import App``.
"""

import flowc._pools  # noqa: F401, I001 - first: `flowc worker -P gevent` patches before imports

from flowc.compiler.canvas.primitives import chain, chord, fanout, group, signature
from flowc.compiler.canvas.signature import Signature
from flowc.runtime import states
from flowc.runtime.app import App
from flowc.runtime.current import current_app, shared_task
from flowc.runtime.group_result import GroupResult, ResultSet
from flowc.runtime.result import AsyncResult, EagerResult
from flowc.runtime.schedules import crontab, every
from flowc.runtime.task import Task

Celery = App
"""Celery's class name, so ``from flowc import Celery`` also works."""

subtask = signature
"""Celery's old name for ``signature``."""

__all__ = [  # noqa: RUF022 - grouped by topic, not sorted
    # application and tasks
    "App", "Celery", "Task", "current_app", "shared_task",
    # canvas
    "Signature", "chain", "chord", "fanout", "group", "signature", "subtask",
    # results
    "AsyncResult", "EagerResult", "GroupResult", "ResultSet", "states",
    # schedules
    "crontab", "every",
]

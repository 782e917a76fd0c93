"""Celery's ``celery.contrib.django.task``: ``DjangoTask``, with ``delay_on_commit``.

A Django project's ``app.Task`` has these methods already (docs/frameworks.md); this class is
for code that names it (``class MyTask(DjangoTask)``, ``@app.task(base=DjangoTask)``).
"""

from flowc.runtime.fixups.django import DjangoTaskMixin
from flowc.runtime.task import Task


class DjangoTask(DjangoTaskMixin, Task):
    """``Task`` with ``delay_on_commit`` and ``apply_async_on_commit``."""


__all__ = ["DjangoTask"]

"""Celery's Django fixup, for a flowc App inside a Django project.

When ``DJANGO_SETTINGS_MODULE`` is set (``proj/celery.py`` sets it) and Django is installed:

- ``app.import_modules()`` (the worker at start) runs ``django.setup()`` before any task
  module is imported, so an app's ``tasks.py`` may import its models;
- ``app.autodiscover_tasks()`` with no packages searches every installed app;
- the app's tasks are Celery's ``DjangoTask``s: ``delay_on_commit(...)`` and
  ``apply_async_on_commit(...)`` send when the current database transaction commits;
- in a worker of this app: database connections are closed before and after each task
  (``close_old_connections``, which keeps those within ``CONN_MAX_AGE``), a prefork child drops
  the connections it inherited without closing the parent's sessions, and the default cache is
  closed after each task; ``DEBUG = True`` logs a warning when the worker is ready (Django
  then keeps every query in memory).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from typing import TYPE_CHECKING, Any, cast

from flowc.runtime import signals
from flowc.runtime.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from flowc.runtime.app import App

logger = logging.getLogger("flowc.fixups")


class DjangoTaskMixin:
    """What a Django project's tasks add to ``Task`` (Celery's ``DjangoTask``): sending when
    the database transaction commits, so a worker never picks up a task about a row it cannot
    see yet, and a rolled-back transaction sends nothing. ``app.Task`` includes it under a
    Django fixup; ``flowc.contrib.django.task.DjangoTask`` is ``Task`` with it."""

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:
        """``delay(*args, **kwargs)`` once the current transaction commits (at once outside
        one); returns None, as Celery's does: the task id is not known before."""
        from django.db import transaction

        transaction.on_commit(functools.partial(cast(Any, self).delay, *args, **kwargs))

    def apply_async_on_commit(self, *args: Any, **kwargs: Any) -> None:
        """``apply_async(*args, **kwargs)`` once the current transaction commits."""
        from django.db import transaction

        transaction.on_commit(functools.partial(cast(Any, self).apply_async, *args, **kwargs))


class DjangoFixup:
    """The Django fixup of one App (see the module docstring)."""

    def __init__(self, app: App) -> None:
        self.app = app

    task_mixin = DjangoTaskMixin
    """Mixed into ``app.Task``: every task of the app has ``delay_on_commit``."""

    def install(self) -> DjangoFixup:
        """Connect to ``worker_init`` (the worker hooks apply to this app's workers only)."""
        signals.worker_init.connect(self._on_worker_init, weak=False)
        return self

    def installed_apps(self) -> list[str]:
        """The package of each installed app (``AppConfig.name``)."""
        from django.apps import apps

        if not apps.ready:
            raise ImproperlyConfigured(
                "autodiscover_tasks(force=True) ran before Django was set up",
                hint="call app.autodiscover_tasks() without force: the worker discovers after "
                     "django.setup(); or pass the packages")
        return [config.name for config in apps.get_app_configs()]

    def on_import_modules(self) -> None:
        """``django.setup()`` unless the app registry is ready."""
        import django
        from django.apps import apps

        if not apps.ready:
            django.setup()

    def _on_worker_init(self, sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", None) is not self.app:
            return
        signals.task_prerun.connect(_close_before_task, weak=False)
        signals.task_postrun.connect(_close_after_task, weak=False)
        signals.worker_process_init.connect(_drop_inherited_connections, weak=False)
        signals.worker_ready.connect(_warn_about_debug, weak=False)
        _close_old_connections()  # the main process's, opened while importing the tasks


def _owns_connections(task: Any) -> bool:
    """Whether the thread running ``task`` holds its database connections: not for a task
    run eagerly inside another (its caller's), nor for an ``async def`` task (on the event
    loop, where the ORM is reached through ``sync_to_async`` threads Django manages)."""
    request = getattr(task, "request", None)
    return not getattr(request, "is_eager", False) and not getattr(task, "is_async", False)


def _close_before_task(sender: Any = None, **_: Any) -> None:
    if _owns_connections(sender):
        _close_old_connections()


def _close_after_task(sender: Any = None, **_: Any) -> None:
    if _owns_connections(sender):
        _close_old_connections()
        _close_cache()


def _close_old_connections() -> None:
    from django.db import close_old_connections

    close_old_connections()


def _close_cache() -> None:
    from django.core.cache import cache

    with contextlib.suppress(Exception):  # a backend without close(): nothing to release
        cache.close()


def _drop_inherited_connections(**_: Any) -> None:
    """In a prefork child: forget the parent's open connections. Their sockets are closed in
    this process only (a ``close()`` would end the parent's database sessions)."""
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        raw = conn.connection
        if raw is None:
            continue
        fileno = getattr(raw, "fileno", None)
        if callable(fileno):
            with contextlib.suppress(Exception):
                os.close(fileno())
        with contextlib.suppress(Exception):  # the socket is gone: a failing goodbye is expected
            conn.close()
    _close_cache()


def _warn_about_debug(**_: Any) -> None:
    from django.conf import settings

    if settings.DEBUG:
        logger.warning("Django's DEBUG is on: every query is kept in memory, so the worker "
                       "grows; set DEBUG = False in production")

"""Framework fixups: what an ``App`` does for the framework it runs inside (Celery's fixups).

Only Django has one (``django.py``): it applies when ``DJANGO_SETTINGS_MODULE`` is set and
Django is installed, as Celery's does. An App asks its fixups for the packages
``autodiscover_tasks()`` imports by default, and lets them prepare the process before the task
modules are imported; a worker lets them hook its signals.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from flowc.runtime.app import App

DJANGO_SETTINGS_ENV = "DJANGO_SETTINGS_MODULE"

logger = logging.getLogger("flowc.fixups")


class Fixup(Protocol):
    """What an App needs from a framework fixup."""

    @property
    def task_mixin(self) -> type | None:
        """A class ``app.Task`` also derives from (methods the framework's tasks add)."""
        ...

    def installed_apps(self) -> list[str]:
        """The packages ``autodiscover_tasks()`` searches when given none."""
        ...

    def on_import_modules(self) -> None:
        """Make the framework ready before the task modules are imported (worker start)."""
        ...


def install_fixups(app: App) -> list[Fixup]:
    """The fixups that apply to ``app`` in this process (Django's when its settings module is
    named in the environment); each connects its worker hooks."""
    if not os.environ.get(DJANGO_SETTINGS_ENV):
        return []
    if importlib.util.find_spec("django") is None:
        logger.warning("%s is set but Django is not installed: no Django fixup (tasks of the "
                       "installed apps are not discovered); pip install django",
                       DJANGO_SETTINGS_ENV)
        return []
    from flowc.runtime.fixups.django import DjangoFixup

    return [DjangoFixup(app).install()]

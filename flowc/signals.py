"""Celery's signals under Celery's names: ``from flowc.signals import task_prerun``."""

from flowc.runtime.signals import *  # noqa: F403
from flowc.runtime.signals import __all__  # noqa: F401

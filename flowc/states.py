"""Task states under Celery's module path: ``from flowc.states import SUCCESS``."""

from flowc.runtime.states import *  # noqa: F403

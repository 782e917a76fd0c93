"""Celery's ``celery.app`` import paths: ``from flowc.app.task import Task``."""

from flowc.runtime.app import App
from flowc.runtime.current import current_app, shared_task

Celery = App

__all__ = ["App", "Celery", "current_app", "shared_task"]

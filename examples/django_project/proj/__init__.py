# Load the flowc app when Django starts, so @shared_task uses it (Celery's recipe, unchanged).
from .celery import app as celery_app

__all__ = ("celery_app",)

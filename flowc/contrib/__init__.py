"""Celery's ``celery.contrib`` import paths that a ported app uses."""

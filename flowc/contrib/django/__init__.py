"""Celery's ``celery.contrib.django``: Django integration (docs/frameworks.md)."""

"""Celery's ``celery.utils`` import paths a ported app uses (``flowc.utils.log``)."""

"""Celery's ``celery.utils`` import paths a ported app uses (``flowc.utils.log``)."""

import uuid as _uuid


def uuid() -> str:
    """A new random task id as a string (Celery's ``celery.utils.uuid``)."""
    return str(_uuid.uuid4())


gen_unique_id = uuid
"""Celery's old name for ``uuid``."""

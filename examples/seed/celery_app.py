"""The seed guide's ``celery_app.py``, ported by changing one import (``Celery`` -> ``App``).

``$FLOWC_BROKER_URL`` / ``$FLOWC_RESULT_BACKEND`` override the URLs below, as Celery's
``CELERY_BROKER_URL`` does; with neither and no Redis, use ``App('tasks')`` for the embedded one.
"""

from flowc import App

# Initialize the standalone application client
app = App(
    "tasks",
    broker="redis://localhost:6379/0",
    backend="redis://localhost:6379/1",
)

# Override advanced serialization and runtime settings
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    timezone="UTC",
    enable_utc=True,
    task_acks_late=True,
)

# Route mapping
app.conf.task_routes = {
    "tasks.process_video_transcode": {"queue": "media_heavy"},
}

# Periodic tasks with beat (`flowc beat -A celery_app`), as the guide writes them; flowc's
# crontab replaces `from celery.schedules import crontab`.
from flowc import crontab  # noqa: E402

app.conf.beat_schedule = {
    'daily-database-cleanup': {
        'task': 'tasks.execute_db_maintenance',
        'schedule': crontab(hour=2, minute=30),
    },
}

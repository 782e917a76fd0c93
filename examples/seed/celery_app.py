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

"""The flowc app and tasks of the FastAPI example.

From the repository root: ``flowc worker -A examples.fastapi_app.tasks -l INFO`` runs them,
``uvicorn examples.fastapi_app.main:api`` serves the API. Both use ``$REDIS_URL`` (here
``FLOWC_BROKER_URL`` wins, as ``CELERY_BROKER_URL`` does in Celery).
"""

import os

from flowc import App

app = App("fastapi_app", broker=os.environ.get("REDIS_URL", "redis://localhost:6379/0"))
app.conf.update(task_track_started=True, result_expires=3600)


@app.task
def add(x: float, y: float) -> float:
    return x + y


@app.task
def divide(x: float, y: float) -> float:
    return x / y

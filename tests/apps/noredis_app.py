"""Tasks for ``tests/e2e/test_no_redis.py``: a RabbitMQ + PostgreSQL deployment with no Redis.

Broker and backend come from ``$FLOWC_BROKER_URL`` and ``$FLOWC_RESULT_BACKEND``; ``mark``
appends one line per run to ``$MARK_FILE`` (so a test sees every run, duplicates included).
"""

from __future__ import annotations

import os
import time

from flowc import App

app = App("noredis_app")
app.conf.beat_schedule = {"every-second": {"task": "noredis_app.mark", "schedule": 1.0,
                                           "args": ("beat",)}}


@app.task
def add(x: int, y: int) -> int:
    return x + y


@app.task
def identity(value: object) -> object:
    return value


@app.task(bind=True)
def mark(self: object, kind: str) -> str:
    """Append ``<kind> <task id>`` to ``$MARK_FILE``; return the task id."""
    task_id = str(self.request.id)  # type: ignore[attr-defined]
    with open(os.environ["MARK_FILE"], "a") as f:
        f.write(f"{kind} {task_id}\n")
    return task_id


@app.task(rate_limit="2/s")
def paced(i: int) -> float:
    """When it started (a 2/s limit spaces the starts by about half a second)."""
    return time.time()

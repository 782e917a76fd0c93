"""The seed guide's tasks, unchanged but for ``from flowc...`` imports.

Run a worker from this directory: ``flowc worker -A tasks -Q media_heavy --concurrency=4``.
"""

import os
import time

from celery_app import app

from flowc.exceptions import Reject

VIDEO_SECONDS = float(os.environ.get("SEED_VIDEO_SECONDS", "2.5"))


@app.task
def process_video_transcode(video_id: int, target_format: str) -> dict:
    """Simulates CPU intensive multimedia conversion logic."""
    time.sleep(VIDEO_SECONDS)
    return {"video_id": video_id, "status": "COMPLETED"}


@app.task(rate_limit="10/m")
def call_external_rate_limited_api(payload: dict) -> dict:
    """A call to a third-party API that allows ten requests a minute."""
    return {"sent": payload}


@app.task
def execute_db_maintenance() -> str:
    """The nightly clean-up the beat schedule runs."""
    return "vacuumed"


def _post(store_id: str) -> None:
    """Stand-in for ``requests.post`` so the example runs without network access."""
    if store_id.startswith("missing"):
        raise Reject("Fatal client syntax error.", requeue=False)


@app.task(bind=True, retry_kwargs={"max_retries": 3}, retry_backoff=True, retry_jitter=True,
          autoretry_for=(ConnectionError,))
def sync_inventory_webhook(self, store_id: str) -> str:
    """The seed's webhook sync: retried with backoff on connection errors."""
    _post(store_id)
    return f"synced {store_id}"

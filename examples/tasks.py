"""The examples' tasks: the seed guide's tasks, fast, plus the few the dataflow examples need.

Every ``examples/*.flow`` file says ``use "examples.tasks"``. Run a worker for them from the
repository root with ``flowc worker -A examples.tasks -Q default,media_heavy``; ``flowc run``
starts its own when no broker is configured. The seed's sleeps are shortened: set
``EXAMPLES_VIDEO_SECONDS=2.5`` for the guide's timing.
"""

import os
import time
from typing import Any

from flowc import App
from flowc.exceptions import Reject

app = App("examples")
app.conf.update(task_serializer="json", result_serializer="json", timezone="UTC",
                enable_utc=True, task_acks_late=True)

VIDEO_SECONDS = float(os.environ.get("EXAMPLES_VIDEO_SECONDS", "0.05"))


# ---- the seed guide's tasks -------------------------------------------------------------------

@app.task
def extract_record(path: str) -> dict[str, Any]:
    """Read a "file" (simulated): a record with a few rows."""
    rows = [{"id": i, "value": (len(path) * (i + 3)) % 17} for i in range(4)]
    return {"path": path, "rows": rows}


@app.task
def analyze_chunk(record: Any = None, mode: str = "fast", chunk_id: int | None = None) -> dict:
    """Analyse a record (in a chain) or one numbered chunk (in a chord header)."""
    rows = record.get("rows", []) if isinstance(record, dict) else []
    score = sum(r.get("value", 0) for r in rows) + (chunk_id or 0)
    return {"chunk_id": chunk_id, "mode": mode, "score": score}


@app.task
def generate_summary(results: Any, title: str = "Summary") -> dict[str, Any]:
    """Summarise one analysis or the list of them a chord collects."""
    items = results if isinstance(results, list) else [results]
    return {"title": title, "count": len(items), "items": items}


@app.task
def process_video_transcode(video_id: int, target_format: str) -> dict:
    """Simulates CPU intensive multimedia conversion logic."""
    time.sleep(VIDEO_SECONDS)
    return {"video_id": video_id, "format": target_format, "status": "COMPLETED"}


@app.task(rate_limit="10/m")
def call_external_rate_limited_api(payload: dict) -> dict:
    """A call to a third-party API that allows ten requests a minute."""
    return {"sent": payload}


@app.task
def execute_db_maintenance() -> str:
    """The nightly clean-up the schedules run."""
    return "vacuumed"


def _post(store_id: str) -> None:
    """Stand-in for ``requests.post`` so the examples run without network access."""
    if store_id.startswith("missing"):
        raise Reject("Fatal client syntax error.", requeue=False)


@app.task(bind=True, retry_kwargs={"max_retries": 3}, retry_backoff=True, retry_jitter=True,
          autoretry_for=(ConnectionError,))
def sync_inventory_webhook(self: Any, store_id: str) -> str:
    """The seed's webhook sync: retried with backoff on connection errors."""
    _post(store_id)
    return f"synced {store_id}"


# ---- helpers for the dataflow, fan-out and media examples -------------------------------------

@app.task
def clean_rows(record: dict) -> list[dict]:
    """Drop rows without a value."""
    return [r for r in record["rows"] if r.get("value")]


@app.task
def compute_stats(record: dict) -> dict[str, int]:
    """Count and total of a record's values."""
    values = [r["value"] for r in record["rows"]]
    return {"count": len(values), "total": sum(values)}


@app.task
def publish(clean: list, stats: dict, title: str = "Report") -> dict[str, Any]:
    """Join the cleaned rows and the statistics into a report."""
    return {"title": title, "rows": len(clean), **stats}


@app.task
def list_stores(region: str, count: int = 3) -> list[str]:
    """The stores of a region: a list known only when the flow runs."""
    return [f"{region}-{i}" for i in range(count)]


@app.task
def notify_user(video_id: int) -> str:
    """Tell the owner their video is ready."""
    return f"notified owner of video {video_id}"


@app.task
def report_failure(task_id: str, video_id: int | None = None) -> str:
    """An error handler: receives the failed task's id first."""
    return f"task {task_id} failed (video {video_id})"

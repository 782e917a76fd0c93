"""Tasks the harness tests' flows (tests/testing/flows/) call: flaky, failing, slow to retry.

``FLAKY`` counts calls per key, so a test decides how many attempts fail before one succeeds;
``reset()`` clears it (the ``harness`` fixture does, before each test).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from flowc import App

QUEUE = "flowtests"
"""Its own queue: the examples' worker in the same test session consumes ``celery``."""

app = App("flowtests", set_as_current=False)
app.conf.update(task_serializer="json", result_serializer="json", timezone="UTC",
                enable_utc=True, task_default_queue=QUEUE)

CALLS: Counter[str] = Counter()


def reset() -> None:
    CALLS.clear()


@app.task
def fetch(key: str, fail_times: int = 0) -> dict[str, Any]:
    """Fails with ConnectionError on its first ``fail_times`` calls for ``key``."""
    CALLS[key] += 1
    if CALLS[key] <= fail_times:
        raise ConnectionError(f"{key}: attempt {CALLS[key]} refused")
    return {"key": key, "attempts": CALLS[key]}


@app.task
def total(items: list[Any]) -> int:
    return sum(len(str(i)) for i in items)


@app.task
def explode(value: Any = None) -> None:
    raise ValueError(f"cannot handle {value!r}")


@app.task
def notify(failed_task_id: str, channel: str = "ops") -> str:
    """An error handler: the failed task's id comes first."""
    return f"{channel}: {failed_task_id} failed"


@app.task(bind=True, max_retries=2)
def poll(self: Any, job: str) -> str:
    """Asks to be run again a minute later until its third attempt."""
    if self.request.retries < 2:
        raise self.retry(countdown=60)
    return f"{job} ready after {self.request.retries} retries"


@app.task
def when(tag: str) -> str:
    return tag


@app.task
def pair(value: Any) -> tuple[Any, Any]:
    """Returns a tuple: JSON makes it a list on the way to the next step."""
    return (value, value)


@app.task
def keys(n: int) -> list[str]:
    return [f"k{i}" for i in range(n)]


@app.task
def kick(tag: str) -> str:
    """Sends a follow-up half a minute later, and a two-step chain at once."""
    from flowc.compiler.canvas.primitives import chain

    when.apply_async((f"{tag} later",), countdown=30)
    chain(when.si(f"{tag} one"), pair.s()).delay()
    return when.delay(f"{tag} now").id


@app.task(rate_limit="10/m")
def call_api(n: int) -> int:
    """A third-party API allowing ten calls a minute."""
    return n

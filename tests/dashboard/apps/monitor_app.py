"""Tasks for the monitoring tests: ``flowc worker -A monitor_app -E`` (cwd tests/dashboard/apps)."""

from __future__ import annotations

import os
import time

from flowc import App, crontab
from flowc.exceptions import Reject

app = App("monitor_app")
app.conf.update(task_acks_late=True, beat_schedule={
    "nightly-cleanup": {"task": "monitor_app.add", "schedule": 3600.0, "args": [1, 2]},
    "nightly-report": {"task": "monitor_app.add", "schedule": crontab(minute=30, hour=2),
                       "args": [3, 4]},
})


@app.task
def add(x: int, y: int) -> int:
    """Adds."""
    return x + y


@app.task
def slow(seconds: float, value: object = None) -> object:
    """Sleeps, then returns ``value``."""
    time.sleep(seconds)
    return value


GATE_WAIT_S = 60.0


@app.task
def gated(gate: str, value: object = None) -> object:
    """Waits until the key ``gate`` exists in the broker's Redis (a test opens it), then
    returns ``value``: a step that is still running for as long as the test needs."""
    deadline = time.monotonic() + GATE_WAIT_S
    while not app.broker_client.exists(gate):
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {gate!r} was never opened")
        time.sleep(0.02)
    return value


@app.task
def boom(message: str) -> None:
    """Fails."""
    raise ValueError(message)


@app.task
def refuse(reason: str) -> None:
    """Rejects its message without requeue: it goes to the dead letters."""
    raise Reject(reason, requeue=False)


@app.task
def total(values: list[int]) -> int:
    """Sums a list (a chord body)."""
    return sum(values)


@app.task
def whoami() -> int:
    """The pid of the process that ran the task."""
    return os.getpid()


@app.task(bind=True, max_retries=3)
def flaky(self: object, message: str) -> str:
    """Fails with ``message`` on its first try and succeeds on the retry."""
    if self.request.retries == 0:  # type: ignore[attr-defined]
        raise self.retry(exc=ValueError(message), countdown=0)  # type: ignore[attr-defined]
    return "fine after a retry"


@app.task
def needs_flag(flag: str) -> str:
    """Fails until the Redis key ``flag`` exists: a failure someone fixes, then resumes."""
    if not app.broker_client.exists(flag):
        raise RuntimeError(f"{flag} is not set yet")
    return "flag found"

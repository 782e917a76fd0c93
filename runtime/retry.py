"""When a retried task runs again: countdown, eta, or exponential backoff with full jitter."""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any

from flowc.runtime.options import resolve_eta

if TYPE_CHECKING:
    from flowc.runtime.task import Task


def backoff_delay(task: Task, retries: int) -> float:
    """Celery's ``retry_backoff``: factor * 2**retries, capped, then full jitter if enabled."""
    factor = 1.0 if task.retry_backoff is True else float(task.retry_backoff)
    delay = min(task.retry_backoff_max, factor * (2 ** retries))
    if task.retry_jitter:
        delay = random.uniform(0, delay)
    return delay


def next_retry_eta(task: Task, retries: int, *, countdown: float | None = None,
                   eta: Any = None) -> float:
    """Unix time of the next attempt for a task that has already retried ``retries`` times."""
    now = time.time()
    if countdown is None and eta is None:
        if task.retry_backoff:
            countdown = backoff_delay(task, retries)
        else:
            countdown = float(task.retry_kwargs.get("countdown", task.default_retry_delay))
    due = resolve_eta(countdown, eta, now)
    return now if due is None else due

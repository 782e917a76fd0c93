"""When a retried task runs again: countdown, eta, or exponential backoff with full jitter."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowc.runtime.options import resolve_eta

if TYPE_CHECKING:
    from flowc.runtime.message import Message
    from flowc.runtime.task import Task


STEP_OPTIONS = ("max_retries", "default_retry_delay", "retry_backoff", "retry_backoff_max",
                "retry_jitter")
"""Retry settings a workflow step (a ``.flow`` ``with retries = ...``) may set for itself."""

eager_clock: ContextVar[Callable[[], float]] = ContextVar("flowc_eager_clock", default=time.time)
"""The clock an eager invocation's retries are timed on (a worker's use the broker's): the wall
clock, or the virtual clock of ``flowc.testing``'s harness while it runs a task."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """The retry settings in force for one invocation: the task's, overridden by its step's."""

    max_retries: int | None
    default_retry_delay: float
    retry_backoff: bool | float
    retry_backoff_max: float
    retry_jitter: bool
    countdown: float | None
    autoretry_for: tuple[type[BaseException], ...]


def policy_for(task: Task, message: Message | None) -> RetryPolicy:
    """The task's retry policy with a workflow step's overrides (envelope ``headers.options``).

    A step that sets ``max_retries`` on a task without ``autoretry_for`` retries on any
    ``Exception``: that is what ``retries = 3`` on a step means.
    """
    step: dict[str, Any] = {}
    if message is not None and message.headers:
        step = dict(message.headers.get("options") or {})
    autoretry = task.autoretry_for
    if "max_retries" in step and not autoretry:
        autoretry = (Exception,)
    return RetryPolicy(
        max_retries=step.get("max_retries", task.retry_kwargs.get("max_retries",
                                                                  task.max_retries)),
        default_retry_delay=float(step.get("default_retry_delay", task.default_retry_delay)),
        retry_backoff=step.get("retry_backoff", task.retry_backoff),
        retry_backoff_max=float(step.get("retry_backoff_max", task.retry_backoff_max)),
        retry_jitter=bool(step.get("retry_jitter", task.retry_jitter)),
        countdown=task.retry_kwargs.get("countdown"),
        autoretry_for=autoretry,
    )


def backoff_delay(policy: RetryPolicy, retries: int) -> float:
    """Celery's ``retry_backoff``: factor * 2**retries, capped, then full jitter if enabled."""
    factor = 1.0 if policy.retry_backoff is True else float(policy.retry_backoff)
    delay = min(policy.retry_backoff_max, factor * (2 ** retries))
    if policy.retry_jitter:
        delay = random.uniform(0, delay)
    return delay


def next_retry_eta(policy: RetryPolicy, retries: int, *, countdown: float | None = None,
                   eta: Any = None, now: float | None = None) -> float:
    """Unix time of the next attempt (``now``: the broker's clock) for a task that has
    already retried ``retries`` times."""
    now = time.time() if now is None else now
    if countdown is None and eta is None:
        if policy.retry_backoff:
            countdown = backoff_delay(policy, retries)
        elif policy.countdown is not None:
            countdown = float(policy.countdown)
        else:
            countdown = policy.default_retry_delay
    due = resolve_eta(countdown, eta, now)
    return now if due is None else due

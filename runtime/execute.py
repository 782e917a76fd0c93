"""Running one task invocation and classifying how it ended (shared by workers and eager mode)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowc.runtime import states
from flowc.runtime.exceptions import Ignore, Reject, Retry, TimeLimitExceeded
from flowc.runtime.outcome import format_traceback
from flowc.runtime.request import Request, current_request
from flowc.runtime.worker.timelimits import limits_for

if TYPE_CHECKING:
    from flowc.runtime.message import Message
    from flowc.runtime.task import Task


@dataclass(slots=True)
class Outcome:
    """How an invocation ended: SUCCESS, FAILURE, RETRY, REJECTED or IGNORED."""

    status: str
    value: Any = None
    exc: BaseException | None = None
    traceback: str | None = None
    retry: Message | None = None
    """For RETRY: the message to publish for the next attempt."""
    requeue: bool = False
    """For REJECTED: put the message back instead of dead-lettering it."""
    runtime_s: float = 0.0


def make_request(task: Task, message: Message, hostname: str | None, eager: bool) -> Request:
    """The ``self.request`` of this invocation."""
    return Request(id=message.id, task=task.name, args=message.args, kwargs=message.kwargs,
                   retries=message.retries, is_eager=eager, eta=message.eta,
                   expires=message.expires, hostname=hostname,
                   delivery_info={"queue": message.queue, "priority": message.priority},
                   root_id=message.root_id, parent_id=message.parent_id,
                   group=message.group_id, called_directly=False, message=message)


def invoke(task: Task, message: Message, hostname: str | None = None,
           eager: bool = False) -> Outcome:
    """Run ``task`` for ``message`` in this thread; ``async def`` tasks get their own loop."""
    token = current_request.set(make_request(task, message, hostname, eager))
    started = time.perf_counter()
    try:
        args = (task, *message.args) if task.bind else message.args
        value = task.run(*args, **message.kwargs)
        if task.is_async:
            import asyncio

            value = asyncio.run(value)
        return Outcome(states.SUCCESS, value, runtime_s=time.perf_counter() - started)
    except BaseException as exc:
        return _classify(task, message, exc, time.perf_counter() - started)
    finally:
        current_request.reset(token)


async def ainvoke(task: Task, message: Message, hostname: str | None = None) -> Outcome:
    """Like ``invoke`` for the asyncio pool: coroutines are awaited on the running loop."""
    token = current_request.set(make_request(task, message, hostname, False))
    started = time.perf_counter()
    try:
        args = (task, *message.args) if task.bind else message.args
        value = task.run(*args, **message.kwargs)
        if task.is_async:
            value = await _await_within(value, limits_for(task.app, task, message)[1])
        return Outcome(states.SUCCESS, value, runtime_s=time.perf_counter() - started)
    except BaseException as exc:
        return _classify(task, message, exc, time.perf_counter() - started)
    finally:
        current_request.reset(token)


async def _await(value: Awaitable[Any]) -> Any:
    return await value


async def _await_within(value: Awaitable[Any], hard_s: float | None) -> Any:
    """Await a coroutine task; past its hard ``time_limit`` it is cancelled and the task fails
    with ``TimeLimitExceeded`` (how the asyncio pool enforces hard limits)."""
    if not hard_s:
        return await value
    import asyncio

    try:
        return await asyncio.wait_for(_await(value), hard_s)
    except TimeoutError:
        raise TimeLimitExceeded(f"time limit ({hard_s:g} s) exceeded") from None


def _classify(task: Task, message: Message, exc: BaseException, runtime_s: float) -> Outcome:
    if isinstance(exc, KeyboardInterrupt | SystemExit):
        raise exc
    autoretry = task.autoretry_for
    if message.headers and message.headers.get("options"):
        from flowc.runtime.retry import policy_for

        autoretry = policy_for(task, message).autoretry_for
    if autoretry and isinstance(exc, autoretry) \
            and not isinstance(exc, Retry | Reject | Ignore):
        exc = _autoretry(task, message, exc)
    if isinstance(exc, Retry):
        return Outcome(states.RETRY, exc=exc, traceback=format_traceback(exc.exc or exc),
                       retry=_retry_message(message, exc), runtime_s=runtime_s)
    if isinstance(exc, Reject):
        return Outcome(states.REJECTED, exc=exc, requeue=exc.requeue, runtime_s=runtime_s)
    if isinstance(exc, Ignore):
        return Outcome(states.IGNORED, exc=exc, runtime_s=runtime_s)
    return Outcome(states.FAILURE, exc=exc, traceback=format_traceback(exc), runtime_s=runtime_s)


def _autoretry(task: Task, message: Message, exc: BaseException) -> BaseException:
    """Turn an exception listed in ``autoretry_for`` into a Retry, or the final exception."""
    token = current_request.set(make_request(task, message, None, False))
    try:
        # max_retries and countdown come from the policy (task, retry_kwargs, step overrides)
        task.retry(exc=exc)
    except BaseException as raised:
        return raised
    finally:
        current_request.reset(token)
    return exc


def _retry_message(message: Message, err: Retry) -> Message:
    overrides = getattr(err, "overrides", {}) or {}
    nxt = dataclasses.replace(message, retries=message.retries + 1, eta=err.when)
    if overrides.get("args") is not None:
        nxt.args = list(overrides["args"])
    if overrides.get("kwargs") is not None:
        nxt.kwargs = dict(overrides["kwargs"])
    if overrides.get("queue"):
        nxt.queue = overrides["queue"]
    if overrides.get("priority") is not None:
        nxt.priority = overrides["priority"]
    return nxt

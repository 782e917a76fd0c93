"""Running one task invocation and classifying how it ended (shared by workers and eager mode)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowc.runtime import states
from flowc.runtime.exceptions import Ignore, Reject, Retry
from flowc.runtime.outcome import format_traceback
from flowc.runtime.request import Request, current_request

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
            value = await _await(value)
        return Outcome(states.SUCCESS, value, runtime_s=time.perf_counter() - started)
    except BaseException as exc:
        return _classify(task, message, exc, time.perf_counter() - started)
    finally:
        current_request.reset(token)


async def _await(value: Awaitable[Any]) -> Any:
    return await value


def _classify(task: Task, message: Message, exc: BaseException, runtime_s: float) -> Outcome:
    if isinstance(exc, KeyboardInterrupt | SystemExit):
        raise exc
    if task.autoretry_for and isinstance(exc, task.autoretry_for) and not isinstance(exc, Retry):
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
        kwargs = dict(task.retry_kwargs)
        task.retry(exc=exc, **kwargs)
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

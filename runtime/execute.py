"""Running one task invocation and classifying how it ended (shared by workers and eager mode)."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowc.runtime import signals, states
from flowc.runtime.exceptions import Ignore, Reject, Retry, TimeLimitExceeded
from flowc.runtime.outcome import format_traceback
from flowc.runtime.request import Request, current_request
from flowc.runtime.retry import policy_for
from flowc.runtime.worker.timelimits import limits_for

if TYPE_CHECKING:
    from flowc.runtime.message import Message
    from flowc.runtime.task import Task

logger = logging.getLogger("flowc.worker")


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
    priority = message.priority if task.app.conf.flowc_most_urgent_priority == 9 \
        else 9 - message.priority
    return Request(id=message.id, task=task.name, args=message.args, kwargs=message.kwargs,
                   retries=message.retries, is_eager=eager, eta=message.eta,
                   expires=message.expires, hostname=hostname,
                   delivery_info={"exchange": "", "routing_key": message.queue,
                                  "queue": message.queue, "priority": priority,
                                  "redelivered": False},
                   root_id=message.root_id or message.id, parent_id=message.parent_id,
                   group=message.group_id, called_directly=False, message=message,
                   headers=message.headers, reply_to=task.app.keys.result(message.id))


class ExceptionInfo:
    """What Celery passes hooks as ``einfo``: the exception, its type, traceback and text."""

    def __init__(self, exc: BaseException, traceback: str | None) -> None:
        self.exception = exc
        self.type = type(exc)
        self.tb = exc.__traceback__
        self.traceback = traceback or ""

    def __str__(self) -> str:
        return self.traceback

    def __repr__(self) -> str:
        return f"<ExceptionInfo: {self.exception!r}>"


def _observed(task: Task) -> bool:
    """Whether anything listens to this task's lifecycle (hooks or task signals): two
    attribute tests, so a task nobody observes pays nothing more."""
    return task.hooked or signals.TASK_SIGNALS_LIVE


def _before(task: Task, message: Message) -> None:
    """``task_prerun``, as Celery sends it before the task's ``before_start``."""
    signals.task_prerun.send(sender=task, task_id=message.id, task=task, args=message.args,
                             kwargs=message.kwargs)


def _after(task: Task, message: Message, request: Request, outcome: Outcome) -> None:
    """The hooks and signals of a finished invocation, in Celery's order (hooks first)."""
    status, tid, args, kwargs = outcome.status, message.id, message.args, message.kwargs
    retval: Any = outcome.value
    try:
        if status == states.SUCCESS:
            task.on_success(outcome.value, tid, args, kwargs)
            signals.task_success.send(sender=task, result=outcome.value)
        elif status == states.FAILURE and outcome.exc is not None:
            retval = outcome.exc
            einfo = ExceptionInfo(outcome.exc, outcome.traceback)
            task.on_failure(outcome.exc, tid, args, kwargs, einfo)
            signals.task_failure.send(sender=task, task_id=tid, exception=outcome.exc,
                                      args=args, kwargs=kwargs, traceback=einfo.tb, einfo=einfo)
        elif status == states.RETRY and outcome.exc is not None:
            retval = outcome.exc
            reason = getattr(outcome.exc, "exc", None) or outcome.exc
            einfo = ExceptionInfo(reason, outcome.traceback)
            task.on_retry(reason, tid, args, kwargs, einfo)
            signals.task_retry.send(sender=task, request=request, reason=outcome.exc,
                                    einfo=einfo)
        else:
            retval = outcome.exc
            if status == states.REJECTED and not outcome.requeue and outcome.exc is not None:
                einfo = ExceptionInfo(outcome.exc, outcome.traceback)  # Celery 5: a failure
                signals.task_failure.send(sender=task, task_id=tid, exception=outcome.exc,
                                          args=args, kwargs=kwargs, traceback=einfo.tb,
                                          einfo=einfo)
        if status in (states.SUCCESS, states.FAILURE):
            task.after_return(status, retval, tid, args, kwargs, None)
    except Exception:
        logger.exception("a hook of task %s[%s] raised", task.name, tid)
    signals.task_postrun.send(sender=task, task_id=tid, task=task, args=args, kwargs=kwargs,
                              retval=retval, state=status)


def invoke(task: Task, message: Message, hostname: str | None = None,
           eager: bool = False) -> Outcome:
    """Run ``task`` for ``message`` in this thread; ``async def`` tasks get their own loop."""
    request = make_request(task, message, hostname, eager)
    token = current_request.set(request)
    observed = task.hooked or signals.TASK_SIGNALS_LIVE  # see _observed
    started = time.perf_counter()
    try:
        if observed:
            _before(task, message)
        try:
            if task.hooked:
                task.before_start(message.id, message.args, message.kwargs)
            args = (task, *message.args) if task.bind else message.args
            value = task.run(*args, **message.kwargs)
            if task.is_async:
                import asyncio

                value = asyncio.run(value)
            outcome = Outcome(states.SUCCESS, value, runtime_s=time.perf_counter() - started)
        except BaseException as exc:
            outcome = _classify(task, message, exc, time.perf_counter() - started, eager)
        if observed:
            _after(task, message, request, outcome)
        return outcome
    finally:
        current_request.reset(token)


async def ainvoke(task: Task, message: Message, hostname: str | None = None) -> Outcome:
    """Like ``invoke`` for the asyncio pool: coroutines are awaited on the running loop."""
    request = make_request(task, message, hostname, False)
    token = current_request.set(request)
    observed = task.hooked or signals.TASK_SIGNALS_LIVE  # see _observed
    started = time.perf_counter()
    try:
        if observed:
            _before(task, message)
        try:
            if task.hooked:
                task.before_start(message.id, message.args, message.kwargs)
            args = (task, *message.args) if task.bind else message.args
            value = task.run(*args, **message.kwargs)
            if task.is_async:
                value = await _await_within(value, limits_for(task.app.conf, task, message)[1])
            outcome = Outcome(states.SUCCESS, value, runtime_s=time.perf_counter() - started)
        except BaseException as exc:
            outcome = _classify(task, message, exc, time.perf_counter() - started)
        if observed:
            _after(task, message, request, outcome)
        return outcome
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


def _classify(task: Task, message: Message, exc: BaseException, runtime_s: float,
              eager: bool = False) -> Outcome:
    if isinstance(exc, KeyboardInterrupt | SystemExit):
        raise exc
    autoretry = task.autoretry_for
    if message.headers and message.headers.get("options"):
        autoretry = policy_for(task, message).autoretry_for
    if autoretry and isinstance(exc, autoretry) \
            and not isinstance(exc, Retry | Reject | Ignore):
        exc = _autoretry(task, message, exc, eager)
    if isinstance(exc, Retry):
        return Outcome(states.RETRY, exc=exc, traceback=format_traceback(exc.exc or exc),
                       retry=_retry_message(message, exc), runtime_s=runtime_s)
    if isinstance(exc, Reject):
        return Outcome(states.REJECTED, exc=exc, requeue=exc.requeue, runtime_s=runtime_s)
    if isinstance(exc, Ignore):
        return Outcome(states.IGNORED, exc=exc, runtime_s=runtime_s)
    return Outcome(states.FAILURE, exc=exc, traceback=format_traceback(exc), runtime_s=runtime_s)


def _autoretry(task: Task, message: Message, exc: BaseException,
               eager: bool = False) -> BaseException:
    """Turn an exception listed in ``autoretry_for`` into a Retry, or the final exception (an
    eager run's retry is computed on the local clock: eager mode never touches the broker)."""
    token = current_request.set(make_request(task, message, None, eager))
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
    if overrides.get("priority") is not None:  # already in internal order (Task.retry)
        nxt.priority = overrides["priority"]
    return nxt

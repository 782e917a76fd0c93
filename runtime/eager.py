"""Eager mode: run a task in the calling process with the same result API (``apply()``)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from flowc.runtime import states
from flowc.runtime.execute import Outcome, invoke
from flowc.runtime.message import Message
from flowc.runtime.outcome import encode_record, exception_to_dict, now_iso
from flowc.runtime.result import EagerResult

if TYPE_CHECKING:
    from flowc.runtime.task import Task


def apply_eagerly(task: Task, args: list[Any], kwargs: dict[str, Any],
                  options: dict[str, Any]) -> EagerResult:
    """Run ``task`` now; retries run again at once (no waiting), as Celery's eager mode does."""
    message = Message(id=options.get("task_id") or str(uuid.uuid4()), task=task.name,
                      args=args, kwargs=kwargs, retries=int(options.get("retries", 0)),
                      headers=options.get("headers"), group_id=options.get("group_id"),
                      root_id=options.get("root_id"), parent_id=options.get("parent_id"))
    while True:
        outcome = invoke(task, message, eager=True)
        if outcome.status != states.RETRY or outcome.retry is None:
            break
        message = outcome.retry
    return eager_result(task, message, outcome, options)


def eager_result(task: Task, message: Message, outcome: Outcome,
                 options: dict[str, Any], *, store: bool = True) -> EagerResult:
    """The ``EagerResult`` of an invocation's last attempt: stored when ``store_eager_result``
    asks for it (and ``store``), raised when ``throw`` (default ``task_eager_propagates``)."""
    if outcome.status == states.SUCCESS:
        record = {"status": states.SUCCESS, "result": outcome.value, "date_done": now_iso(),
                  "task_id": message.id, "name": task.name}
        if store:
            _store(task, options, record)
        return EagerResult(message.id, task.app, task.name, record)
    exc = outcome.exc
    throw = options.get("throw")
    if store and exc is not None and getattr(task, "store_eager_result", False):
        _store(task, options, {"status": states.FAILURE, "result": exception_to_dict(exc),
                               "traceback": outcome.traceback, "date_done": now_iso(),
                               "task_id": message.id, "name": task.name})
    if exc is not None and (task.app.conf.task_eager_propagates if throw is None else throw):
        raise exc
    status = states.FAILURE if outcome.status in (states.FAILURE, states.RETRY) else outcome.status
    record = {"status": status, "result": exception_to_dict(exc) if exc else None,
              "traceback": outcome.traceback, "date_done": now_iso(), "task_id": message.id,
              "name": task.name}
    return EagerResult(message.id, task.app, task.name, record, exc)


def _store(task: Task, options: dict[str, Any], record: dict[str, Any]) -> None:
    """With ``store_eager_result`` (option or ``task_store_eager_result``), store the record
    so ``AsyncResult(id)`` reads it, as Celery does; not for an ignored result."""
    if not getattr(task, "store_eager_result", False):
        return
    ignored = options.get("ignore_result")
    if ignored if ignored is not None else task.ignore_result:
        return
    conf = task.app.conf
    task.app.backend.store([(record["task_id"], encode_record(record, conf.result_serializer))],
                           conf.result_ttl)

"""What a worker does differently for a message that belongs to a workflow run.

A finished step becomes a join operation; a map node's message expands into one message per
element; an errback gets Celery's ``(request, exc, traceback)`` or the failed task's id.
"""

from __future__ import annotations

import inspect
import uuid
from typing import TYPE_CHECKING, Any

import orjson
from flowc.runtime import states
from flowc.runtime.exceptions import Replaced
from flowc.runtime.message import Message
from flowc.runtime.outcome import exception_from_dict, exception_to_dict
from flowc.runtime.request import Request
from flowc.runtime.serialization import json_dumps
from flowc.runtime.workflows.join import JoinOp

if TYPE_CHECKING:
    from flowc.runtime.execute import Outcome
    from flowc.runtime.task import Task


class MapWidthExceeded(Exception):
    """A dynamic map received a longer list than its ``max_width`` allows."""


def map_too_wide(task: str, node: str | None, count: int, limit: int,
                 at: str | None) -> MapWidthExceeded:
    """The error of a map given ``count`` items over its cap, in the words the map was written
    in: a ``.flow`` map (``at`` is its file:line:col) by location and its ``max``, a Python
    ``fanout`` by node and ``max_width``."""
    if at:
        short = task.rsplit(".", 1)[-1]
        return MapWidthExceeded(
            f"map {short} at {at} got {count} items, more than its max {limit} "
            f"(raise it with 'map {short}(...) max N')")
    return MapWidthExceeded(
        f"map step {node} got {count} items, more than its max_width of {limit}")


def source_location(span: object) -> str | None:
    """``file:line:col`` of a node's ``SourceSpan`` (None for a node built in Python)."""
    line = getattr(span, "line", None)
    if not line:
        return None
    file = getattr(span, "file", None)
    return f"{file + ':' if file else ''}{line}:{getattr(span, 'col', 0)}"


def join_for_outcome(message: Message, outcome: Outcome) -> JoinOp | None:
    """The join operation that settles a finished workflow step (None while it retries)."""
    marker = message.workflow
    if not marker or outcome.status == states.RETRY:
        return None
    if outcome.status == states.REJECTED and outcome.requeue:
        return None
    if isinstance(outcome.exc, Replaced):  # the replacement finishes the step (replace.py)
        return None
    index = marker.get("i")
    if outcome.status == states.SUCCESS:
        try:
            result = json_dumps(outcome.value)
        except TypeError as e:
            err = TypeError(f"workflow step results must be JSON-serialisable: {e}")
            return fail_op(message, err, None)
        return JoinOp("done", marker["id"], marker["node"], index, result_json=result)
    exc = outcome.exc or RuntimeError(outcome.status)
    if outcome.status == states.IGNORED:
        exc = RuntimeError("step raised Ignore; the workflow cannot continue past it")
    return fail_op(message, exc, outcome.traceback)


def fail_op(message: Message, exc: BaseException, traceback: str | None) -> JoinOp | None:
    """A ``fail`` join for a workflow step (None for a plain task)."""
    marker = message.workflow
    if not marker:
        return None
    return JoinOp("fail", marker["id"], marker["node"], marker.get("i"),
                  exc=exception_to_dict(exc), traceback=traceback, task_id=message.id)


def map_refusal(message: Message, items: Any) -> Exception | None:
    """Why a map node's message cannot expand into ``items`` (not a list, or more of them
    than its ``max``); None when it can."""
    marker = message.workflow or {}
    if not isinstance(items, list):
        return TypeError(f"map step {marker.get('node')} needs a list to map over, got "
                         f"{type(items).__name__}")
    limit = marker.get("max")
    if limit is not None and len(items) > int(limit):
        return map_too_wide(message.task, marker.get("node"), len(items), int(limit),
                            marker.get("at"))
    return None


def expansion(message: Message) -> JoinOp:
    """Turn a map node's message (``args[0]`` is the list) into one message per element."""
    marker = dict(message.workflow or {})
    items = message.args[0] if message.args else None
    refused = map_refusal(message, items)
    if refused is not None or not isinstance(items, list):
        return fail_op(message, refused or TypeError(), None) or JoinOp("fail", "", "")
    bodies = []
    namespace = message.id_namespace()
    for i, item in enumerate(items):
        # An instance's id is derived from its map's task id and index, so a map message
        # expanded twice (redelivered) makes the same instances: duplicates of one id.
        instance = Message(
            str(uuid.uuid5(namespace, str(i))), message.task, [item, *message.args[1:]],
            message.kwargs, message.queue, message.priority, acks_late=message.acks_late,
            ignore_result=message.ignore_result, time_limit=message.time_limit,
            soft_time_limit=message.soft_time_limit, headers=message.headers,
            workflow={"id": marker["id"], "node": marker["node"], "i": i})
        bodies.append(orjson.dumps(instance.to_envelope()))
    return JoinOp("expand", marker["id"], marker["node"], bodies=bodies)


def bind_errback(task: Task, message: Message) -> None:
    """Prepend Celery's ``(request, exc, traceback)`` or the failed task id to an errback."""
    info = (message.headers or {}).get("errback")
    if not isinstance(info, dict):
        return
    sig = task.call_signature
    positional = 0
    if sig is not None:
        params = list(sig.parameters.values())[1 if task.bind else 0:]
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        positional = sum(1 for p in params if p.kind in kinds)
        if any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in params):
            positional = len(message.args) + 3
    if positional >= len(message.args) + 3:
        request = Request(id=info.get("task_id"), task=None, called_directly=False)
        exc = exception_from_dict(info.get("exc"))
        message.args = [request, exc, info.get("traceback") or "", *message.args]
    else:
        message.args = [info.get("task_id"), *message.args]

"""Run a workflow inline (``task_always_eager``, ``canvas.apply()``), following the join's rules.

Nodes run in topological order; a failed node skips its dependents and fires its errbacks once;
maps run once per element. The results come back shaped like the Redis-backed run's.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from flowc.compiler.ir import Node, Workflow
from flowc.runtime import states
from flowc.runtime.exceptions import ChordError
from flowc.runtime.group_result import GroupResult, ResultLike
from flowc.runtime.message import Message
from flowc.runtime.outcome import exception_to_dict, now_iso
from flowc.runtime.result import EagerResult
from flowc.runtime.retry import STEP_OPTIONS
from flowc.runtime.workflows.steps import bind_errback, map_too_wide, source_location

if TYPE_CHECKING:
    from flowc.runtime.app import App


def run_eagerly(app: App, wf: Workflow) -> ResultLike:
    """Execute every node now; return EagerResults shaped like ``wf.result``."""
    values: dict[str, Any] = {}
    outcome: dict[str, EagerResult] = {}
    failed: dict[str, EagerResult] = {}
    fired: set[str] = set()
    for node_id in wf.topological_order():
        node = wf.node(node_id)
        blocker = next((failed[p] for p in node.parents() if p in failed), None)
        if blocker is not None:
            failed[node_id] = outcome[node_id] = _skipped(app, node.task, blocker,
                                                          node.collect is not None)
            continue
        args, kwargs = wf.bind(node_id, values)
        task = app.tasks[node.task]
        step = {k: node.options[k] for k in STEP_OPTIONS if node.options.get(k) is not None}
        headers = {"options": step} if step else None
        if node.kind == "map":
            result = _run_map(app, node, args, kwargs, headers)
        else:
            result = task.apply(args, kwargs, headers=headers,
                                group_id=node.options.get("group_id"))
        outcome[node_id] = result
        if result.failed():
            failed[node_id] = result
            for eb_id in [*node.link_error, *wf.on_error]:
                if eb_id not in fired:
                    fired.add(eb_id)
                    _run_errback(app, wf, eb_id, result)
        else:
            values[node_id] = result.get()
    shape = wf.result if wf.result is not None else (wf.nodes[-1].id if wf.nodes else [])

    def build(s: Any) -> ResultLike:
        return outcome[s] if isinstance(s, str) else GroupResult(None, [build(x) for x in s], app)

    return build(shape)


def _run_map(app: App, node: Node, args: list[Any], kwargs: dict[str, Any],
             headers: dict[str, Any] | None) -> EagerResult:
    name, max_width = node.task, node.max_width
    items = args[0] if args else None
    task = app.tasks[name]
    if not isinstance(items, list):
        return _failure(app, name, TypeError(f"map needs a list, got {type(items).__name__}"))
    if max_width is not None and len(items) > max_width:
        return _failure(app, name, map_too_wide(
            name, node.id, len(items), max_width, source_location(node.span)))
    values = []
    for item in items:
        result = task.apply([item, *args[1:]], kwargs, headers=headers)
        if result.failed():
            return result
        values.append(result.get())
    record = {"status": states.SUCCESS, "result": values, "date_done": now_iso()}
    return EagerResult(str(uuid.uuid4()), app, name, record)


def _failure(app: App, name: str, exc: BaseException) -> EagerResult:
    record = {"status": states.FAILURE, "result": exception_to_dict(exc), "date_done": now_iso()}
    return EagerResult(str(uuid.uuid4()), app, name, record, exc)


def _skipped(app: App, name: str, blocker: EagerResult, chord_body: bool) -> EagerResult:
    """A node not run because ``blocker`` failed: ``get()`` raises the blocker's exception, as
    an eager Celery chain or chord does; a chord body's stored result is a ``ChordError``."""
    exc = blocker.result if isinstance(blocker.result, BaseException) else None
    result = blocker._load().get("result")
    if chord_body:
        result = exception_to_dict(ChordError(f"Dependency {blocker.id} raised {exc!r}"))
    record = {"status": states.FAILURE, "date_done": now_iso(), "skipped": True,
              "result": result}
    return EagerResult(str(uuid.uuid4()), app, name, record, exc)


def _run_errback(app: App, wf: Workflow, eb_id: str, failed: EagerResult) -> None:
    eb = wf.errback(eb_id)
    task = app.tasks[eb.task]
    message = Message(id=str(uuid.uuid4()), task=eb.task, args=list(eb.args),
                      kwargs=dict(eb.kwargs), headers={"errback": {
                          "task_id": failed.id, "exc": failed._load().get("result"),
                          "traceback": failed.traceback}})
    if not eb.immutable:
        bind_errback(task, message)
    task.apply(message.args, message.kwargs)

"""flowc's builtin tasks: made for each App on first lookup (``TaskRegistry.get``), not listed
with its own tasks.

``flowc.accumulate``, ``flowc.replaced`` and ``flowc.replaced_failed`` finish what
``Task.replace`` starts (``runtime.workflows.replace``): collect a replacing group's list, and
complete or fail the replaced workflow step with the replacement's outcome. ``celery.map`` and
``celery.starmap`` run ``task.map``/``task.starmap`` canvases (``compiler.canvas.builtins``), one
call of the task's function per item, under Celery's names so that either implementation's
workers run the other's messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from flowc.runtime.outcome import exception_to_dict
from flowc.runtime.task import Task
from flowc.runtime.workflows.join import JoinOp
from flowc.runtime.workflows.replace import ACCUMULATE, REPLACED, REPLACED_FAILED

if TYPE_CHECKING:
    from flowc.runtime.app import App

MAP = "celery.map"
STARMAP = "celery.starmap"
"""Celery's names, also in ``compiler.canvas.builtins`` (the compiler does not import the
runtime)."""
BUILTINS = (ACCUMULATE, REPLACED, REPLACED_FAILED, MAP, STARMAP)


def make_builtin(app: App, name: str) -> Task:
    """A builtin task bound to ``app`` (not listed with the app's own tasks)."""
    def accumulate(values: list[Any]) -> list[Any]:
        return values

    def replaced(result: Any, run_id: str, node_id: str, index: int | None) -> Any:
        _join(app, "done", run_id, node_id, index, result_json=orjson.dumps(result))
        return result

    def replaced_failed(request: Any, exc: BaseException, traceback: str, run_id: str,
                        node_id: str, index: int | None, task_id: str) -> None:
        _join(app, "fail", run_id, node_id, index, exc=exception_to_dict(exc),
              traceback=traceback, task_id=task_id)

    def xmap(task: dict[str, Any], it: list[Any]) -> list[Any]:
        fn = app.tasks[task["task"]]  # Celery's map: the function called once per item
        return [fn(item) for item in it]

    def xstarmap(task: dict[str, Any], it: list[Any]) -> list[Any]:
        fn = app.tasks[task["task"]]
        return [fn(*item) for item in it]

    functions: dict[str, Callable[..., Any]] = {
        ACCUMULATE: accumulate, REPLACED: replaced, REPLACED_FAILED: replaced_failed,
        MAP: xmap, STARMAP: xstarmap}
    return Task(app, functions[name], name, {})


def _join(app: App, op: str, run_id: str, node_id: str, index: int | None,
          **fields: Any) -> None:
    """Apply one join operation to another run now, and store the records it asks for."""
    join = JoinOp(op, run_id, node_id, index, **fields)
    [reply] = app.workflow_join.join([join])
    records = join.follow_up(reply, app.conf.result_serializer)
    if records:
        app.backend.store(records, app.conf.result_ttl or None)
    app.workflows.publish_ready(reply)

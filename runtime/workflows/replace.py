"""``Task.replace(sig)`` and ``Task.add_to_chord``, Celery's way, on flowc's workflow runs.

A task that calls ``self.replace(sig)`` ends at once (``Replaced``, an ``Ignore``: no result is
stored for it) and ``sig`` runs instead, frozen so that its *last* task has the replaced task's
id: whoever holds the replaced task's ``AsyncResult`` gets the replacement's result. A group is
given a final step that collects its list (Celery's ``celery.accumulate``), so that one id holds
the whole result.

When the replaced task is a workflow step, the replacement also finishes that step: its final
builtin step ``flowc.replaced`` completes the original node in the original run with the
replacement's result (``workflow.lua done``, idempotent), so the step's successors, callbacks
included, run as if the step had returned it; its errback ``flowc.replaced_failed`` fails the
node (its dependents are skipped, its errbacks fire) if the replacement fails.

``add_to_chord`` is refused with ``NotImplementedError``: a run's chord header is fixed when the
run is submitted (the join counts its members in one atomic step), so it cannot grow later.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import orjson
from flowc.runtime.exceptions import ImproperlyConfigured, Replaced
from flowc.runtime.outcome import exception_to_dict

if TYPE_CHECKING:
    from flowc.runtime.app import App
    from flowc.runtime.task import Task

ACCUMULATE = "flowc.accumulate"
REPLACED = "flowc.replaced"
REPLACED_FAILED = "flowc.replaced_failed"
MAP = "celery.map"
STARMAP = "celery.starmap"
"""Celery's builtin tasks behind ``task.map``/``task.starmap`` (``compiler.canvas.builtins``)."""
BUILTINS = (ACCUMULATE, REPLACED, REPLACED_FAILED, MAP, STARMAP)

ADD_TO_CHORD_REFUSED = (
    "add_to_chord is not supported: a flowc chord's header is fixed when the run is submitted "
    "(the join counts its members atomically); build the whole header before submitting, or "
    "use fanout(sig) to map over a list produced at run time"
)


def replace(task: Task, sig: Any) -> Any:
    """``self.replace(sig)``: run ``sig`` in place of the current task (see the module doc)."""
    from flowc.compiler.canvas.primitives import chain, chord, group

    request = task.request
    if isinstance(sig, chain) and not sig.tasks:
        raise ImproperlyConfigured("Cannot replace with an empty chain")
    if request.is_eager or request.message is None:
        return sig.apply().get()  # Celery's on_replace when not in a worker
    app = task.app
    sig = sig.clone()
    marker = request.message.workflow
    if marker:
        index = marker.get("i")
        sig = sig | builtin(app, REPLACED).s(marker["id"], marker["node"], index)
        sig.link_error(builtin(app, REPLACED_FAILED).s(marker["id"], marker["node"], index,
                                                       request.id))
    elif isinstance(sig, group):
        sig = chord(sig, builtin(app, ACCUMULATE).s())
    sig.freeze(request.id)
    sig.apply_async()
    raise Replaced("Replaced by new task")


def add_to_chord(task: Task, sig: Any, lazy: bool = False) -> NoReturn:
    """Refused; see ``ADD_TO_CHORD_REFUSED``."""
    raise NotImplementedError(ADD_TO_CHORD_REFUSED)


def builtin(app: App, name: str) -> Task:
    """The app's builtin task ``name`` (``app.tasks.get`` creates it on first use)."""
    found = app.tasks.get(name)
    assert found is not None, name
    return found


def make_builtin(app: App, name: str) -> Task:
    """A builtin task bound to ``app`` (not listed with the app's own tasks)."""
    from flowc.runtime.task import Task

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
    from flowc.runtime.workflows.join import JoinOp

    join = JoinOp(op, run_id, node_id, index, **fields)
    [reply] = app.workflow_join.join([join])
    records = join.follow_up(reply, app.conf.result_serializer)
    if records:
        app.backend.store(records, app.conf.result_ttl or None)
    app.workflows.publish_ready(reply)

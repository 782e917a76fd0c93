"""How an App runs canvases: the compiler's ``Dispatcher`` contract, implemented on Redis.

A plain signature is sent as one task; anything with structure (chains, groups, chords, maps,
links) is lowered to the IR, validated against the registry, and submitted as a workflow run.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from flowc.compiler.canvas.primitives import chord, group
from flowc.compiler.canvas.signature import Canvas, Signature
from flowc.compiler.ir import Workflow
from flowc.compiler.validate import compile_canvas
from flowc.dsl.gc_pause import gc_paused
from flowc.runtime.group_result import GroupResult, ResultLike, handle_for
from flowc.runtime.result import AsyncResult
from flowc.runtime.workflows.eager import run_eagerly

if TYPE_CHECKING:
    from flowc.runtime.app import App


def apply_canvas(app: App, canvas: Canvas, args: tuple[Any, ...], kwargs: dict[str, Any],
                 options: dict[str, Any]) -> ResultLike:
    """``canvas.apply_async(args, kwargs, **options)``: one task, or a workflow run."""
    from flowc.runtime.current import send_hook

    hook = send_hook.get()
    if hook is not None:  # sent by a task flowc.testing's harness runs
        return hook(app, canvas, args, kwargs, options)
    if app.conf.task_always_eager:
        return apply_canvas_eager(app, canvas, args, kwargs, options)
    if isinstance(canvas, Signature) and not canvas.options.get("link") \
            and not canvas.options.get("link_error") and not options.get("link") \
            and not options.get("link_error"):
        call_args, call_kwargs, call_options = canvas._merge(args, kwargs, options)
        return app.send_task(canvas.task, call_args, call_kwargs, **call_options)
    canvas, options = _prepared(canvas, options)
    with gc_paused():  # see gc_paused: a large workflow's compile and submit make no cycles
        wf = compile_canvas(canvas, app.tasks, args, kwargs, options)
        return _with_group_ids(canvas, options, submit_workflow(app, wf))


def _prepared(canvas: Canvas, options: dict[str, Any]) -> tuple[Canvas, dict[str, Any]]:
    """Celery's ``apply_async(link=, link_error=)`` on a composite as callbacks of the whole
    canvas (an errback fires once, for the step that failed); a group gets its id now, so its
    members' ``request.group`` is the ``GroupResult``'s id."""
    if options.get("link") or options.get("link_error"):
        options = dict(options)
        canvas = canvas.clone()
        for key, attach in (("link", canvas.link), ("link_error", canvas.link_error)):
            value = options.pop(key, None)
            for callback in value if isinstance(value, list | tuple) else [value] if value else []:
                attach(callback)
    if isinstance(canvas, group) and not options.get("task_id") and canvas.id is None:
        options = {**options, "task_id": str(uuid.uuid4())}
    return canvas, options


def _with_group_ids(canvas: Canvas, options: dict[str, Any], out: ResultLike) -> ResultLike:
    """Celery's group results have an id: the frozen group id, else a new one; a chord's
    result's parent (its header) has the chord's."""
    if isinstance(out, GroupResult) and out.id is None:
        frozen = options.get("task_id") or canvas.id if isinstance(canvas, group) else None
        out.id = frozen or str(uuid.uuid4())
    if isinstance(canvas, chord) and isinstance(out, AsyncResult) \
            and isinstance(out.parent, GroupResult) and out.parent.id is None:
        out.parent.id = canvas.id
    return out


def submit_workflow(app: App, wf: Workflow, workflow_id: str | None = None) -> ResultLike:
    """Submit a validated workflow; return handles shaped like its result."""
    with gc_paused():
        return _submit_workflow(app, wf, workflow_id)


def _submit_workflow(app: App, wf: Workflow, workflow_id: str | None) -> ResultLike:
    run = app.workflows.submit(wf, workflow_id)
    shape = wf.result if wf.result is not None else (wf.nodes[-1].id if wf.nodes else [])
    handles: dict[str, AsyncResult] = {}

    def build(node_shape: Any) -> ResultLike:
        if isinstance(node_shape, str):
            return handles[node_shape]
        return GroupResult(None, [build(s) for s in node_shape], app)

    task_ids = run.task_ids
    # parents first, so links need no recursion (lowering emits that order; else sort)
    nodes = wf.nodes if wf.parents_first() else [wf.node(n) for n in wf.topological_order()]
    for node in nodes:
        node_id = node.id
        result = handles[node_id] = AsyncResult(task_ids[node_id], app, node.task)
        parent: ResultLike = None
        if node.prepend is not None:
            parent = handles[node.prepend]
        elif node.collect is not None:
            parent = build(node.collect)
        elif node.after:  # an immutable step still has the step before it as its parent
            parent = handles[node.after[0]] if len(node.after) == 1 else build(node.after)
        if parent is not None:
            result.parent = parent
            if isinstance(parent, AsyncResult):
                parent.children.append(result)

    out = build(shape)
    out.workflow_id = run.workflow_id
    if isinstance(out, GroupResult) and out.results:  # a chain ending in a group: its step
        first = out.results[0]
        if isinstance(first, AsyncResult) and first.parent is not None and all(
                isinstance(r, AsyncResult) and r.parent is first.parent for r in out.results):
            out.parent = first.parent
    return out


def apply_canvas_eager(app: App, canvas: Canvas, args: tuple[Any, ...], kwargs: dict[str, Any],
                       options: dict[str, Any]) -> ResultLike:
    """Run a canvas inline in this process with the same result API."""
    if isinstance(canvas, Signature) and not canvas.options.get("link") \
            and not canvas.options.get("link_error"):
        call_args, call_kwargs, call_options = canvas._merge(args, kwargs, options)
        return app.tasks[canvas.task].apply(call_args, call_kwargs, **call_options)
    canvas, options = _prepared(canvas, options)
    wf = compile_canvas(canvas, app.tasks, args, kwargs, options)
    return _with_group_ids(canvas, options, run_eagerly(app, wf))


__all__ = ["apply_canvas", "apply_canvas_eager", "handle_for", "submit_workflow"]

"""Turns a validated IR ``Workflow`` into run records that ``workflow.lua`` can join on.

A run record holds what the join needs to enqueue a node the moment its last parent finishes,
as JSON text pieces rather than values: the envelope up to ``"kwargs"`` (``h``), the static
keyword and positional arguments (``kw``, ``ra``), and how parent results bind (``in``: prepend,
collect, items or none). Lua splices parents' result JSON between those pieces, so results are
never decoded and re-encoded in Redis (no float or big-integer drift).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from flowc.compiler.ir import Node, Workflow, shape_leaves
from flowc.runtime.retry import STEP_OPTIONS

if TYPE_CHECKING:
    from flowc.runtime.app import App

PASSED_OPTIONS = ("acks_late", "ignore_result", "time_limit", "soft_time_limit")
"""Node options that travel in the envelope; routing and delays are resolved here."""


@dataclass
class RunPlan:
    """Everything ``workflow.lua submit`` needs, plus the task id of every node."""

    workflow_id: str
    records: dict[str, bytes] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    roots: list[str] = field(default_factory=list)
    errbacks: dict[str, bytes] = field(default_factory=dict)
    task_ids: dict[str, str] = field(default_factory=dict)
    on_error: list[str] = field(default_factory=list)
    queues: set[str] = field(default_factory=set)


def _inner(value: Any, opener: bytes, closer: bytes) -> str:
    """JSON of a list or dict without its brackets ('' when empty)."""
    text = orjson.dumps(value)
    assert text[:1] == opener and text[-1:] == closer
    return text[1:-1].decode()


def _head(app: App, task_id: str, task: str, options: dict[str, Any], queue: str,
          priority: int, workflow: dict[str, Any] | None) -> str:
    env: dict[str, Any] = {"v": 1, "id": task_id, "task": task, "queue": queue,
                           "priority": priority}
    if options.get("expires") is not None:
        from flowc.runtime.options import resolve_expires

        env["expires"] = resolve_expires(options["expires"], time.time())
    for name in PASSED_OPTIONS:
        if options.get(name) is not None:
            env[name] = options[name]
    if workflow is not None:
        env["workflow"] = workflow
    step = {k: options[k] for k in (*STEP_OPTIONS, "rate_limit") if options.get(k) is not None}
    if step:
        env["headers"] = {"options": step}
    text = orjson.dumps(env)
    return text[:-1].decode()  # drop the closing brace: Lua appends kwargs and args


Route = tuple[str, int, str, str]
"""Queue, priority, stream key, delayed-set key."""


def _route(app: App, task: str, options: dict[str, Any],
           cache: dict[tuple[str, Any, Any], Route]) -> Route:
    """Queue, priority, stream key and delayed key of one step (same rules as send_task)."""
    key = (task, options.get("queue"), options.get("priority"))
    found = cache.get(key)
    if found is None or callable(app.conf.task_routes):  # routing functions may look at args
        message = app.build_message(task, [], {}, app.tasks.get(task),
                                    {k: v for k in ("queue", "priority")
                                     if (v := options.get(k)) is not None})
        found = cache[key] = (message.queue, message.priority,
                              app.keys.stream(message.queue, message.priority),
                              app.keys.delayed(message.queue))
    return found


def _delays(options: dict[str, Any]) -> tuple[float, float]:
    from flowc.runtime.options import resolve_eta

    countdown = options.get("countdown")
    eta = options.get("eta")
    if countdown is not None:
        return float(countdown), 0.0
    if eta is not None:
        return 0.0, resolve_eta(None, eta, time.time()) or 0.0
    return 0.0, 0.0


def _collect_tokens(shape: Any) -> list[str]:
    """A collect shape as literal JSON punctuation and ``@<node>`` placeholders."""
    if isinstance(shape, str):
        return ["@" + shape]
    tokens = ["["]
    for i, item in enumerate(shape):
        if i:
            tokens.append(",")
        tokens.extend(_collect_tokens(item))
    tokens.append("]")
    return tokens


def _node_record(app: App, successors: list[str], node: Node, workflow_id: str, task_id: str,
                 routes: dict[Any, tuple[str, int, str, str]]) -> dict[str, Any]:
    queue, priority, stream, delayed = _route(app, node.task, node.options, routes)
    countdown, eta = _delays(node.options)
    marker: dict[str, Any] = {"id": workflow_id, "node": node.id}
    if node.kind == "map":
        marker["expand"] = True
        marker["max"] = node.max_width
    kwargs = {k: v for k, v in node.kwargs.items() if k not in node.kwarg_inputs}
    rec: dict[str, Any] = {
        "t": task_id, "s": stream, "dk": delayed, "p": priority, "cd": countdown, "eta": eta,
        "h": _head(app, task_id, node.task, node.options, queue, priority, marker),
        "kw": _inner(kwargs, b"{", b"}"), "ra": _inner(node.args, b"[", b"]"),
        "ki": [[name, parent] for name, parent in sorted(node.kwarg_inputs.items())],
        "succ": successors, "le": list(node.link_error), "in": "none",
    }
    if node.prepend is not None:
        rec["in"], rec["pp"] = "prepend", node.prepend
    elif node.collect is not None:
        rec["in"], rec["co"] = "collect", _collect_tokens(node.collect)
    elif node.kind == "map" and node.items is not None:
        rec["in"], rec["it"] = "items", orjson.dumps(node.items).decode()
    return rec


def plan(app: App, wf: Workflow, workflow_id: str | None = None) -> RunPlan:
    """Assign task ids and build the run records of every node and errback."""
    wid = workflow_id or wf.id or str(uuid.uuid4())
    out = RunPlan(wid, on_error=list(wf.on_error))
    for node in wf.nodes:
        out.task_ids[node.id] = str(uuid.uuid4())
    routes: dict[Any, tuple[str, int, str, str]] = {}
    nodes = wf.nodes  # pydantic attribute access is slow: read the list once
    parents = {node.id: node.parents() for node in nodes}
    successors: dict[str, list[str]] = {node.id: [] for node in nodes}
    for node in nodes:
        for parent in parents[node.id]:
            successors[parent].append(node.id)
    for node in nodes:
        rec = _node_record(app, successors[node.id], node, wid, out.task_ids[node.id], routes)
        out.records[node.id] = orjson.dumps(rec)
        count = len(parents[node.id])
        if count:
            out.pending[node.id] = count
        else:
            out.roots.append(node.id)
    for eb in wf.errbacks:
        tid = str(uuid.uuid4())
        out.task_ids[eb.id] = tid
        queue, priority, stream, delayed = _route(app, eb.task, eb.options, routes)
        rec = {"t": tid, "s": stream, "dk": delayed, "p": priority, "cd": 0, "eta": 0,
               "h": _head(app, tid, eb.task, eb.options, queue, priority, None),
               "kw": _inner(eb.kwargs, b"{", b"}"), "ra": _inner(eb.args, b"[", b"]"),
               "ki": [], "in": "none", "imm": eb.immutable}
        out.errbacks[eb.id] = orjson.dumps(rec)
    out.queues = {route[0] for route in routes.values()}
    return out


def result_task_ids(wf: Workflow, run: RunPlan) -> list[str]:
    """Task ids of the nodes in the workflow's result shape, in order."""
    return [run.task_ids[n] for n in shape_leaves(wf.result)] if wf.result is not None else []

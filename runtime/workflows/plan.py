"""Turns a validated IR ``Workflow`` into run records that ``workflow.lua`` can join on.

A run record holds what the join needs to enqueue a node the moment its last parent finishes,
as JSON text pieces rather than values: the envelope up to ``"kwargs"`` (``h``), the static
keyword and positional arguments (``kw``, ``ra``), and how parent results bind (``in``: prepend,
collect, items or none). Lua splices parents' result JSON between those pieces, so results are
never decoded and re-encoded in Redis (no float or big-integer drift).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

import orjson
from flowc.compiler.ir import Node, Workflow
from flowc.runtime.message import ENVELOPE_VERSION, Message
from flowc.runtime.options import resolve_eta, resolve_expires
from flowc.runtime.retry import STEP_OPTIONS
from flowc.runtime.serialization import json_dumps
from flowc.runtime.workflows.steps import source_location

if TYPE_CHECKING:
    from flowc.runtime.app import App

PASSED_OPTIONS = ("acks_late", "ignore_result", "time_limit", "soft_time_limit")
"""Node options that travel in the envelope; routing and delays are resolved here."""
HEAD = '{"v":' + str(ENVELOPE_VERSION) + ',"id":"'
"""How every envelope a run record holds begins (its task id follows)."""


RunRecord = TypedDict("RunRecord", {
    "t": str,      # the node's task id (its message id)
    "q": str,      # queue name
    "s": str,      # stream key of its queue and priority
    "dk": str,     # the queue's delayed set
    "p": int,      # priority
    "cd": float,   # countdown seconds (0: none), counted from when it becomes ready
    "eta": float,  # unix time (0: none)
    "h": str,      # envelope head: HEAD + task id + fields + workflow marker + headers, no "}"
    "kw": str,     # static keyword arguments: a JSON object without its braces
    "ra": str,     # static positional arguments: a JSON list without its brackets
    "ki": list[list[str]],  # [argument name, parent node] bound from parents' results
    "succ": list[str],      # successor node ids
    "le": list[str],        # the node's errback ids
    "imm": bool,            # errbacks only: immutable (no failure arguments prepended)
    "in": str,     # how parents' results come in: none, prepend, collect or items
    "pp": str,     # prepend: the parent
    "co": list[str],  # collect: JSON punctuation tokens and @parent placeholders
    "it": str,     # items: the literal list a root map maps over (JSON)
    "cb": bool,    # an immutable chord body (is_chord_body without collect): skipped as one
}, total=False)
"""A node's (or errback's) run record: the one definition of the format ``workflow.lua`` reads
(its header mirrors these keys). JSON pieces are spliced by the script, never re-encoded."""


def is_chord_body(node: Node) -> bool:
    """Whether ``node`` joins a group as a chord's body does: it collects the group's results,
    or (immutable, ``chord(header, cb.si())``) waits for two or more parents without taking a
    value. A chord body skipped because a header step failed gets a ``ChordError`` and calls
    its own errbacks as itself (Celery's ``chord_error_from_stack``); the join reads this as
    the record's ``in == "collect"`` or ``cb``."""
    return node.collect is not None or (
        len(node.after) >= 2 and node.prepend is None and not node.kwarg_inputs)


@dataclass
class RunPlan:
    """Everything ``workflow.lua submit`` needs, plus the task id of every node.

    ``ready`` holds, for each root that can be enqueued at once (no countdown/eta), its stream
    key and finished message body, so the submit script XADDs it without decoding its record.
    """

    workflow_id: str
    records: dict[str, bytes] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    roots: list[str] = field(default_factory=list)
    errbacks: dict[str, bytes] = field(default_factory=dict)
    task_ids: dict[str, str] = field(default_factory=dict)
    on_error: list[str] = field(default_factory=list)
    queues: set[str] = field(default_factory=set)
    ready: dict[str, tuple[str, bytes]] = field(default_factory=dict)


def uuid4_strings(n: int) -> list[str]:
    """``n`` random version-4 UUIDs as ``str(uuid.uuid4())`` spells them, from one urandom call.

    A 10,000-node workflow needs 10,000 task ids; one ``uuid.uuid4()`` each is a syscall and a
    ``UUID`` object apiece, a tenth of the whole plan.
    """
    text = os.urandom(16 * n).hex()
    out = []
    for i in range(0, 32 * n, 32):
        h = text[i:i + 32]
        out.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}")
    return out


_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
"""The RFC 4122 variant nibble (``10xx``) for each random hex digit."""


def _inner(value: Any, opener: bytes, closer: bytes) -> str:
    """JSON of a list or dict without its brackets ('' when empty)."""
    text = json_dumps(value)  # kombu's markers for datetime, Decimal, UUID, bytes
    assert text[:1] == opener and text[-1:] == closer
    return text[1:-1].decode()


@dataclass(frozen=True, slots=True)
class _Step:
    """What every node with the same task and options shares: route, delays, envelope pieces.

    A node's envelope head is ``'{"v":1,"id":"<task id>",' + middle + ',"workflow":' +
    <marker> + tail``: byte for byte ``orjson.dumps(envelope)`` without its closing brace.
    """

    queue: str
    priority: int
    stream: str
    delayed: str
    countdown: float
    eta: float
    middle: str
    tail: str

    def head(self, task_id: str, marker: str, lineage: str = "") -> str:
        return HEAD + task_id + '",' + lineage + self.middle + ',"workflow":' + marker + \
            self.tail


def _step(app: App, task: str, options: dict[str, Any], now: float) -> _Step:
    """Route, delays and envelope pieces of a step (same rules as ``send_task``)."""
    message = app.build_message(task, [], {}, app.tasks.get(task),
                                {k: v for k in ("queue", "priority")
                                 if (v := options.get(k)) is not None})
    expires = None
    if options.get("expires") is not None:
        expires = resolve_expires(options["expires"], now)
    passed = {name: options[name] for name in PASSED_OPTIONS if options.get(name) is not None}
    # The envelope's fields (message.py defines them), less those each node fills in itself
    env = Message("", task, queue=message.queue, priority=message.priority, expires=expires,
                  **passed).to_envelope()
    for own in ("v", "id", "args", "kwargs"):
        del env[own]
    step = {k: options[k] for k in (*STEP_OPTIONS, "rate_limit") if options.get(k) is not None}
    countdown, eta = step_delays(options, now)
    return _Step(message.queue, message.priority,
                 app.keys.stream(message.queue, message.priority),
                 app.keys.delayed(message.queue), countdown, eta,
                 _inner(env, b"{", b"}"),
                 "," + _inner({"headers": {"options": step}}, b"{", b"}") if step else "")


class _Steps:
    """``_step`` per distinct (task, options), computed once: a 10k chord has one."""

    def __init__(self, app: App, now: float) -> None:
        self.app = app
        self.now = now
        self.cache: dict[tuple[str, bytes], _Step] = {}
        self.queues: set[str] = set()
        self.dynamic = callable(app.conf.task_routes)  # routing functions may differ per call

    def get(self, task: str, options: dict[str, Any]) -> _Step:
        try:
            key = (task, orjson.dumps(options, option=orjson.OPT_SORT_KEYS))
        except TypeError:
            key = None
        found = None if key is None or self.dynamic else self.cache.get(key)
        if found is None:
            found = _step(self.app, task, options, self.now)
            if key is not None:
                self.cache[key] = found
            self.queues.add(found.queue)
        return found


def step_delays(options: dict[str, Any], now: float) -> tuple[float, float]:
    """A step's (countdown seconds, eta unix time), 0 for none: a countdown counts from when
    the step becomes ready, an eta is absolute."""
    countdown = options.get("countdown")
    eta = options.get("eta")
    if countdown is not None:
        return float(countdown), 0.0
    if eta is not None:
        return 0.0, resolve_eta(None, eta, now) or 0.0
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


def _node_record(step: _Step, successors: list[str], node: Node, wid_json: str,
                 task_id: str, lineage: str) -> RunRecord:
    marker = '{"id":' + wid_json + ',"node":' + orjson.dumps(node.id).decode()
    if node.kind == "map":
        marker += ',"expand":true,"max":' + orjson.dumps(node.max_width).decode()
        at = source_location(node.span)
        if at:  # a .flow map: its errors name the place it is written
            marker += ',"at":' + orjson.dumps(at).decode()
    kwarg_inputs = node.kwarg_inputs
    kwargs = node.kwargs
    if kwarg_inputs:
        kwargs = {k: v for k, v in kwargs.items() if k not in kwarg_inputs}
    rec: RunRecord = {
        "t": task_id, "q": step.queue, "s": step.stream, "dk": step.delayed, "p": step.priority,
        "cd": step.countdown, "eta": step.eta, "h": step.head(task_id, marker + "}", lineage),
        "kw": _inner(kwargs, b"{", b"}") if kwargs else "",
        "ra": _inner(node.args, b"[", b"]") if node.args else "",
        "ki": [[name, parent] for name, parent in sorted(kwarg_inputs.items())],
        "succ": successors, "le": node.link_error, "in": "none",
    }
    if node.collect is None and is_chord_body(node):
        rec["cb"] = True
    if node.prepend is not None:
        rec["in"], rec["pp"] = "prepend", node.prepend
    elif node.collect is not None:
        rec["in"], rec["co"] = "collect", _collect_tokens(node.collect)
    elif node.kind == "map" and node.items is not None:
        rec["in"], rec["it"] = "items", orjson.dumps(node.items).decode()
    return rec


def _root_body(rec: RunRecord) -> bytes | None:
    """The message a parentless node is enqueued with (what workflow.lua's envelope builds);
    None when it waits for a countdown/eta (the script decides those against Redis' clock)."""
    if rec["cd"] > 0 or rec["eta"] > 0:
        return None
    args = rec["ra"]
    incoming = None
    if rec["in"] == "collect":
        incoming = "".join(rec["co"])  # a root's shape has no parents: only brackets and commas
    elif rec["in"] == "items":
        incoming = rec["it"]
    if incoming is not None:
        args = incoming + "," + args if args else incoming
    return (rec["h"] + ',"kwargs":{' + rec["kw"] + '},"args":[' + args + "]}").encode()


def plan(app: App, wf: Workflow, workflow_id: str | None = None) -> RunPlan:
    """Assign task ids and build the run records of every node and errback."""
    wid = workflow_id or wf.id or str(uuid.uuid4())
    out = RunPlan(wid, on_error=list(wf.on_error))
    nodes = wf.nodes  # pydantic attribute access is slow: read the list once
    task_ids = out.task_ids = dict(zip([n.id for n in nodes],
                                       uuid4_strings(len(nodes)), strict=True))
    for node in nodes:  # ids fixed by freeze() / apply_async(task_id=)
        if "task_id" in node.options:
            task_ids[node.id] = str(node.options["task_id"])
    steps = _Steps(app, app.broker.now())  # server time, like every due time
    wid_json = orjson.dumps(wid).decode()
    parents = wf.parents_map()
    successors: dict[str, list[str]] = {node.id: [] for node in nodes}
    for node_id, node_parents in parents.items():
        for parent in node_parents:
            successors[parent].append(node_id)
    records, pending, roots, ready = out.records, out.pending, out.roots, out.ready
    # Celery's request.root_id (the canvas's first task) and parent_id (the step before)
    root = '"root_id":"' + task_ids[nodes[0].id] + '",' if nodes else ""
    for node in nodes:
        nid = node.id
        options = node.options
        if "task_id" in options:
            options = {k: v for k, v in options.items() if k != "task_id"}
        step = steps.get(node.task, options)
        first = parents[nid]
        lineage = root + ('"parent_id":"' + task_ids[first[0]] + '",' if first else "")
        gid = options.get("group_id")
        if gid is not None:
            options = {k: v for k, v in options.items() if k != "group_id"}
            lineage += '"group_id":' + orjson.dumps(str(gid)).decode() + ","
        rec = _node_record(step, successors[nid], node, wid_json, task_ids[nid], lineage)
        records[nid] = orjson.dumps(rec)
        count = len(parents[nid])
        if count:
            pending[nid] = count
        else:
            roots.append(nid)
            body = _root_body(rec)
            if body is not None:
                ready[nid] = (step.stream, body)
    for eb in wf.errbacks:
        tid = str(uuid.uuid4())
        out.task_ids[eb.id] = tid
        step = steps.get(eb.task, eb.options)
        erec: RunRecord = {"t": tid, "q": step.queue, "s": step.stream, "dk": step.delayed,
                "p": step.priority, "cd": 0,
                "eta": 0, "h": HEAD + tid + '",' + step.middle + step.tail,
                "kw": _inner(eb.kwargs, b"{", b"}"), "ra": _inner(eb.args, b"[", b"]"),
                "ki": [], "in": "none", "imm": eb.immutable}
        out.errbacks[eb.id] = orjson.dumps(erec)
    out.queues = steps.queues
    return out

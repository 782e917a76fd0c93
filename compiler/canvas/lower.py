"""Lowering a Python canvas to the IR: ``lower(canvas) -> Workflow``.

Every canvas lowers to a fragment of the DAG and hands the next step an *inbound value*: a node
id (bound with ``prepend``), a list shape (bound with ``collect``), plus ids to wait for without
using their results (``after``). The rules:

* ``Signature``: one node, taking the inbound value unless it is immutable;
* ``chain``: each step's output is the next step's inbound; the last step's output is the chain's;
* ``group``: every member gets the same inbound; the output is the list of member outputs; a
  group directly inside a group is unrolled into it, as Celery does (``group(group(a, b), c)``
  outputs ``[a, b, c]``); an empty group outputs ``[]`` but still waits for its inbound;
* ``chord``: the header is a group; its output is the body's inbound (no body: acts as a group);
* ``fanout``: one ``map`` node whose inbound is the list to map over;
* ``link`` callbacks hang off a canvas's output and are not part of the result; ``link_error``
  errbacks (and options) set on a composite apply to every node inside it, and a task's own
  option wins over an inherited one. An errback set on a composite is one errback id, however
  many nodes it is attached to, so it fires once; one set on a task is that node's own, so a
  signature object used several times (``group(sig for _ in range(3))``) has one per use.

A ``task_id`` option (``freeze()``, ``apply_async(task_id=)``) names a node's task id; on a
composite it goes to the chain's last step or the chord's body (a group's is its group id).

Ids are deterministic: nodes ``n0, n1, ...`` and errbacks ``e0, e1, ...`` in depth-first order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from flowc.compiler.canvas.primitives import chain, chord, fanout, group
from flowc.compiler.canvas.signature import LINK, LINK_ERROR, Canvas, Signature
from flowc.compiler.diagnostics import CanvasError
from flowc.compiler.ir import Errback, Node, Shape, Workflow, shape_leaves


class _Inbound(NamedTuple):
    """What a canvas receives from the step before it."""

    value: Shape | None
    has_value: bool
    after: tuple[str, ...] = ()

    def wait_only(self) -> _Inbound:
        """The same dependencies, results ignored (for immutable canvases)."""
        if not self.has_value:
            return self
        leaves = tuple(shape_leaves(self.value)) if self.value is not None else ()
        return _Inbound(None, False, tuple(dict.fromkeys(leaves + self.after)))


_NOTHING = _Inbound(None, False)


def lower(
    canvas: Canvas,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    *,
    on_error: Sequence[Canvas] = (),
    workflow_id: str | None = None,
    name: str | None = None,
) -> Workflow:
    """Lower ``canvas`` called with partial ``args``/``kwargs`` and call-time ``options``.

    ``on_error`` are workflow-level errbacks (fired once if any node fails). Raises
    ``CanvasError`` for canvases that cannot run at all (an empty chain, a composite errback).
    """
    if args or kwargs:
        canvas = canvas.clone(tuple(args), dict(kwargs or {}))
    lowerer = _Lowerer()
    call_options = {k: _jsonable(v) for k, v in (options or {}).items()}
    out = lowerer.lower(canvas, _NOTHING, call_options, ())
    handlers = [lowerer.errback(sig) for sig in on_error]
    return Workflow(
        id=workflow_id,
        name=name,
        nodes=lowerer.nodes,
        errbacks=lowerer.errbacks,
        on_error=list(dict.fromkeys(handlers)),
        result=out.value,
    )


NAME_MAX = 80
"""Longest generated run name (longer ones end with an ellipsis)."""


def canvas_name(canvas: Canvas) -> str:
    """A short readable name for a Python canvas's run, e.g. ``chain(fetch → parse → store)``,
    ``group(add, mul)``, and a chord of three ``add`` into ``total``; task names without their
    module (so the dashboard's run list says what ran, as it does for a ``.flow`` run)."""
    def short(c: Canvas) -> str:
        if isinstance(c, chord):
            body = c.body
            return f"chord({_members(c.tasks)}" + (f" → {short(body)})" if body else ")")
        if isinstance(c, chain):
            return f"chain({' → '.join(short(t) for t in c.tasks)})"
        if isinstance(c, group):
            return f"group({_members(c.tasks)})"
        if isinstance(c, fanout):
            return f"fanout({short(c.sig)})"
        return str(c.task).rsplit(".", 1)[-1]

    def _members(tasks: list[Canvas]) -> str:
        names = [short(t) for t in tasks]
        if len(set(names)) == 1 and len(names) > 1:
            return f"{len(names)}× {names[0]}"  # noqa: RUF001
        return ", ".join(names)

    text = short(canvas)
    return text if len(text) <= NAME_MAX else text[:NAME_MAX - 1] + "…"


def _own_options(canvas: Canvas) -> dict[str, Any]:
    return {k: _jsonable(v) for k, v in canvas.options.items() if k not in (LINK, LINK_ERROR)}


def _jsonable(value: Any) -> Any:
    """Datetimes (``eta``, ``expires``) become ISO 8601 strings; the IR is JSON."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


class _Lowerer:
    """Accumulates nodes and errbacks while walking one canvas."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.errbacks: list[Errback] = []
        self._errback_ids: dict[int, str] = {}
        self._keep: list[Canvas] = []  # keeps errback objects alive so their id() stays unique

    def lower(
        self, c: Canvas, inbound: _Inbound, inherited: dict[str, Any], errbacks: tuple[str, ...]
    ) -> _Inbound:
        """Lower ``c`` and return the inbound value for whatever comes after it."""
        opts = {**inherited, **_own_options(c)}
        # an errback on a task is that task's (Celery: it fires for each failing task that
        # carries it, even when one signature object appears several times); one on a
        # composite is one errback shared by every node inside, which fires once
        own_task = isinstance(c, Signature)
        ebs = errbacks + tuple(self.errback(e, fresh=own_task)
                               for e in c.options.get(LINK_ERROR, ()))
        ebs = tuple(dict.fromkeys(ebs))
        if c.immutable:
            inbound = inbound.wait_only()
        out: _Inbound
        if isinstance(c, Signature):
            out = self._task(c, inbound, opts, ebs)
        elif isinstance(c, fanout):
            out = self._map(c, inbound, opts, ebs)
        else:
            # a composite's task_id is its last step's id (chain), its body's (chord) or the
            # group id (group: no node has it); it is never inherited by every node inside
            tid = opts.pop("task_id", None)
            last = {**opts, "task_id": tid} if tid is not None else opts
            if isinstance(c, chain):
                if not c.tasks:
                    raise CanvasError("an empty chain has nothing to run")
                out = inbound
                for i, step in enumerate(c.tasks):
                    out = self.lower(step, out, last if i == len(c.tasks) - 1 else opts, ebs)
            elif isinstance(c, group):
                # a group with an id (frozen, or given by apply_async) tells its members
                # (Celery's request.group); lowering stays deterministic
                out = self._group(c, inbound, {**opts, "group_id": tid} if tid else opts, ebs)
            elif isinstance(c, chord):
                # a chord's own errbacks are its body's (Celery, without
                # task_allow_error_cb_on_chord_header): when the header fails, the join skips
                # the body and fires them as the body's (its id, a ChordError), as Celery's
                # chord_error_from_stack does; errbacks inherited from outside reach the header
                out = self.lower(c.header, inbound, opts, errbacks if c.body is not None else ebs)
                if c.body is not None:
                    out = self.lower(c.body, out, last, ebs)
            else:
                raise CanvasError(f"cannot lower {type(c).__name__} {c!r}")
        callbacks = c.options.get(LINK, ())
        if callbacks:
            plain = {k: v for k, v in inherited.items() if k != "task_id"}
            for callback in callbacks:
                self.lower(callback, out, plain, errbacks)
        return out

    def _group(
        self, g: group, inbound: _Inbound, opts: dict[str, Any], ebs: tuple[str, ...]
    ) -> _Inbound:
        if not g.tasks:
            return _Inbound([], True, inbound.wait_only().after)
        shapes: list[Shape] = []
        waits: dict[str, None] = {}
        for member in g.tasks:
            out = self.lower(member, inbound, opts, ebs)
            value = out.value if out.value is not None else []
            if isinstance(member, group) and isinstance(value, list):
                shapes.extend(value)  # Celery unrolls a group nested in a group: results flat
            else:
                shapes.append(value)
            waits.update(dict.fromkeys(out.after))
        return _Inbound(shapes, True, tuple(waits))

    def _next_id(self) -> str:
        return f"n{len(self.nodes)}"

    def _task(
        self, sig: Signature, inbound: _Inbound, opts: dict[str, Any], ebs: tuple[str, ...]
    ) -> _Inbound:
        node = Node(
            id=self._next_id(),
            task=sig.task,
            args=list(sig.args),
            kwargs=dict(sig.kwargs),
            options=opts,
            link_error=list(ebs),
            **_bindings(inbound),
        )
        self.nodes.append(node)
        return _Inbound(node.id, True)

    def _map(
        self, f: fanout, inbound: _Inbound, opts: dict[str, Any], ebs: tuple[str, ...]
    ) -> _Inbound:
        sig = f.sig
        if sig.options.get(LINK):
            raise CanvasError(f"link the fanout, not the signature inside it: {sig!r}")
        own_ebs = tuple(self.errback(e) for e in sig.options.get(LINK_ERROR, ()))
        if f.static_items is not None:
            inbound = inbound.wait_only()
        node = Node(
            id=self._next_id(),
            kind="map",
            task=sig.task,
            args=list(sig.args),
            kwargs=dict(sig.kwargs),
            options={**opts, **_own_options(sig)},
            link_error=list(dict.fromkeys(ebs + own_ebs)),
            items=None if f.static_items is None else [_jsonable(x) for x in f.static_items],
            max_width=f.max_width,
            **_bindings(inbound),
        )
        self.nodes.append(node)
        return _Inbound(node.id, True)

    def errback(self, sig: Canvas, fresh: bool = False) -> str:
        """The errback id of ``sig``, creating the errback on first sight (always, if
        ``fresh``: a task's own errback)."""
        key = id(sig)
        if key in self._errback_ids and not fresh:
            return self._errback_ids[key]
        if not isinstance(sig, Signature):
            raise CanvasError(f"an errback must be a single task signature, got {sig!r}")
        eid = f"e{len(self.errbacks)}"
        self.errbacks.append(
            Errback(
                id=eid,
                task=sig.task,
                args=list(sig.args),
                kwargs=dict(sig.kwargs),
                options=_own_options(sig),
                immutable=sig.immutable,
            )
        )
        self._errback_ids[key] = eid
        self._keep.append(sig)
        return eid


def _bindings(inbound: _Inbound) -> dict[str, Any]:
    """The ``prepend``/``collect``/``after`` fields of a node receiving ``inbound``."""
    fields: dict[str, Any] = {}
    if inbound.has_value:
        key = "prepend" if isinstance(inbound.value, str) else "collect"
        fields[key] = inbound.value
    if inbound.after:
        fields["after"] = list(inbound.after)
    return fields

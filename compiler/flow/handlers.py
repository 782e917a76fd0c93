"""Error handlers of ``.flow`` lowering: ``on error -> h()`` and ``on_error = h()`` as errbacks.

A flow's ``on error`` handler is one task call; on a top-level flow it is the workflow-level
handler, on a called flow it applies to every node inside. ``on_error = h()`` on a step is an
errback on that step's nodes, added to those inherited from enclosing flow calls. Errback ids are
``e0, e1, ...`` in lowering order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowc.compiler.flow.options import Options
from flowc.compiler.flow.scope import NO_ITEMS, Scope
from flowc.compiler.ir import Errback
from flowc.dsl import ast

if TYPE_CHECKING:
    from flowc.compiler.flow.lower import FlowLowerer


def link_errors(lw: FlowLowerer, opts: Options, scope: Scope) -> list[str]:
    """A node's ``link_error``: the inherited errbacks plus its own ``on_error`` option."""
    if not scope.errbacks and opts.on_error is None:
        return NO_ITEMS
    ebs = list(scope.errbacks)
    if opts.on_error is not None:
        eid = errback(lw, opts.on_error, False, scope)
        if eid:
            ebs.append(eid)
    return list(dict.fromkeys(ebs))


def flow_handler(lw: FlowLowerer, stage: ast.Stage, scope: Scope) -> str | None:
    """The errback of an ``on error -> stage`` handler (one task call)."""
    if not isinstance(stage, ast.Call) or stage.name in lw.flows:
        lw.error("F212", "an error handler must be one task call", stage.span,
                 "make a task that does the clean-up and call it here")
        return None
    return errback(lw, stage, stage.immutable, scope)


def errback(lw: FlowLowerer, call: ast.Call | ast.Func, immutable: bool,
            scope: Scope) -> str | None:
    """Add the errback calling ``call``; its id."""
    span = call.name_span if isinstance(call, ast.Call) else _name_span(call)
    task, _ = lw.resolve(call, span)
    args: list[Any] = []
    for a in call.args:
        if isinstance(a, ast.Placeholder):
            lw.error("F307", "'_' in an error handler: it receives the failed task id", a.span)
            continue
        args.append(lw.value(a, scope))
    kwargs = {k.name: lw.value(k.value, scope) for k in call.kwargs}
    own = lw.call_options(call.options, scope) if isinstance(call, ast.Call) else Options()
    eid = f"e{len(lw.errbacks)}"
    lw.errbacks.append(Errback(
        id=eid, task=task, args=args, kwargs=kwargs,
        options={**lw.defaults.values, **own.values}, immutable=immutable,
        span=lw.source(call.span),
    ))
    lw.name_spans[eid] = span
    return eid


def _name_span(f: ast.Func) -> ast.Span:
    s = f.span
    return ast.Span(s.line, s.col, s.line, s.col + len(f.name)) if s.known else s

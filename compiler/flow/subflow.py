"""Calling a flow from a flow: the called flow's DAG is inlined with its parameters bound.

Options and ``on_error`` on the call (and the called flow's own ``on error``) apply to every
node inside; the inbound goes to the called flow's first statement and the others wait for it.
A flow's arguments are compile-time values; flows may not call each other recursively.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowc.compiler.flow.handlers import flow_handler, link_errors
from flowc.compiler.flow.params import bind_call
from flowc.compiler.flow.scope import BIND, NOTHING, Inbound, Scope
from flowc.compiler.flow.values import is_result_ref
from flowc.dsl import ast

if TYPE_CHECKING:
    from flowc.compiler.flow.lower import FlowLowerer


def inline_flow(lw: FlowLowerer, call: ast.Call, flow: ast.Flow, inbound: Inbound,
                scope: Scope) -> Inbound:
    """Lower ``flow``'s body in place of ``call``; the inbound of the next stage."""
    if flow.name in scope.stack:
        cycle = " -> ".join([*scope.stack[scope.stack.index(flow.name):], flow.name])
        lw.error("F206", f"flows call each other recursively: {cycle}", call.name_span,
                 "a flow is inlined where it is called, so it cannot call itself")
        return NOTHING
    for a in (*call.args, *(k.value for k in call.kwargs)):
        if isinstance(a, ast.Placeholder) or is_result_ref(a, scope.results):
            lw.error(BIND, f"flow '{flow.name}' takes compile-time values; a run-time "
                     "result cannot be its argument", a.span,
                     "the previous result goes to the flow's first step: a() -> flow()")
    values, problems = bind_call(flow, call, lambda e: lw.value(e, scope))
    lw.diagnostics += problems
    opts = lw.call_options(call.options, scope)
    if call.immutable:
        inbound = inbound.wait_only()
    instance = (f"cluster_{len(lw.clusters)}_{call.span.line}_{call.span.col}_{flow.name}",
                f"flow {flow.name}")
    inner = Scope(values, options={**scope.options, **opts.values},
                  errbacks=tuple(link_errors(lw, opts, scope)),
                  stack=(*scope.stack, flow.name), cluster=(*scope.cluster, instance))
    if flow.on_error is not None:
        eid = flow_handler(lw, flow.on_error, inner)
        if eid:
            inner.errbacks = (*inner.errbacks, eid)
            lw.flow_handlers[eid] = inner.cluster
    return lw.body(flow, inbound, inner)

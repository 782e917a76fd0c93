"""``producer() -> map step(...)``: one map node calling a task per element of a list.

The list is the inbound: a run-time result (``prepend``/``collect``) or a compile-time list
(``items``). Each element is the step's first argument, so ``_`` may only stand first; the
rest of the call binds as for a task step. A flow cannot be mapped (use a comprehension).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowc.compiler.canvas.primitives import DEFAULT_MAX_WIDTH
from flowc.compiler.flow.handlers import link_errors
from flowc.compiler.flow.scope import NOTHING, Inbound, Item, Scope
from flowc.compiler.flow.types import describe_value
from flowc.compiler.ir import new_node
from flowc.dsl import ast

if TYPE_CHECKING:
    from flowc.compiler.flow.lower import FlowLowerer


def lower_map(lw: FlowLowerer, m: ast.Map, inbound: Inbound, scope: Scope) -> Inbound:
    """Add the map node of ``m``; the inbound of the next stage."""
    call = m.call
    if call.name in lw.flows:
        lw.error("F308", f"'{call.name}' is a flow; map runs one task per element",
                 call.name_span, "wrap the flow's work in a task, or use a comprehension")
        return NOTHING
    task, known = lw.resolve(call, call.name_span)
    if inbound.kind == "none":
        lw.error("F308", "'map' needs a previous stage whose result is a list", m.span,
                 "write 'producer() -> map step()'")
        return NOTHING
    opts = lw.call_options(call.options, scope)
    if call.immutable:
        lw.error("F307", "a mapped step receives each element; it cannot be marked '!'",
                 call.span)
    args = list(call.args)
    if args and isinstance(args[0], ast.Placeholder):
        args = args[1:]
    for a in (*args, *(k.value for k in call.kwargs)):
        if isinstance(a, ast.Placeholder):
            lw.error("F307", "in a map, each element is the first argument; '_' can only "
                     "be first", a.span)
    element = Item("lit", None)
    items = [element, *(lw.argument(a, NOTHING, scope) for a in args)]
    keywords = {k.name: lw.argument(k.value, NOTHING, scope) for k in call.kwargs}
    sig = lw.catalog.signature(task) if known else None
    fields = lw.binder.bind(call, task, sig, items, keywords)
    fields["args"] = fields["args"][1:]
    if sig is not None:
        lw.binder.check_types(call, task, sig, items, keywords)
    binding: dict[str, Any] = {}
    if inbound.kind == "node":
        binding["prepend" if isinstance(inbound.value, str) else "collect"] = inbound.value
    elif inbound.kind == "literal":
        if not isinstance(inbound.value, list):
            lw.error("F305", f"map needs a list, got {describe_value(inbound.value)}", m.span)
        binding["items"] = inbound.value if isinstance(inbound.value, list) else []
    node = new_node(
        id=f"n{len(lw.nodes)}", kind="map", task=task, args=fields["args"],
        kwargs=fields["kwargs"], kwarg_inputs=fields["kwarg_inputs"],
        options={**scope.options, **opts.values}, link_error=link_errors(lw, opts, scope),
        max_width=m.max_width or DEFAULT_MAX_WIDTH, after=list(inbound.after),
        span=lw.source(m.span), **binding,
    )
    lw.nodes.append(node)
    lw.name_spans[node.id] = call.name_span
    lw.note_keywords(node.id, call)
    if scope.cluster:
        lw.clusters[node.id] = scope.cluster
    return Inbound("node", node.id)

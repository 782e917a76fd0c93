"""Lowering a ``.flow`` AST to the IR: one flow (with its parameters bound) -> ``Workflow``.

The walk mirrors :mod:`flowc.compiler.canvas.lower`: every stage receives an *inbound* (what the
stage before it hands over) and returns the inbound of the next stage. An inbound is a node id or
list shape (bound with ``prepend``/``collect``), a compile-time value (a parameter used as a
stage, prepended as a literal argument or mapped over as ``items``), or nothing, plus ids to wait
for without using their results (``after``, from ``!`` steps).

Rules beyond the canvas's (see docs/language.md):

* ``_`` puts the inbound where it stands: first positional -> ``prepend``/``collect``; a keyword
  or a later position -> ``kwarg_inputs`` under the parameter's name (from the task's signature).
* A named result used as an argument binds by the parameter's name (``kwarg_inputs``), found in
  the signature for positional use; a list of named results as the first argument is a
  ``collect``. Positional literals after such an argument are passed by name too.
* A call of a flow inlines that flow's DAG with its parameters bound; options and ``on_error``
  on the call (and the called flow's own ``on error``) apply to every node inside; the inbound
  goes to the called flow's first statement and the others wait for it.
* A top-level flow's ``on error`` is the workflow-level handler; ``on_error = h()`` on a step
  is an errback on that step's nodes. A handler is one task call.

Diagnostics are collected, never raised; a mistake leaves a best-effort node so later checks
still run. Ids are ``n0, n1, ...`` and ``e0, e1, ...`` in lowering order, as for canvases.

This module walks statements and stages and lowers task calls; the rest lives beside it, in
``lower_flow_scope`` (inbounds, scopes), ``lower_flow_binding`` (arguments to node fields,
literal types), ``lower_flow_map`` (``map``), ``lower_flow_subflow`` (flow calls) and
``lower_flow_handlers`` (``on error`` and ``on_error``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowc.compiler.flow.binding import ArgumentBinder
from flowc.compiler.flow.handlers import flow_handler, link_errors
from flowc.compiler.flow.map import lower_map
from flowc.compiler.flow.options import NO_OPTIONS, Options, translate
from flowc.compiler.flow.resolve import TaskCatalog
from flowc.compiler.flow.scope import BIND, NO_ITEMS, NOTHING, Inbound, Item, Scope
from flowc.compiler.flow.subflow import inline_flow
from flowc.compiler.flow.types import describe_value
from flowc.compiler.flow.values import NotAValue, evaluate, is_result_ref, result_list, uses_any
from flowc.compiler.ir import Errback, Node, Shape, SourceSpan, Workflow, new_node, new_span
from flowc.dsl import ast
from flowc.dsl.diagnostics import Diagnostic, did_you_mean_hint


class FlowLowerer:
    """Lowers flows and schedule targets of one module; collects nodes and diagnostics."""

    def __init__(self, module: ast.Module, catalog: TaskCatalog, filename: str | None = None,
                 *, spans: bool = True):
        self.module = module
        self.spans = spans
        """Whether nodes carry their SourceSpan (the runtime's errors use it; a check, whose
        diagnostics come from ``name_spans``, saves ~200 bytes a node without)."""
        self.catalog = catalog
        self.filename = filename
        self.flows: dict[str, ast.Flow] = {}
        for f in module.flows:
            self.flows.setdefault(f.name, f)
        self.diagnostics: list[Diagnostic] = []
        self.defaults = translate(module.defaults.options, {}) if module.defaults else Options()
        self.diagnostics += self.defaults.diagnostics
        self.binder = ArgumentBinder(self.diagnostics)
        self._reset()

    def _reset(self) -> None:
        self.nodes: list[Node] = []
        self.errbacks: list[Errback] = []
        self.name_spans: dict[str, ast.Span] = {}
        self.keyword_spans: dict[tuple[str, str], ast.Span] = {}
        # For pictures: the called-flow instances each node is in, and the errbacks that are a
        # flow's ``on error`` (node or errback id -> cluster path; () is the whole workflow).
        self.clusters: dict[str, tuple[tuple[str, str], ...]] = {}
        self.flow_handlers: dict[str, tuple[tuple[str, str], ...]] = {}

    # ---- entry points ----------------------------------------------------------------------
    def lower_flow(self, flow: ast.Flow, params: Mapping[str, Any]) -> Workflow:
        """The workflow of ``flow`` with its parameters bound to ``params`` (already checked)."""
        self._reset()
        scope = Scope(dict(params), options=dict(self.defaults.values), stack=(flow.name,))
        out = self.body(flow, NOTHING, scope)
        handlers = []
        if flow.on_error is not None:
            eid = flow_handler(self, flow.on_error, scope)
            handlers = [eid] if eid else []
            if eid:
                self.flow_handlers[eid] = ()
        return self._workflow(flow.name, out, handlers)

    def lower_stage(self, name: str, stage: ast.Stage) -> Workflow:
        """A workflow running one stage (a schedule's target)."""
        self._reset()
        scope = Scope({}, options=dict(self.defaults.values))
        return self._workflow(name, self._stage(stage, NOTHING, scope), [])

    def _workflow(self, name: str, out: Inbound, handlers: list[str]) -> Workflow:
        return Workflow(
            name=name, nodes=self.nodes, errbacks=self.errbacks,
            on_error=list(dict.fromkeys(handlers)),
            result=out.value if out.kind == "node" else None,
        )

    # ---- diagnostics -------------------------------------------------------------------------
    def error(self, code: str, message: str, span: ast.Span, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, hint))

    def source(self, span: ast.Span) -> SourceSpan | None:
        """The IR's span for ``span`` (with the file name), if known."""
        if not self.spans or not span.known:
            return None
        return new_span(file=self.filename, line=span.line, col=span.col,
                        end_line=span.end_line, end_col=span.end_col)

    # ---- statements and stages ---------------------------------------------------------------
    def body(self, flow: ast.Flow, inbound: Inbound, scope: Scope) -> Inbound:
        """Lower ``flow``'s statements; the inbound after its last one."""
        out = NOTHING
        for i, stmt in enumerate(flow.body):
            stage = stmt.value if isinstance(stmt, ast.Assign) else stmt
            given = inbound
            if i > 0 and inbound != NOTHING:
                uses = uses_any(stage, scope.results)
                given = NOTHING if uses else inbound.wait_only()
            out = self._stage(stage, given, scope)
            if isinstance(stmt, ast.Assign):
                scope.results[stmt.name] = out
        return out

    def _stage(self, stage: ast.Stage, inbound: Inbound, scope: Scope) -> Inbound:
        if isinstance(stage, ast.Call):
            flow = self.flows.get(stage.name)
            if flow is not None:
                return inline_flow(self, stage, flow, inbound, scope)
            return self._task(stage, inbound, scope)
        if isinstance(stage, ast.Chain):
            out = inbound
            for step in stage.steps:
                out = self._stage(step, out, scope)
            return out
        if isinstance(stage, ast.Group):
            return self._group([(item, scope) for item in stage.items], inbound)
        if isinstance(stage, ast.Comprehension):
            return self._comprehension(stage, inbound, scope)
        if isinstance(stage, ast.Map):
            return lower_map(self, stage, inbound, scope)
        return self._ref(stage, inbound, scope)

    def _ref(self, ref: ast.Ref, inbound: Inbound, scope: Scope) -> Inbound:
        if inbound.kind != "none":
            self.error(BIND, f"'{ref.name}' cannot follow '->': a name can only start a chain",
                       ref.span, f"write '{ref.name} -> step()' as its own statement")
        if ref.name in scope.results:
            return scope.results[ref.name]
        if ref.name in scope.values:
            return Inbound("literal", scope.values[ref.name], inbound.after)
        return NOTHING  # unknown names are reported by flow_checks

    def _group(self, members: list[tuple[ast.Stage, Scope]], inbound: Inbound) -> Inbound:
        if not members:
            return Inbound("node", [], inbound.wait_only().after)
        shapes: list[Shape] = []
        waits: dict[str, None] = {}
        for stage, scope in members:
            out = self._stage(stage, inbound, scope)
            if out.kind == "literal":
                self.error(BIND, "a group member must run a task, not just name a value",
                           stage.span)
                continue
            shapes.append(out.value if out.kind == "node" else [])
            waits.update(dict.fromkeys(out.after))
        return Inbound("node", shapes, tuple(waits))

    def _comprehension(self, c: ast.Comprehension, inbound: Inbound, scope: Scope) -> Inbound:
        try:
            values = evaluate(c.iterable, scope.values, scope.results)
        except NotAValue as e:
            hint = None
            if isinstance(e.node, ast.Ref) and e.node.name in scope.results:
                hint = f"a comprehension unrolls when compiling; use '{e.node.name} -> map " \
                       "step()' to fan out over a list made at run time"
            self.error(BIND, f"cannot loop over this: {e.why}", e.node.span, hint)
            return Inbound("node", [], inbound.wait_only().after)
        if not isinstance(values, list):
            self.error("F305", f"a comprehension needs a list, got {describe_value(values)}",
                       c.iterable.span)
            return Inbound("node", [], inbound.wait_only().after)
        return self._group([(c.item, scope.bind(c.var, v)) for v in values], inbound)

    # ---- values --------------------------------------------------------------------------------
    def value(self, expr: ast.Expr, scope: Scope) -> Any:
        """The compile-time value of ``expr`` (``None``, reported, when it has none)."""
        try:
            return evaluate(expr, scope.values, scope.results)
        except NotAValue as e:
            hint = None
            if isinstance(e.node, ast.Ref) and e.node.name in scope.results:
                hint = "pass a named result as a whole argument, or a list of results first"
            if isinstance(e.node, ast.Placeholder):
                hint = "'_' must be a whole argument, not part of a list or dict"
            if e.why.startswith("unknown name"):
                return None  # reported by flow_checks
            self.error(BIND, f"not a value known when compiling: {e.why}", e.node.span, hint)
            return None

    def argument(self, expr: ast.Expr, inbound: Inbound, scope: Scope) -> Item:
        """One argument of a call as written: the inbound (``_``), a result, or a value."""
        if isinstance(expr, ast.Placeholder):
            if inbound.kind == "none":
                return Item("lit", None, expr)
            return Item("node" if inbound.kind == "node" else "lit", inbound.value, expr)
        if is_result_ref(expr, scope.results):
            assert isinstance(expr, ast.Ref)
            out = scope.results[expr.name]
            named = out.kind == "node" and isinstance(out.value, str)
            return Item("node" if out.kind == "node" else "lit", out.value, expr, named)
        if result_list(expr, scope.results):
            return Item("node", _shape(expr, scope), expr)
        return Item("lit", self.value(expr, scope), expr)

    # ---- task calls ------------------------------------------------------------------------------
    def resolve(self, call: ast.Call | ast.Func, span: ast.Span) -> tuple[str, bool]:
        """The registered task name of ``call`` and whether it is known (else reported)."""
        found = self.catalog.resolve(call.name)
        if found.name is not None:
            return found.name, True
        if call.name in self.module.broken:
            return call.name, False  # a flow with syntax errors: those are reported
        if found.candidates:
            self.error("F201", f"ambiguous task '{call.name}': " + ", ".join(found.candidates),
                       span, "keep only one of these modules in 'use'")
        else:
            names = [*self.catalog.short_names(), *self.flows]
            hint = did_you_mean_hint(call.name, names) or (
                "is the module defining it listed in 'use'?")
            self.error("F201", f"unknown task '{call.name}'", span, hint)
        return call.name, False

    def _placeholders(self, call: ast.Call, inbound: Inbound) -> int:
        """Check the use of ``_`` in a call; the number of top-level ``_`` arguments."""
        if not call.args and not call.kwargs:
            return 0
        top = [a for a in (*call.args, *(k.value for k in call.kwargs))
               if isinstance(a, ast.Placeholder)]
        for extra in top[1:]:
            self.error("F307", "'_' is used more than once in one step", extra.span,
                       "the previous result goes to one place")
        if top and call.immutable:
            self.error("F307", "'_' in a step marked '!' (which ignores the previous result)",
                       top[0].span, "remove the '!' or the '_'")
        elif top and inbound.kind == "none":
            self.error("F307", "'_' is used but no previous result exists here", top[0].span,
                       "'_' stands for the result of the stage before '->'")
        return len(top)

    def _task(self, call: ast.Call, inbound: Inbound, scope: Scope) -> Inbound:
        # Runs once a step (350,000 times for a 350,000-step chain): the guards below skip
        # the calls a bare step (no arguments, options or handlers) does not need.
        task, known = self.resolve(call, call.name_span)
        sig = self.catalog.signature(task) if known else None
        opts = self.call_options(call.options, scope) if call.options else NO_OPTIONS
        slots = self._placeholders(call, inbound) if call.args or call.kwargs else 0
        if call.immutable:
            inbound = inbound.wait_only()
        items: list[Item] = []
        if inbound.kind != "none" and not slots:
            items.append(Item("node" if inbound.kind == "node" else "lit", inbound.value))
        if call.args:
            items += [self.argument(a, inbound, scope) for a in call.args]
        keywords = {k.name: self.argument(k.value, inbound, scope) for k in call.kwargs} \
            if call.kwargs else {}
        fields = self.binder.bind(call, task, sig, items, keywords)
        if sig is not None:
            self.binder.check_types(call, task, sig, items, keywords)
        handlers = link_errors(self, opts, scope) \
            if scope.errbacks or opts.on_error is not None else NO_ITEMS
        node = new_node(
            id=f"n{len(self.nodes)}", task=task,
            options={**scope.options, **opts.values} if opts.values else scope.options,
            link_error=handlers, span=self.source(call.span) if self.spans else None,
            after=list(inbound.after) if inbound.after else NO_ITEMS, **fields,
        )
        self.nodes.append(node)
        self.name_spans[node.id] = call.name_span
        if call.kwargs:
            self.note_keywords(node.id, call)
        if scope.cluster:
            self.clusters[node.id] = scope.cluster
        return Inbound("node", node.id)

    def note_keywords(self, node_id: str, call: ast.Call) -> None:
        """Remember where each keyword of ``call`` is written (an IR problem about one points
        at it, not at the task)."""
        for k in call.kwargs:
            s = k.span
            if s.known:
                self.keyword_spans[node_id, k.name] = ast.Span(s.line, s.col, s.line,
                                                               s.col + len(k.name))

    def call_options(self, options: tuple[ast.Option, ...], scope: Scope) -> Options:
        """A call's options, translated to Celery's names; their problems are reported."""
        opts = translate(options, scope.values)
        self.diagnostics += opts.diagnostics
        return opts


def _shape(expr: ast.Expr, scope: Scope) -> Shape:
    if isinstance(expr, ast.Ref):
        value: Shape = scope.results[expr.name].value
        return value
    assert isinstance(expr, ast.ListExpr)
    return [_shape(item, scope) for item in expr.items]

"""Lowering a ``.flow`` AST to the IR: one flow (with its parameters bound) -> ``Workflow``.

The walk mirrors :mod:`flowc.compiler.lower_canvas`: every stage receives an *inbound* (what the
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
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from flowc.compiler.flow_options import Options, translate
from flowc.compiler.flow_types import annotation_accepts, annotation_text, describe_value
from flowc.compiler.flow_values import (
    NotAValue,
    evaluate,
    has_name,
    is_result_ref,
    result_list,
    uses_any,
)
from flowc.compiler.ir import Errback, Node, Shape, SourceSpan, Workflow, shape_leaves
from flowc.compiler.primitives import DEFAULT_MAX_WIDTH
from flowc.compiler.resolve import TaskCatalog
from flowc.dsl import ast
from flowc.dsl.diagnostics import Diagnostic, did_you_mean_hint

BIND = "F211"
"""A run-time result used where a compile-time value is needed, or where it cannot bind."""


@dataclass(frozen=True, slots=True)
class Inbound:
    """What a stage receives from the stage before it."""

    kind: Literal["none", "node", "literal"] = "none"
    value: Any = None
    after: tuple[str, ...] = ()

    def wait_only(self) -> Inbound:
        """The same dependencies, value dropped (an immutable step)."""
        if self.kind == "node":
            leaves = tuple(shape_leaves(self.value))
            return Inbound("none", None, tuple(dict.fromkeys(leaves + self.after)))
        return Inbound("none", None, self.after)


NOTHING = Inbound()


@dataclass(frozen=True, slots=True)
class _Item:
    """One argument being bound: a literal value, or a node id/shape from a run-time result."""

    kind: Literal["lit", "node"]
    value: Any
    expr: ast.Node | None = None
    named: bool = False
    """A named result used by name (binds by parameter name even in first position)."""


@dataclass
class Scope:
    """Names visible while lowering one flow instance, and what it inherits from its caller."""

    values: dict[str, Any]
    results: dict[str, Inbound] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    errbacks: tuple[str, ...] = ()
    stack: tuple[str, ...] = ()

    def bind(self, name: str, value: Any) -> Scope:
        return replace(self, values={**self.values, name: value})


class FlowLowerer:
    """Lowers flows and schedule targets of one module; collects nodes and diagnostics."""

    def __init__(self, module: ast.Module, catalog: TaskCatalog, filename: str | None = None):
        self.module = module
        self.catalog = catalog
        self.filename = filename
        self.flows: dict[str, ast.Flow] = {}
        for f in module.flows:
            self.flows.setdefault(f.name, f)
        self.diagnostics: list[Diagnostic] = []
        self.defaults = translate(module.defaults.options, {}) if module.defaults else Options()
        self.diagnostics += self.defaults.diagnostics
        self._binds: dict[tuple[str, int, frozenset[str]], bool] = {}
        self._reset()

    def _reset(self) -> None:
        self.nodes: list[Node] = []
        self.errbacks: list[Errback] = []
        self.name_spans: dict[str, ast.Span] = {}

    # ---- entry points ----------------------------------------------------------------------
    def lower_flow(self, flow: ast.Flow, params: Mapping[str, Any]) -> Workflow:
        """The workflow of ``flow`` with its parameters bound to ``params`` (already checked)."""
        self._reset()
        scope = Scope(dict(params), options=dict(self.defaults.values), stack=(flow.name,))
        out = self._body(flow, NOTHING, scope)
        handlers = []
        if flow.on_error is not None:
            eid = self._handler(flow.on_error, scope)
            handlers = [eid] if eid else []
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

    def _source(self, span: ast.Span) -> SourceSpan | None:
        if not span.known:
            return None
        return SourceSpan(file=self.filename, line=span.line, col=span.col,
                          end_line=span.end_line, end_col=span.end_col)

    # ---- statements and stages ---------------------------------------------------------------
    def _body(self, flow: ast.Flow, inbound: Inbound, scope: Scope) -> Inbound:
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
                return self._subflow(stage, flow, inbound, scope)
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
            return self._map(stage, inbound, scope)
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
    def _value(self, expr: ast.Expr, scope: Scope) -> Any:
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

    def _argument(self, expr: ast.Expr, inbound: Inbound, scope: Scope) -> _Item:
        if isinstance(expr, ast.Placeholder):
            if inbound.kind == "none":
                return _Item("lit", None, expr)
            return _Item("node" if inbound.kind == "node" else "lit", inbound.value, expr)
        if is_result_ref(expr, scope.results):
            assert isinstance(expr, ast.Ref)
            out = scope.results[expr.name]
            named = out.kind == "node" and isinstance(out.value, str)
            return _Item("node" if out.kind == "node" else "lit", out.value, expr, named)
        if result_list(expr, scope.results):
            return _Item("node", _shape(expr, scope), expr)
        return _Item("lit", self._value(expr, scope), expr)

    # ---- task calls ------------------------------------------------------------------------------
    def _resolve(self, call: ast.Call | ast.Func, span: ast.Span) -> tuple[str, bool]:
        found = self.catalog.resolve(call.name)
        if found.name is not None:
            return found.name, True
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
        task, known = self._resolve(call, call.name_span)
        sig = self.catalog.signature(task) if known else None
        opts = self._options(call.options, scope)
        slots = self._placeholders(call, inbound)
        if call.immutable:
            inbound = inbound.wait_only()
        items: list[_Item] = []
        if inbound.kind != "none" and not slots:
            items.append(_Item("node" if inbound.kind == "node" else "lit", inbound.value))
        items += [self._argument(a, inbound, scope) for a in call.args]
        keywords = {k.name: self._argument(k.value, inbound, scope) for k in call.kwargs}
        fields = self._bind(call, task, sig, items, keywords)
        if sig is not None:
            self._check_types(call, task, sig, items, keywords)
        node = Node(
            id=f"n{len(self.nodes)}", task=task, options={**scope.options, **opts.values},
            link_error=self._link_errors(opts, scope), span=self._source(call.span),
            after=list(inbound.after), **fields,
        )
        self.nodes.append(node)
        self.name_spans[node.id] = call.name_span
        return Inbound("node", node.id)

    def _options(self, options: tuple[ast.Option, ...], scope: Scope) -> Options:
        opts = translate(options, scope.values)
        self.diagnostics += opts.diagnostics
        return opts

    def _link_errors(self, opts: Options, scope: Scope) -> list[str]:
        ebs = list(scope.errbacks)
        if opts.on_error is not None:
            eid = self._errback(opts.on_error, False, scope)
            if eid:
                ebs.append(eid)
        return list(dict.fromkeys(ebs))

    def _bind(self, call: ast.Call, task: str, sig: inspect.Signature | None,
              items: list[_Item], keywords: dict[str, _Item]) -> dict[str, Any]:
        """The node's ``args``/``kwargs``/``prepend``/``collect``/``kwarg_inputs``."""
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        inputs: dict[str, str] = {}
        fields: dict[str, Any] = {}
        by_name = False
        for i, item in enumerate(items):
            if item.kind == "lit" and not by_name:
                args.append(item.value)
            elif item.kind == "node" and i == 0 and not (item.named and _by_name_ok(sig)):
                fields["prepend" if isinstance(item.value, str) else "collect"] = item.value
            else:
                by_name = True
                pname = self._param_name(call, task, sig, i, item)
                if pname is not None:
                    self._put(pname, item, kwargs, inputs)
        for name, item in keywords.items():
            if name in kwargs or name in inputs:
                span = item.expr.span if item.expr is not None else call.span
                self.error("F304", f"argument '{name}' of {task} is given twice", span,
                           "a result passed by position already fills it")
                continue
            self._put(name, item, kwargs, inputs)
        return {"args": args, "kwargs": kwargs, "kwarg_inputs": inputs, **fields}

    def _put(self, name: str, item: _Item, kwargs: dict[str, Any], inputs: dict[str, str]) -> None:
        if item.kind == "lit":
            kwargs[name] = item.value
        elif isinstance(item.value, str):
            inputs[name] = item.value
        else:
            span = item.expr.span if item.expr is not None else ast.NO_SPAN
            self.error(BIND, f"a list of results can only be passed as the first argument "
                       f"(here: '{name}')", span,
                       "move it first, or collect it in a step of its own: [a, b] -> step()")

    def _param_name(self, call: ast.Call, task: str, sig: inspect.Signature | None, i: int,
                    item: _Item) -> str | None:
        """The parameter at position ``i``, for passing a result (or later literal) by name."""
        span = item.expr.span if item.expr is not None else call.span
        if sig is None:
            self.error(BIND, f"cannot tell which parameter of {task} argument {i + 1} is",
                       span, "pass results by keyword: step(name=result)")
            return None
        params = list(sig.parameters.values())
        if i >= len(params) or params[i].kind in (params[i].VAR_KEYWORD, params[i].KEYWORD_ONLY):
            self.error("F301", f"too many positional arguments for {task}{sig}", span)
            return None
        p = params[i]
        if p.kind in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY):
            self.error(BIND, f"a result cannot bind to {task}'s parameter '{p.name}' by name",
                       span, "results bind by name; give the task a named parameter")
            return None
        return p.name

    def _check_types(self, call: ast.Call, task: str, sig: inspect.Signature,
                     items: list[_Item], keywords: dict[str, _Item]) -> None:
        """Literal arguments (as written, no names) against simple annotations (F305)."""
        if not any(item.kind == "lit" and _pure_literal(item.expr)
                   for item in (*items, *keywords.values())):
            return
        key = (task, len(items), frozenset(keywords))
        if key not in self._binds:
            try:
                sig.bind(*items, **keywords)
                self._binds[key] = True
            except TypeError:
                self._binds[key] = False
        if not self._binds[key]:
            return  # the arity check reports it; types of misplaced arguments would only confuse
        params = list(sig.parameters.values())
        pairs: list[tuple[inspect.Parameter | None, _Item]] = []
        for i, item in enumerate(items):
            ok = i < len(params) and params[i].kind in (
                params[i].POSITIONAL_ONLY, params[i].POSITIONAL_OR_KEYWORD)
            pairs.append((params[i] if ok else None, item))
        pairs += [(sig.parameters.get(name), item) for name, item in keywords.items()]
        for p, item in pairs:
            if p is None or item.kind != "lit" or not _pure_literal(item.expr):
                continue
            if not annotation_accepts(p.annotation, item.value):
                assert item.expr is not None
                self.error("F305", f"{call.name}() parameter '{p.name}' expects "
                           f"{annotation_text(p.annotation)}, got {describe_value(item.value)}",
                           item.expr.span)

    # ---- maps, sub-flows, handlers ------------------------------------------------------------
    def _map(self, m: ast.Map, inbound: Inbound, scope: Scope) -> Inbound:
        call = m.call
        if call.name in self.flows:
            self.error("F308", f"'{call.name}' is a flow; map runs one task per element",
                       call.name_span, "wrap the flow's work in a task, or use a comprehension")
            return NOTHING
        task, known = self._resolve(call, call.name_span)
        if inbound.kind == "none":
            self.error("F308", "'map' needs a previous stage whose result is a list", m.span,
                       "write 'producer() -> map step()'")
            return NOTHING
        opts = self._options(call.options, scope)
        if call.immutable:
            self.error("F307", "a mapped step receives each element; it cannot be marked '!'",
                       call.span)
        args = list(call.args)
        if args and isinstance(args[0], ast.Placeholder):
            args = args[1:]
        for a in (*args, *(k.value for k in call.kwargs)):
            if isinstance(a, ast.Placeholder):
                self.error("F307", "in a map, each element is the first argument; '_' can only "
                           "be first", a.span)
        element = _Item("lit", None)
        items = [element, *(self._argument(a, NOTHING, scope) for a in args)]
        keywords = {k.name: self._argument(k.value, NOTHING, scope) for k in call.kwargs}
        sig = self.catalog.signature(task) if known else None
        fields = self._bind(call, task, sig, items, keywords)
        fields["args"] = fields["args"][1:]
        if sig is not None:
            self._check_types(call, task, sig, items, keywords)
        binding: dict[str, Any] = {}
        if inbound.kind == "node":
            binding["prepend" if isinstance(inbound.value, str) else "collect"] = inbound.value
        elif inbound.kind == "literal":
            if not isinstance(inbound.value, list):
                self.error("F305", f"map needs a list, got {describe_value(inbound.value)}",
                           m.span)
            binding["items"] = inbound.value if isinstance(inbound.value, list) else []
        node = Node(
            id=f"n{len(self.nodes)}", kind="map", task=task, args=fields["args"],
            kwargs=fields["kwargs"], kwarg_inputs=fields["kwarg_inputs"],
            options={**scope.options, **opts.values}, link_error=self._link_errors(opts, scope),
            max_width=m.max_width or DEFAULT_MAX_WIDTH, after=list(inbound.after),
            span=self._source(m.span), **binding,
        )
        self.nodes.append(node)
        self.name_spans[node.id] = call.name_span
        return Inbound("node", node.id)

    def _subflow(self, call: ast.Call, flow: ast.Flow, inbound: Inbound, scope: Scope) -> Inbound:
        if flow.name in scope.stack:
            cycle = " -> ".join([*scope.stack[scope.stack.index(flow.name):], flow.name])
            self.error("F206", f"flows call each other recursively: {cycle}", call.name_span,
                       "a flow is inlined where it is called, so it cannot call itself")
            return NOTHING
        for a in (*call.args, *(k.value for k in call.kwargs)):
            if isinstance(a, ast.Placeholder) or is_result_ref(a, scope.results):
                self.error(BIND, f"flow '{flow.name}' takes compile-time values; a run-time "
                           "result cannot be its argument", a.span,
                           "the previous result goes to the flow's first step: a() -> flow()")
        from flowc.compiler.flow_params import bind_call

        values, problems = bind_call(flow, call, lambda e: self._value(e, scope))
        self.diagnostics += problems
        opts = self._options(call.options, scope)
        if call.immutable:
            inbound = inbound.wait_only()
        inner = Scope(values, options={**scope.options, **opts.values},
                      errbacks=tuple(self._link_errors(opts, scope)),
                      stack=(*scope.stack, flow.name))
        if flow.on_error is not None:
            eid = self._handler(flow.on_error, inner)
            if eid:
                inner.errbacks = (*inner.errbacks, eid)
        return self._body(flow, inbound, inner)

    def _handler(self, stage: ast.Stage, scope: Scope) -> str | None:
        """The errback of an ``on error -> stage`` handler (one task call)."""
        if not isinstance(stage, ast.Call) or stage.name in self.flows:
            self.error("F212", "an error handler must be one task call", stage.span,
                       "make a task that does the clean-up and call it here")
            return None
        return self._errback(stage, stage.immutable, scope)

    def _errback(self, call: ast.Call | ast.Func, immutable: bool, scope: Scope) -> str | None:
        span = call.name_span if isinstance(call, ast.Call) else _name_span(call)
        task, _ = self._resolve(call, span)
        args = []
        for a in call.args:
            if isinstance(a, ast.Placeholder):
                self.error("F307", "'_' in an error handler: it receives the failed task id",
                           a.span)
                continue
            args.append(self._value(a, scope))
        kwargs = {k.name: self._value(k.value, scope) for k in call.kwargs}
        own = self._options(call.options, scope) if isinstance(call, ast.Call) else Options()
        eid = f"e{len(self.errbacks)}"
        self.errbacks.append(Errback(
            id=eid, task=task, args=args, kwargs=kwargs,
            options={**self.defaults.values, **own.values}, immutable=immutable,
            span=self._source(call.span),
        ))
        self.name_spans[eid] = span
        return eid


def _by_name_ok(sig: inspect.Signature | None) -> bool:
    """Whether the first parameter can take a named result by name."""
    if sig is None or not sig.parameters:
        return False
    first = next(iter(sig.parameters.values()))
    return first.kind == first.POSITIONAL_OR_KEYWORD


def _shape(expr: ast.Expr, scope: Scope) -> Shape:
    if isinstance(expr, ast.Ref):
        value: Shape = scope.results[expr.name].value
        return value
    assert isinstance(expr, ast.ListExpr)
    return [_shape(item, scope) for item in expr.items]


def _pure_literal(expr: ast.Node | None) -> bool:
    return expr is not None and not has_name(expr)


def _name_span(f: ast.Func) -> ast.Span:
    s = f.span
    return ast.Span(s.line, s.col, s.line, s.col + len(f.name)) if s.known else s

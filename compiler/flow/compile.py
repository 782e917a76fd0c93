"""Compiling ``.flow`` modules: check everything, compile one flow, compile the schedules.

* :func:`check_module` reports every problem of a module at once: names and schedules
  (:mod:`flow_checks`), lowering (unknown tasks, ``_``, options, sub-flow calls, recursion,
  literal types) and the IR passes that need the task signatures (arity, keywords, JSON).
  Each flow is lowered with its defaults, or a sample of each parameter's type.
* :func:`compile_flow` lowers one flow with parameter values (``--param`` text by default).
* :func:`compile_schedules` lowers every schedule's target into a :class:`ScheduleEntry` for beat.

Nothing raises on a user mistake: every function returns its diagnostics, sorted and without
duplicates (a sub-flow inlined twice reports its mistakes once).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Literal

from flowc.compiler.checks.acyclic import check_acyclic
from flowc.compiler.checks.arguments import check_arguments
from flowc.compiler.checks.serialisable import check_serialisable
from flowc.compiler.checks.structure import check_structure
from flowc.compiler.flow.checks import check_module as static_checks
from flowc.compiler.flow.lower import FlowLowerer
from flowc.compiler.flow.options import flow_words
from flowc.compiler.flow.params import resolve_params, sample_params
from flowc.compiler.flow.problems import problems_to_diagnostics
from flowc.compiler.flow.resolve import TaskCatalog
from flowc.compiler.flow.values import uses_any
from flowc.compiler.ir import Workflow
from flowc.compiler.render import PictureNotes
from flowc.dsl import ast
from flowc.dsl.diagnostics import Diagnostic, did_you_mean_hint, sort_diagnostics
from flowc.dsl.gc_pause import gc_paused

IR_PASSES = (check_acyclic, check_serialisable, check_arguments)
"""The IR passes run on lowered flows (task names and options are checked while lowering)."""


@dataclass(frozen=True, slots=True)
class ScheduleEntry:
    """One ``schedule``: ``expr`` is the cron string or the interval in seconds."""

    name: str
    kind: Literal["cron", "every"]
    expr: str | float
    tz: str | None
    workflow: Workflow
    line: int = 0


def unique(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics sorted by position, each reported once."""
    seen: dict[tuple[str, ast.Span, str], Diagnostic] = {}
    for d in diags:
        seen.setdefault((d.code, d.span, d.message), d)
    return sort_diagnostics(seen.values())


def has_errors(diags: Iterable[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diags)


def _ir_diagnostics(wf: Workflow, catalog: TaskCatalog, lowerer: FlowLowerer) -> list[Diagnostic]:
    reg = catalog.registry
    problems = check_structure(wf, reg)
    if not problems:
        for run in IR_PASSES:
            problems += run(wf, reg)
    return problems_to_diagnostics(problems, lowerer.name_spans, lowerer.keyword_spans)


def check_module(
    module: ast.Module, catalog: TaskCatalog, filename: str | None = None
) -> list[Diagnostic]:
    """Every problem of ``module`` against the tasks in ``catalog``."""
    with gc_paused():  # ends after the lowered workflows are gone: nothing left to walk
        return _check_module(module, catalog, filename)


def _check_module(
    module: ast.Module, catalog: TaskCatalog, filename: str | None
) -> list[Diagnostic]:
    """``check_module`` without the pause: the lowered workflows die with this frame."""
    diags = static_checks(module)
    if not module.flows and not module.schedules and not module.broken:
        diags.append(nothing_to_run())
    lowerer = FlowLowerer(module, catalog, filename, spans=False)  # the workflows are dropped
    for flow in lowerer.flows.values():
        diags += forgotten_arrows(flow, lowerer)
        wf = lowerer.lower_flow(flow, sample_params(flow))
        diags += _ir_diagnostics(wf, catalog, lowerer)
    for schedule in module.schedules:
        wf = lowerer.lower_stage(schedule.name, schedule.target)
        diags += _ir_diagnostics(wf, catalog, lowerer)
    return unique(diags + lowerer.diagnostics)


def forgotten_arrows(flow: ast.Flow, lowerer: FlowLowerer) -> list[Diagnostic]:
    """F213 (a warning) where a statement's result goes nowhere and the next statement's first
    step would take it: ``a()`` then ``b()`` on the next line, where ``a() -> b()`` was meant.

    The next step qualifies when it is a task call without positional arguments that binds
    with one (all its parameters have defaults), takes no ``_``, is not ``!``, and its
    statement uses no named result (dataflow).
    """
    diags: list[Diagnostic] = []
    results = {s.name for s in flow.body if isinstance(s, ast.Assign)}
    for stmt, after in zip(flow.body, flow.body[1:], strict=False):
        if isinstance(stmt, ast.Assign | ast.Ref):
            continue
        nxt = after.value if isinstance(after, ast.Assign) else after
        if uses_any(nxt, results):
            continue
        first = nxt.steps[0] if isinstance(nxt, ast.Chain) else nxt
        if isinstance(first, ast.Call) and _takes_one_more(first, lowerer):
            diags.append(Diagnostic(
                "F213", "this statement's result is unused; did you mean '->'?",
                _last_line(stmt.span),
                f"end this line with '->' to pass the result to {first.name}(), or write "
                f"'!{first.name}(...)' if the two run side by side", severity="warning"))
    return diags


def _takes_one_more(call: ast.Call, lowerer: FlowLowerer) -> bool:
    if call.immutable or call.args or call.name in lowerer.flows:
        return False  # positional arguments written: the result was not meant to go first
    args = (*call.args, *(k.value for k in call.kwargs))
    if any(isinstance(a, ast.Placeholder) for a in args):
        return False
    found = lowerer.catalog.resolve(call.name)
    sig = lowerer.catalog.signature(found.name) if found.name else None
    if sig is None:
        return False
    try:
        sig.bind(None, *call.args, **{k.name: None for k in call.kwargs})
    except TypeError:
        return False
    return True


def _last_line(span: ast.Span) -> ast.Span:
    """The end of ``span``'s last line (where the missing '->' goes)."""
    if span.line == span.end_line:
        return span
    return ast.Span(span.end_line, max(span.end_col - 1, 1), span.end_line, span.end_col)


def pick_flow(module: ast.Module, name: str | None, filename: str | None = None) -> ast.Flow | None:
    """The flow called ``name``; without a name the one named like the file, else the first."""
    if name is not None:
        return module.flow(name)
    stem = PurePath(filename).stem if filename else None
    return (module.flow(stem) if stem else None) or (module.flows[0] if module.flows else None)


def nothing_to_run() -> Diagnostic:
    """An empty file (or one with only ``use``/``defaults``): an error for check and run alike."""
    return Diagnostic("F202", "the file defines no flow or schedule", ast.NO_SPAN,
                      "add 'flow name { ... }' or 'schedule name = ...'")


def unknown_flow(module: ast.Module, name: str | None) -> Diagnostic:
    names = [f.name for f in module.flows]
    if name is None and not module.schedules:
        return nothing_to_run()
    if name is None:
        return Diagnostic("F202", "the file defines no flow", ast.NO_SPAN,
                          "add 'flow name { ... }'")
    hint = did_you_mean_hint(name, names) or f"flows here: {', '.join(names) or 'none'}"
    return Diagnostic("F202", f"unknown flow '{name}'", ast.NO_SPAN, hint)


def compile_flow(
    module: ast.Module,
    catalog: TaskCatalog,
    flow_name: str | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    filename: str | None = None,
    from_text: bool = True,
) -> tuple[Workflow | None, list[Diagnostic]]:
    """The workflow of one flow with ``params`` bound, and every problem found on the way.

    ``flow_name`` may also name a schedule: its target is compiled (it takes no parameters).

    The workflow is ``None`` when the flow does not exist; otherwise it is returned even with
    errors (for pictures), so callers must check :func:`has_errors` before running it.
    """
    with gc_paused():
        flow = pick_flow(module, flow_name, filename)
        schedule = next((s for s in module.schedules if s.name == flow_name), None)
        if flow is None and schedule is not None:
            lowerer = FlowLowerer(module, catalog, filename)
            wf = lowerer.lower_stage(schedule.name, schedule.target)
            diags = static_checks(module) + _ir_diagnostics(wf, catalog, lowerer)
            return wf, unique(diags + lowerer.diagnostics)
        if flow is None:
            return None, [unknown_flow(module, flow_name)]
        values, diags = resolve_params(flow, params or {}, from_text=from_text)
        diags += only_about(static_checks(module), module, flow)
        lowerer = FlowLowerer(module, catalog, filename)
        wf = lowerer.lower_flow(flow, values)
        if values:
            wf = wf.model_copy(update={"params": dict(values)})
        diags += _ir_diagnostics(wf, catalog, lowerer)
        return wf, unique(diags + lowerer.diagnostics)


def only_about(diags: list[Diagnostic], module: ast.Module, flow: ast.Flow) -> list[Diagnostic]:
    """The diagnostics about ``flow``, the flows it calls and the module's shared items:
    running one flow of a file does not report the other flows' and schedules' problems."""
    reach = {flow.name}
    todo = [flow]
    while todo:
        for node in ast.walk(todo.pop()):
            if isinstance(node, ast.Call) and node.name not in reach:
                called = module.flow(node.name)
                if called is not None:
                    reach.add(called.name)
                    todo.append(called)
    items = [(f.span, f.name in reach) for f in module.flows]
    items += [(s.span, False) for s in module.schedules]

    def wanted(d: Diagnostic) -> bool:
        line = d.span.line
        inside = [keep for span, keep in items if span.line <= line <= span.end_line]
        return not inside or any(inside)

    return [d for d in diags if wanted(d)]


def picture_notes(
    module: ast.Module,
    catalog: TaskCatalog,
    flow_name: str | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    filename: str | None = None,
    from_text: bool = True,
) -> PictureNotes:
    """What a picture of ``compile_flow``'s workflow shows beyond the IR: the called flows'
    clusters, the flows' ``on error`` handlers, options in ``.flow`` words, a schedule's trigger.
    (Lowers again, the same way: node ids match.)"""
    with gc_paused():
        lowerer = FlowLowerer(module, catalog, filename)
        flow = pick_flow(module, flow_name, filename)
        schedule = next((s for s in module.schedules if s.name == flow_name), None)
        trigger = None
        if flow is None and schedule is not None:
            lowerer.lower_stage(schedule.name, schedule.target)
            trigger = _trigger_text(schedule)
        elif flow is not None:
            values, _ = resolve_params(flow, params or {}, from_text=from_text)
            lowerer.lower_flow(flow, values)
        return PictureNotes(clusters=dict(lowerer.clusters),
                            flow_handlers=dict(lowerer.flow_handlers), trigger=trigger,
                            option_words=flow_words)


def _trigger_text(s: ast.Schedule) -> str:
    from flowc.dsl.literals import format_duration, quote_string

    if isinstance(s.expr, ast.Duration):
        return f"every {format_duration(s.expr.seconds)}"
    return f"cron {quote_string(s.expr)} tz {quote_string(s.tz or 'UTC')}"


def compile_schedules(
    module: ast.Module, catalog: TaskCatalog, filename: str | None = None
) -> tuple[list[ScheduleEntry], list[Diagnostic]]:
    """A :class:`ScheduleEntry` per schedule (beat's input), and every problem found."""
    with gc_paused():
        diags = static_checks(module)
        lowerer = FlowLowerer(module, catalog, filename)
        entries = []
        for s in module.schedules:
            wf = lowerer.lower_stage(s.name, s.target)
            diags += _ir_diagnostics(wf, catalog, lowerer)
            expr: str | float = s.expr if isinstance(s.expr, str) else s.expr.seconds
            entries.append(ScheduleEntry(s.name, s.kind, expr, s.tz or None, wf, s.span.line))
        return entries, unique(diags + lowerer.diagnostics)

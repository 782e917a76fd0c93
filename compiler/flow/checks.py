"""Checks of a ``.flow`` module that need no task registry: names, parameters, schedules.

* F203 duplicate flow or schedule name;
* F202 unknown name, F204 a result name assigned twice (or shadowing a parameter), F205 used
  before it is assigned, F208 (warning) a named result never used;
* F306 unknown parameter type, F305 a default that does not fit its type;
* F404 invalid cron expression, F405 unknown time zone (``zoneinfo``), F409 a non-positive
  ``every`` interval.

Cron strings are checked with ``flowc.dsl.cron``, the grammar beat builds its schedules from, so
``flowc check`` accepts exactly the expressions beat runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from flowc.compiler.flow.params import declared_type, default_value
from flowc.compiler.flow.types import BASES, describe_value, matches, parse_type
from flowc.compiler.flow.values import child_nodes
from flowc.dsl import ast
from flowc.dsl.cron import STRING_ORDER, FieldSpec, expression_problems, parse_field
from flowc.dsl.diagnostics import Diagnostic, did_you_mean_hint


def check_module(module: ast.Module) -> list[Diagnostic]:
    """Every registry-free problem of ``module``, in no particular order."""
    diags: list[Diagnostic] = []
    diags += _duplicates([(f.name, f.name_span or f.span) for f in module.flows], "flow")
    diags += _duplicates([(s.name, s.span) for s in module.schedules], "schedule")
    for flow in module.flows:
        diags += _params(flow)
        diags += _names(flow)
    for schedule in module.schedules:
        diags += check_trigger(schedule)
        diags += _names_in(schedule.target, set(), {}, set())
    return diags


def _duplicates(named: list[tuple[str, ast.Span]], what: str) -> list[Diagnostic]:
    seen: dict[str, ast.Span] = {}
    diags = []
    for name, span in named:
        if name in seen:
            diags.append(Diagnostic("F203", f"{what} '{name}' is defined twice", span,
                                    f"the first is on line {seen[name].line}; rename one"))
        else:
            seen[name] = span
    return diags


def _params(flow: ast.Flow) -> list[Diagnostic]:
    diags = []
    for p in flow.params:
        if p.type and parse_type(p.type) is None:
            word = p.type.split("[", 1)[0].strip()
            hint = did_you_mean_hint(word, BASES) or f"types: {', '.join(BASES)}"
            diags.append(Diagnostic("F306", f"unknown type '{p.type}' for parameter '{p.name}'",
                                    p.span, hint))
            continue
        t = declared_type(p)
        ok, value = default_value(p)
        if p.default is not None and not ok:
            diags.append(Diagnostic("F202", f"the default of '{p.name}' must be a literal",
                                    p.default.span))
        elif t is not None and ok and not matches(value, t):
            assert p.default is not None
            diags.append(Diagnostic("F305", f"default of '{p.name}' should be {t}, got "
                                    f"{describe_value(value)}", p.default.span))
    return diags


def _names(flow: ast.Flow) -> list[Diagnostic]:
    """Named results: assigned once, used after, used at all."""
    diags: list[Diagnostic] = []
    params = {p.name for p in flow.params}
    assigned: dict[str, ast.Assign] = {}
    later = {s.name for s in flow.body if isinstance(s, ast.Assign)}
    used: set[str] = set()
    for stmt in flow.body:
        stage = stmt.value if isinstance(stmt, ast.Assign) else stmt
        found = _names_in(stage, params, assigned, later, used)
        if isinstance(stmt, ast.Assign) and any(d.code == "F205" for d in found):
            found = [_as_cycle(d, stmt, flow) if d.code == "F205" else d for d in found]
        diags += found
        if isinstance(stmt, ast.Assign):
            if stmt.name in params:
                diags.append(Diagnostic("F204", f"'{stmt.name}' is already a parameter",
                                        _assign_span(stmt), "choose another name for the result"))
            elif stmt.name in assigned:
                first = assigned[stmt.name].span.line
                diags.append(Diagnostic("F204", f"'{stmt.name}' is assigned twice",
                                        _assign_span(stmt), f"first assigned on line {first}"))
            else:
                assigned[stmt.name] = stmt
    if flow.on_error is not None:
        diags += _names_in(flow.on_error, params, {}, set())
    last = flow.body[-1] if flow.body else None
    for name, stmt in assigned.items():
        if name not in used and stmt is not last:
            diags.append(Diagnostic("F208", f"the result '{name}' is never used",
                                    _assign_span(stmt), "use it, or drop the name",
                                    severity="warning"))
    return diags


def _as_cycle(early: Diagnostic, stmt: ast.Assign, flow: ast.Flow) -> Diagnostic:
    """F205 turned into F209 naming the cycle when the name used too early depends on the
    result being assigned (``a = f(b)`` then ``b = g(a)``); else ``early`` unchanged."""
    deps: dict[str, set[str]] = {}
    for s in flow.body:
        if isinstance(s, ast.Assign):
            deps.setdefault(s.name, set()).update(r.name for r, _ in _refs(s.value, frozenset()))
    start = early.message.split("'")[1]
    path = _path(start, stmt.name, deps)
    if path is None:
        return early
    cycle = " -> ".join([stmt.name, *path])
    return Diagnostic("F209", f"dataflow cycle: {cycle}", early.span,
                      "a result cannot depend on itself; one of these steps must not use "
                      "the other's result")


def _path(start: str, goal: str, deps: Mapping[str, set[str]]) -> list[str] | None:
    """The names from ``start`` to ``goal`` following ``deps`` (breadth first), or None."""
    previous: dict[str, str | None] = {start: None}
    queue = [start]
    for name in queue:
        if name == goal:
            path: list[str] = []
            step: str | None = name
            while step is not None:
                path.append(step)
                step = previous[step]
            return path[::-1]
        for nxt in sorted(deps.get(name, ())):
            if nxt not in previous:
                previous[nxt] = name
                queue.append(nxt)
    return None


def _assign_span(stmt: ast.Assign) -> ast.Span:
    s = stmt.span
    return ast.Span(s.line, s.col, s.line, s.col + len(stmt.name)) if s.known else s


def _names_in(stage: ast.Node, params: set[str], assigned: Mapping[str, object],
              later: set[str], used: set[str] | None = None) -> list[Diagnostic]:
    """Unknown and too-early names in ``stage``; ``assigned`` are the results named so far
    (looked up, never copied: a flow with n statements costs O(n), not O(n^2))."""
    diags = []
    for ref, bound in _refs(stage, frozenset()):
        name = ref.name
        if name in bound or name in params:
            continue
        if name in assigned:
            if used is not None:
                used.add(name)
        elif name in later:
            diags.append(Diagnostic("F205", f"'{name}' is used before it is assigned", ref.span,
                                    "move the statement that assigns it above this one"))
        else:
            candidates = [*params, *assigned, *bound]
            hint = did_you_mean_hint(name, candidates) or (
                "a name is a flow parameter, a loop variable or a named result")
            diags.append(Diagnostic("F202", f"unknown name '{name}'", ref.span, hint))
    return diags


def _refs(node: ast.Node, bound: frozenset[str]) -> Iterator[tuple[ast.Ref, frozenset[str]]]:
    """Every ``Ref`` under ``node`` (in source order) with the loop variables bound where it
    stands. A loop, not recursion: one generator, however long or deep the flow."""
    stack: list[tuple[ast.Node, frozenset[str]]] = [(node, bound)]
    while stack:
        node, bound = stack.pop()
        if isinstance(node, ast.Ref):
            yield node, bound
        elif isinstance(node, ast.Comprehension):
            stack.append((node.item, bound | {node.var}))
            stack.append((node.iterable, bound))
        else:
            stack.extend((child, bound) for child in reversed(child_nodes(node)))


def check_trigger(s: ast.Schedule) -> list[Diagnostic]:
    """F404/F405 for ``cron``, F409 for ``every``."""
    diags = []
    if s.kind == "every":
        assert isinstance(s.expr, ast.Duration)
        if s.expr.seconds <= 0:
            diags.append(Diagnostic("F409", "'every' needs an interval above zero", s.expr.span))
        return diags
    assert isinstance(s.expr, str)
    diags += cron_diagnostics(s)
    if s.tz is not None and not valid_zone(s.tz):
        import zoneinfo

        hint = did_you_mean_hint(s.tz, sorted(zoneinfo.available_timezones()))
        span = s.tz_span if s.tz_span.known else s.span
        diags.append(Diagnostic("F405", f"unknown time zone \"{s.tz}\"", span,
                                hint or "use an IANA name such as \"Europe/Berlin\" or \"UTC\""))
    return diags


def cron_diagnostics(s: ast.Schedule) -> list[Diagnostic]:
    """F404 for each wrong field of a cron schedule, under that field and naming it
    (``minute 61 is out of range 0-59``); a wrong field count under the whole string."""
    assert isinstance(s.expr, str)
    where = s.expr_span if s.expr_span.known else s.span
    exact = where.line == where.end_line and where.end_col - where.col == len(s.expr)
    parts = list(re.finditer(r"\S+", s.expr))
    if exact and len(parts) == len(STRING_ORDER):
        diags = []
        for spec, part in zip(STRING_ORDER, parts, strict=True):
            _, problems = parse_field(spec, part.group())
            if problems:
                col = where.col + part.start()
                span = ast.Span(where.line, col, where.line, col + len(part.group()))
                diags.append(Diagnostic(
                    "F404", f"invalid cron expression \"{s.expr}\": {'; '.join(problems)}",
                    span, _field_hint(spec)))
        if diags:
            return diags
    error = cron_error(s.expr)
    if not error:
        return []
    return [Diagnostic("F404", f"invalid cron expression \"{s.expr}\": {error}", where,
                       "five fields: minute hour day-of-month month day-of-week, "
                       "e.g. \"30 2 * * *\"")]


def _field_hint(spec: FieldSpec) -> str:
    return f"{spec.name} takes {spec.lo}-{spec.max_input}, e.g. {spec.example}"


def cron_error(expr: str) -> str | None:
    """Why beat would refuse the cron string ``expr`` (every problem), or ``None``."""
    problems = expression_problems(expr)
    return "; ".join(problems) if problems else None


def valid_zone(name: str) -> bool:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True

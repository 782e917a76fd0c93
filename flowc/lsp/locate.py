"""What the cursor is on: a task or sub-flow call, a flow's name, a named result, a parameter,
a schedule or an option, found by walking the AST's spans."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from flowc.dsl import ast
from flowc.lsp.ranges import contains, name_span

Kind = Literal["call", "flow", "result", "param", "loop_var", "schedule", "option"]


@dataclass(frozen=True)
class Target:
    """A name under the cursor: its kind, text, span, node, and the flow it is in (if any)."""

    kind: Kind
    name: str
    span: ast.Span
    node: ast.Node
    flow: ast.Flow | None = None


def target_at(module: ast.Module, lines: list[str], line: int, col: int) -> Target | None:
    """The innermost named thing at 1-based ``(line, col)``, or None."""
    found = [t for t in targets(module, lines) if contains(t.span, line, col)]
    if not found:
        return None
    return min(found, key=lambda t: (t.span.end_line - t.span.line, t.span.end_col - t.span.col))


def targets(module: ast.Module, lines: list[str]) -> Iterator[Target]:
    """Every named thing of ``module`` with the span of its name."""
    for flow in module.flows:
        yield Target("flow", flow.name, flow.name_span, flow, flow)
        for p in flow.params:
            yield Target("param", p.name, name_span(p.span, p.name), p, flow)
        for node in ast.walk(flow):
            yield from _named(node, flow)
    for schedule in module.schedules:
        yield Target("schedule", schedule.name, schedule_name_span(schedule, lines), schedule)
        for node in ast.walk(schedule.target):
            yield from _named(node, None)
    if module.defaults is not None:
        for opt in module.defaults.options:
            yield from _named(opt, None)


def _named(node: ast.Node, flow: ast.Flow | None) -> Iterator[Target]:
    if isinstance(node, ast.Call):
        yield Target("call", node.name, node.name_span, node, flow)
    elif isinstance(node, ast.Func) and node.span.known:
        # A function-like option value; `on_error = handler(x)` calls a task.
        yield Target("call", node.name, name_span(node.span, node.name), node, flow)
    elif isinstance(node, ast.Assign):
        yield Target("result", node.name, name_span(node.span, node.name), node, flow)
    elif isinstance(node, ast.Ref):
        yield Target(_ref_kind(node.name, flow), node.name, node.span, node, flow)
    elif isinstance(node, ast.Option):
        yield Target("option", node.key, name_span(node.span, node.key), node, flow)


def _ref_kind(name: str, flow: ast.Flow | None) -> Kind:
    if flow is not None and any(p.name == name for p in flow.params):
        return "param"
    if flow is not None and assignment(flow, name) is not None:
        return "result"
    return "loop_var"


def assignment(flow: ast.Flow, name: str) -> ast.Assign | None:
    """The statement of ``flow`` that names its result ``name``."""
    return next((s for s in flow.body if isinstance(s, ast.Assign) and s.name == name), None)


def references(flow: ast.Flow, name: str) -> Iterator[ast.Span]:
    """The spans of every use of the result ``name`` inside ``flow`` (its assignment
    included), leaving out comprehensions whose loop variable has the same name."""
    yield from _uses(flow, name)


def _uses(node: ast.Node, name: str) -> Iterator[ast.Span]:
    if isinstance(node, ast.Comprehension) and node.var == name:
        yield from _uses(node.iterable, name)  # the loop shadows the name only inside
        return
    if isinstance(node, ast.Ref) and node.name == name:
        yield node.span
    elif isinstance(node, ast.Assign) and node.name == name:
        yield name_span(node.span, name)
    for child in ast.children(node):
        yield from _uses(child, name)



def calls_of(module: ast.Module, name: str) -> Iterator[ast.Span]:
    """The name spans of every call of ``name`` (steps and ``on_error`` handlers) in ``module``."""
    roots: list[ast.Node] = [*module.flows, *(s.target for s in module.schedules)]
    for root in roots:
        for node in ast.walk(root):
            if isinstance(node, ast.Call) and node.name == name:
                yield node.name_span
            elif isinstance(node, ast.Func) and node.name == name and node.span.known:
                yield name_span(node.span, name)


def schedule_name_span(schedule: ast.Schedule, lines: list[str]) -> ast.Span:
    """Where a schedule's name is written (the span starts at the ``schedule`` keyword)."""
    s = schedule.span
    if not s.known or s.line > len(lines):
        return s
    text = lines[s.line - 1]
    at = text.find(schedule.name, s.col - 1 + len("schedule"))
    if at < 0:
        return ast.Span(s.line, s.col, s.line, s.col + len("schedule"))
    return ast.Span(s.line, at + 1, s.line, at + 1 + len(schedule.name))

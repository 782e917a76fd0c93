"""Document symbols: the file's flows (with their parameters and named results) and schedules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from flowc.dsl import ast
from flowc.lsp.locate import schedule_name_span
from flowc.lsp.ranges import name_span


@dataclass(frozen=True)
class Symbol:
    """One outline entry: what it is, its name, its whole span and its name's span."""

    kind: Literal["flow", "schedule", "param", "result"]
    name: str
    detail: str
    span: ast.Span
    name_span: ast.Span
    children: tuple[Symbol, ...] = field(default=())


def outline(module: ast.Module, lines: list[str]) -> list[Symbol]:
    """Flows and schedules in source order."""
    items: list[Symbol] = [_flow(f) for f in module.flows]
    for s in module.schedules:
        when = f'cron "{s.expr}"' if s.kind == "cron" else f"every {_every(s.expr)}"
        detail = when + (f' tz "{s.tz}"' if s.tz else "")
        name = schedule_name_span(s, lines)
        items.append(Symbol("schedule", s.name, detail, _covering(s.span, name), name))
    return sorted(items, key=lambda s: (s.span.line, s.span.col))


def _every(expr: str | ast.Duration) -> str:
    return expr.text if isinstance(expr, ast.Duration) and expr.text else str(expr)


def _covering(outer: ast.Span, inner: ast.Span) -> ast.Span:
    """``outer`` grown to contain ``inner`` (LSP wants a symbol's name inside its range; a
    YAML flow's span starts at its body, after its name)."""
    if not inner.known:
        return outer
    start = min((outer.line, outer.col), (inner.line, inner.col))
    end = max((outer.end_line, outer.end_col), (inner.end_line, inner.end_col))
    return ast.Span(*start, *end)


def _flow(flow: ast.Flow) -> Symbol:
    children = [Symbol("param", p.name, p.type or "", p.span, name_span(p.span, p.name))
                for p in flow.params]
    children += [Symbol("result", s.name, "", s.span, name_span(s.span, s.name))
                 for s in flow.body if isinstance(s, ast.Assign)]
    children = [Symbol(c.kind, c.name, c.detail, _covering(c.span, c.name_span), c.name_span)
                for c in children]
    return Symbol("flow", flow.name, "flow", _covering(flow.span, flow.name_span),
                  flow.name_span, tuple(children))

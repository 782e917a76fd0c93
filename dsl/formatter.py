"""The canonical .flow layout: ``format_module(Module) -> str``, idempotent, comments kept.

Layout: 4-space indents; one statement per line; a chain puts each later stage on its own
line as ``-> stage``; one blank line between top-level items. Comments are re-attached by
source line: a comment on a code line stays at the end of that line, a comment on its own
line goes before the next code line that follows it in the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeAlias

from flowc.dsl import ast
from flowc.dsl.literals import format_duration, quote_string

INDENT = "    "
MAX_WIDTH = 100
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(slots=True)
class _Line:
    """One output line and the source lines it came from (0 when unknown)."""

    depth: int
    text: str
    start: int = 0
    end: int = 0


def format_module(module: ast.Module) -> str:
    """Render ``module`` in canonical layout; parse(format_module(m)) == m."""
    lines: list[_Line] = []
    for item in _items_in_source_order(module):
        same_kind = isinstance(item, ast.Use | ast.Schedule) and lines[-1].text.startswith(
            "use " if isinstance(item, ast.Use) else "schedule "
        ) if lines else False
        if lines and not same_kind:
            lines.append(_Line(0, ""))
        lines.extend(_item_lines(item))
    return _weave_comments(lines, module.comments)


def format_expr(expr: ast.Expr | ast.Range) -> str:
    """One value in .flow syntax."""
    if isinstance(expr, ast.Literal):
        return _literal(expr.value)
    if isinstance(expr, ast.Duration):
        return format_duration(expr.seconds)
    if isinstance(expr, ast.Ref):
        return expr.name
    if isinstance(expr, ast.Placeholder):
        return "_"
    if isinstance(expr, ast.ListExpr):
        return "[" + ", ".join(format_expr(i) for i in expr.items) + "]"
    if isinstance(expr, ast.DictExpr):
        pairs = (f"{_key(k)}: {format_expr(v)}" for k, v in expr.items)
        return "{" + ", ".join(pairs) + "}"
    if isinstance(expr, ast.Func):
        return f"{expr.name}({_arguments(expr.args, expr.kwargs)})"
    return _range(expr)


def format_stage(stage: ast.Stage) -> str:
    """A stage on one line (chains inline, as inside a group)."""
    if isinstance(stage, ast.Call):
        return _call(stage)
    if isinstance(stage, ast.Map):
        call = stage.call
        text = f"map {call.name}({_arguments(call.args, call.kwargs)})"
        if stage.max_width is not None:
            text += f" max {stage.max_width}"
        return text + _options(call.options)
    if isinstance(stage, ast.Chain):
        return " -> ".join(format_stage(s) for s in stage.steps)
    if isinstance(stage, ast.Group):
        return "[" + ", ".join(_group_item(i) for i in stage.items) + "]"
    if isinstance(stage, ast.Comprehension):
        item = format_stage(stage.item)
        return f"[{item} for {stage.var} in {format_expr(stage.iterable)}]"
    return stage.name


def _literal(value: str | int | float | bool | None) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quote_string(value)
    return repr(value)


def _key(key: str) -> str:
    return key if _IDENT.fullmatch(key) else quote_string(key)


def _range(r: ast.Range) -> str:
    zero, one = ast.Literal(0), ast.Literal(1)
    if r.step == one:
        if r.start == zero:
            return f"range({format_expr(r.stop)})"
        return f"range({format_expr(r.start)}, {format_expr(r.stop)})"
    return f"range({format_expr(r.start)}, {format_expr(r.stop)}, {format_expr(r.step)})"


def _arguments(args: tuple[ast.Expr, ...], kwargs: tuple[ast.Keyword, ...]) -> str:
    parts = [format_expr(a) for a in args]
    parts += [f"{k.name}={format_expr(k.value)}" for k in kwargs]
    return ", ".join(parts)


def _options(options: tuple[ast.Option, ...]) -> str:
    if not options:
        return ""
    return " with " + ", ".join(f"{o.key} = {format_expr(o.value)}" for o in options)


def _call(call: ast.Call) -> str:
    bang = "!" if call.immutable else ""
    return f"{bang}{call.name}({_arguments(call.args, call.kwargs)}){_options(call.options)}"


def _ends_with_options(stage: ast.Stage) -> bool:
    if isinstance(stage, ast.Chain):
        return _ends_with_options(stage.steps[-1])
    if isinstance(stage, ast.Map):
        return bool(stage.call.options)
    return isinstance(stage, ast.Call) and bool(stage.options)


def _group_item(stage: ast.Stage) -> str:
    text = format_stage(stage)
    return f"({text})" if _ends_with_options(stage) else text


# ---- statements and items ------------------------------------------------------------------

Item: TypeAlias = ast.Use | ast.Defaults | ast.Flow | ast.Schedule


def _items_in_source_order(module: ast.Module) -> list[Item]:
    items: list[Item] = [*module.uses]
    if module.defaults is not None:
        items.append(module.defaults)
    items += [*module.flows, *module.schedules]
    return sorted(items, key=lambda i: i.span.line)


def _item_lines(item: Item) -> list[_Line]:
    s = item.span
    if isinstance(item, ast.Use):
        return [_Line(0, f"use {quote_string(item.module)}", s.line, s.end_line)]
    if isinstance(item, ast.Defaults):
        lines = [_Line(0, "defaults {", s.line, s.line)]
        for o in item.options:
            text = f"{o.key} = {format_expr(o.value)}"
            lines.append(_Line(1, text, o.span.line, o.span.end_line))
        return [*lines, _Line(0, "}", s.end_line, s.end_line)]
    if isinstance(item, ast.Schedule):
        if isinstance(item.expr, ast.Duration):
            trigger = f"every {format_duration(item.expr.seconds)}"
        else:
            tz = f" tz {quote_string(item.tz)}" if item.tz is not None else ""
            trigger = f"cron {quote_string(item.expr)}{tz}"
        return _pipeline_lines(0, f"schedule {item.name} = {trigger} -> ", item.target, s.line)
    return _flow_lines(item)


def _flow_lines(flow: ast.Flow) -> list[_Line]:
    s = flow.span
    header = f"flow {flow.name}"
    if flow.params:
        header += "(" + ", ".join(_param(p) for p in flow.params) + ")"
    if not flow.body and flow.on_error is None:
        return [_Line(0, header + " {}", s.line, s.end_line)]
    lines = [_Line(0, header + " {", s.line, s.line)]
    for stmt in flow.body:
        if isinstance(stmt, ast.Assign):
            lines += _pipeline_lines(1, f"{stmt.name} = ", stmt.value, stmt.span.line)
        else:
            lines += _pipeline_lines(1, "", stmt, stmt.span.line)
    if flow.on_error is not None:
        lines += _pipeline_lines(1, "on error -> ", flow.on_error, flow.on_error.span.line)
    return [*lines, _Line(0, "}", s.end_line, s.end_line)]


def _param(p: ast.Param) -> str:
    text = p.name
    if p.type is not None:
        text += f": {p.type}"
    if p.default is not None:
        text += f" = {format_expr(p.default)}"
    return text


def _pipeline_lines(depth: int, prefix: str, stage: ast.Stage, start: int) -> list[_Line]:
    """A statement: the first stage after ``prefix``; later chain stages one per line."""
    steps = stage.steps if isinstance(stage, ast.Chain) else (stage,)
    lines = _stage_lines(depth, prefix, steps[0], start)
    for step in steps[1:]:
        lines += _stage_lines(depth + 1, "-> ", step, step.span.line)
    return lines


def _stage_lines(depth: int, prefix: str, stage: ast.Stage, start: int) -> list[_Line]:
    """One stage; its ``with`` options move to the next line when the line is too long."""
    end = stage.span.end_line
    text = prefix + format_stage(stage)
    call = stage.call if isinstance(stage, ast.Map) else stage
    options = _options(call.options) if isinstance(call, ast.Call) else ""
    if len(INDENT * depth + text) <= MAX_WIDTH or not options:
        return [_Line(depth, text, start, end)]
    head = text[: len(text) - len(options)]
    return [_Line(depth, head, start, end), _Line(depth + 1, options.strip(), start, end)]


# ---- comments ------------------------------------------------------------------------------


def _weave_comments(lines: list[_Line], comments: tuple[ast.Comment, ...]) -> str:
    """Join lines, re-inserting comments next to the code they were written beside."""
    trailing: dict[int, list[str]] = {}
    standalone: list[ast.Comment] = []
    for c in comments:
        # The last output line made from the comment's source line: the stage the comment
        # follows when several stages were written on that line.
        host = next(
            (i for i in range(len(lines) - 1, -1, -1)
             if lines[i].text and lines[i].start <= c.span.line <= lines[i].end),
            None,
        )
        if host is None:
            standalone.append(c)
        else:
            trailing.setdefault(host, []).append(c.text)
    out: list[str] = []
    pending = sorted(standalone, key=lambda c: c.span.line)
    for i, ln in enumerate(lines):
        while pending and ln.start > pending[0].span.line:
            out.append(INDENT * ln.depth + pending.pop(0).text)
        text = INDENT * ln.depth + ln.text if ln.text else ""
        if i in trailing:
            text += "  " + "  ".join(trailing[i])
        out.append(text)
    out += [c.text for c in pending]
    return "\n".join(out).strip("\n") + "\n"

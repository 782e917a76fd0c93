"""The lark Transformer that turns a .flow parse tree into AST nodes, one method per rule.

Problems that the grammar cannot express (bad durations, escapes, argument order, duplicates)
are collected as F1xx Diagnostics in ``diagnostics`` rather than raised, so all are reported.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any, Literal

from flowc.dsl import ast
from flowc.dsl.diagnostics import Diagnostic
from flowc.dsl.literals import DURATION_HINT, decode_string, parse_duration
from lark import Token, Transformer, v_args
from lark.tree import Meta


def meta_span(meta: Meta) -> ast.Span:
    """The Span of a rule match (unknown for an empty match)."""
    if getattr(meta, "empty", True):
        return ast.NO_SPAN
    return ast.Span(meta.line, meta.column, meta.end_line, meta.end_column)


def token_span(tok: Token) -> ast.Span:
    """The Span of one token."""
    return ast.Span(tok.line or 0, tok.column or 0, tok.end_line or 0, tok.end_column or 0)


@dataclass(frozen=True, slots=True)
class _Args:
    """Positional and keyword arguments of a call, before they are placed on a node."""

    args: tuple[ast.Expr, ...] = ()
    kwargs: tuple[ast.Keyword, ...] = ()


@dataclass(frozen=True, slots=True)
class _Tagged:
    """A child that only its parent interprets: a type annotation, default, limit or handler."""

    tag: str
    value: Any
    span: ast.Span


@dataclass(frozen=True, slots=True)
class _Trigger:
    """A schedule trigger before it is placed on the Schedule node."""

    kind: str
    expr: str | ast.Duration
    tz: str | None


@v_args(meta=True)
class ToAst(Transformer[Token, ast.Module]):
    """Builds AST nodes bottom-up and records syntax-level diagnostics."""

    def __init__(self) -> None:
        super().__init__(visit_tokens=False)
        self.diagnostics: list[Diagnostic] = []

    def _error(self, code: str, message: str, span: ast.Span, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, hint))

    # ---- top level ------------------------------------------------------------------

    def module(self, meta: Meta, items: list[Any]) -> ast.Module:
        defaults = [i for i in items if isinstance(i, ast.Defaults)]
        for extra in defaults[1:]:
            self._error(
                "F114", "more than one 'defaults' block", extra.span,
                "merge the options into the first 'defaults' block",
            )
        return ast.Module(
            uses=tuple(i for i in items if isinstance(i, ast.Use)),
            defaults=defaults[0] if defaults else None,
            flows=tuple(i for i in items if isinstance(i, ast.Flow)),
            schedules=tuple(i for i in items if isinstance(i, ast.Schedule)),
            span=meta_span(meta),
        )

    def use(self, meta: Meta, children: list[Token]) -> ast.Use:
        return ast.Use(self._string(children[0]), span=meta_span(meta))

    def defaults(self, meta: Meta, options: list[ast.Option]) -> ast.Defaults:
        self._check_unique_options(options)
        return ast.Defaults(tuple(options), span=meta_span(meta))

    # ---- flows ----------------------------------------------------------------------

    def flow(self, meta: Meta, children: list[Any]) -> ast.Flow:
        name, *rest = children
        params: list[ast.Param] = rest[0] if len(rest) == 2 else []
        body: list[Any] = rest[-1]
        handlers = [s for s in body if isinstance(s, _Tagged)]
        for extra in handlers[1:]:
            self._error(
                "F113", "more than one 'on error' handler in this flow", extra.span,
                "a flow has one handler; chain or group the handler steps instead",
            )
        statements = tuple(s for s in body if not isinstance(s, _Tagged))
        self._check_statement_lines(statements)
        return ast.Flow(
            name=str(name),
            params=tuple(params),
            body=statements,
            on_error=handlers[0].value if handlers else None,
            name_span=token_span(name),
            span=meta_span(meta),
        )

    def params(self, meta: Meta, params: list[ast.Param]) -> list[ast.Param]:
        seen: set[str] = set()
        for p in params:
            if p.name in seen:
                self._error("F112", f"parameter '{p.name}' is declared twice", p.span)
            seen.add(p.name)
        return params

    def param(self, meta: Meta, children: list[Any]) -> ast.Param:
        name, *rest = children
        tagged = {t.tag: t.value for t in rest}
        return ast.Param(
            str(name), tagged.get("type"), tagged.get("default"), span=meta_span(meta)
        )

    def annotation(self, meta: Meta, children: list[str]) -> _Tagged:
        return _Tagged("type", children[0], meta_span(meta))

    def default(self, meta: Meta, children: list[ast.Expr]) -> _Tagged:
        return _Tagged("default", children[0], meta_span(meta))

    def type_expr(self, meta: Meta, children: list[Any]) -> str:
        name, *args = children
        return f"{name}[{', '.join(args)}]" if args else str(name)

    def body(self, meta: Meta, statements: list[Any]) -> list[Any]:
        return statements

    def assign(self, meta: Meta, children: list[Any]) -> ast.Assign:
        return ast.Assign(str(children[0]), children[1], span=meta_span(meta))

    def on_error(self, meta: Meta, children: list[Any]) -> _Tagged:
        return _Tagged("on_error", children[0], meta_span(meta))

    def pipeline(self, meta: Meta, stages: list[ast.Stage]) -> ast.Stage:
        if len(stages) == 1:
            return stages[0]
        return ast.Chain(tuple(stages), span=meta_span(meta))

    # ---- stages ---------------------------------------------------------------------

    def step(self, meta: Meta, children: list[Any]) -> ast.Call:
        immutable = isinstance(children[0], Token) and children[0].type == "BANG"
        call: ast.Call = children[1] if immutable else children[0]
        options = children[-1] if isinstance(children[-1], tuple) else ()
        return replace(call, immutable=immutable, options=options, span=meta_span(meta))

    def call(self, meta: Meta, children: list[Any]) -> ast.Call:
        name = children[0]
        args = children[1] if len(children) > 1 else _Args()
        return ast.Call(
            str(name), args.args, args.kwargs,
            name_span=token_span(name), span=meta_span(meta),
        )

    def options(self, meta: Meta, options: list[ast.Option]) -> tuple[ast.Option, ...]:
        self._check_unique_options(options)
        return tuple(options)

    def option(self, meta: Meta, children: list[Any]) -> ast.Option:
        return ast.Option(str(children[0]), children[1], span=meta_span(meta))

    def group(self, meta: Meta, items: list[ast.Stage]) -> ast.Group:
        return ast.Group(tuple(items), span=meta_span(meta))

    def comprehension(self, meta: Meta, children: list[Any]) -> ast.Comprehension:
        item, var, iterable = children
        return ast.Comprehension(item, str(var), iterable, span=meta_span(meta))

    def range_expr(self, meta: Meta, children: list[_Args]) -> ast.Range:
        span = meta_span(meta)
        args = children[0] if children else _Args()
        if args.kwargs or not 1 <= len(args.args) <= 3:
            self._error(
                "F115", "range() takes 1 to 3 positional arguments", span,
                "write range(stop), range(start, stop) or range(start, stop, step)",
            )
        parts = list(args.args[:3])
        zero, one = ast.Literal(0, span=span), ast.Literal(1, span=span)
        if len(parts) <= 1:
            parts = [zero, parts[0] if parts else zero, one]
        elif len(parts) == 2:
            parts.append(one)
        return ast.Range(parts[0], parts[1], parts[2], span=span)

    def map_stage(self, meta: Meta, children: list[Any]) -> ast.Map:
        call: ast.Call = children[0]
        limit = next((c.value for c in children[1:] if isinstance(c, _Tagged)), None)
        options = children[-1] if isinstance(children[-1], tuple) else ()
        return ast.Map(replace(call, options=options), limit, span=meta_span(meta))

    def map_limit(self, meta: Meta, children: list[Token]) -> _Tagged:
        value = int(children[0])
        if value <= 0:
            self._error(
                "F116", f"map width must be a positive integer, not {value}",
                token_span(children[0]), "write e.g. 'map step() max 100'",
            )
        return _Tagged("max", value, meta_span(meta))

    def ref(self, meta: Meta, children: list[Token]) -> ast.Ref:
        return ast.Ref(str(children[0]), span=meta_span(meta))

    # ---- schedules ------------------------------------------------------------------

    def schedule(self, meta: Meta, children: list[Any]) -> ast.Schedule:
        name, trigger, target = children
        kind: Literal["cron", "every"] = "cron" if trigger.kind == "cron" else "every"
        return ast.Schedule(
            str(name), kind, trigger.expr, target, trigger.tz, span=meta_span(meta)
        )

    def cron_trigger(self, meta: Meta, children: list[Token]) -> _Trigger:
        tz = self._string(children[1]) if len(children) > 1 else None
        return _Trigger("cron", self._string(children[0]), tz)

    def every_trigger(self, meta: Meta, children: list[Token]) -> _Trigger:
        return _Trigger("every", self.duration_lit(meta, children), None)

    # ---- arguments and values ---------------------------------------------------------

    def arguments(self, meta: Meta, items: list[Any]) -> _Args:
        args: list[ast.Expr] = []
        kwargs: list[ast.Keyword] = []
        for item in items:
            if isinstance(item, ast.Keyword):
                if any(k.name == item.name for k in kwargs):
                    self._error(
                        "F110", f"keyword argument '{item.name}' is given twice", item.span
                    )
                kwargs.append(item)
            elif kwargs:
                self._error(
                    "F109", "positional argument after a keyword argument", item.span,
                    "put positional arguments first, or name this one too",
                )
            else:
                args.append(item)
        return _Args(tuple(args), tuple(kwargs))

    def kwarg(self, meta: Meta, children: list[Any]) -> ast.Keyword:
        return ast.Keyword(str(children[0]), children[1], span=meta_span(meta))

    def func(self, meta: Meta, children: list[Any]) -> ast.Func:
        args = children[1] if len(children) > 1 else _Args()
        return ast.Func(str(children[0]), args.args, args.kwargs, span=meta_span(meta))

    def string_lit(self, meta: Meta, children: list[Token]) -> ast.Literal:
        return ast.Literal(self._string(children[0]), span=token_span(children[0]))

    def int_lit(self, meta: Meta, children: list[Token]) -> ast.Literal:
        return ast.Literal(int(children[0]), span=token_span(children[0]))

    def float_lit(self, meta: Meta, children: list[Token]) -> ast.Literal:
        return ast.Literal(float(children[0]), span=token_span(children[0]))

    def duration_lit(self, meta: Meta, children: list[Token]) -> ast.Duration:
        tok = children[0]
        seconds = parse_duration(str(tok))
        if seconds is None:
            self._error("F105", f"invalid duration '{tok}'", token_span(tok), DURATION_HINT)
            seconds = 0.0
        return ast.Duration(seconds, str(tok), span=token_span(tok))

    def true_lit(self, meta: Meta, children: list[Token]) -> ast.Literal:
        return ast.Literal(True, span=token_span(children[0]))

    def false_lit(self, meta: Meta, children: list[Token]) -> ast.Literal:
        return ast.Literal(False, span=token_span(children[0]))

    def none_lit(self, meta: Meta, children: list[Token]) -> ast.Literal:
        return ast.Literal(None, span=token_span(children[0]))

    def name_lit(self, meta: Meta, children: list[Token]) -> ast.Ref | ast.Placeholder:
        if str(children[0]) == "_":
            return ast.Placeholder(span=token_span(children[0]))
        return ast.Ref(str(children[0]), span=token_span(children[0]))

    def list_expr(self, meta: Meta, items: list[ast.Expr]) -> ast.ListExpr:
        return ast.ListExpr(tuple(items), span=meta_span(meta))

    def dict_expr(self, meta: Meta, pairs: list[tuple[str, ast.Expr]]) -> ast.DictExpr:
        return ast.DictExpr(tuple(pairs), span=meta_span(meta))

    def pair(self, meta: Meta, children: list[Any]) -> tuple[str, ast.Expr]:
        key: Token = children[0]
        text = self._string(key) if key.type == "STRING" else str(key)
        return (text, children[1])

    # ---- helpers --------------------------------------------------------------------

    def _string(self, tok: Token) -> str:
        value, error = decode_string(str(tok))
        if error is not None:
            offset, message = error
            col = (tok.column or 0) + offset
            span = ast.Span(tok.line or 0, col, tok.line or 0, col + 2)
            self._error(
                "F104", message, span,
                "valid escapes: \\n \\t \\r \\0 \\\\ \\\" \\' \\uXXXX",
            )
        return value

    def _check_unique_options(self, options: list[ast.Option]) -> None:
        seen: set[str] = set()
        for opt in options:
            if opt.key in seen:
                self._error("F111", f"option '{opt.key}' is given twice", opt.span)
            seen.add(opt.key)

    def _check_statement_lines(self, statements: tuple[ast.Statement, ...]) -> None:
        for before, after in itertools.pairwise(statements):
            if after.span.known and after.span.line == before.span.end_line:
                self._error(
                    "F108", "expected '->' or a new line between these steps", after.span,
                    "write 'a() -> b()' to chain them, or put each statement on its own line",
                )

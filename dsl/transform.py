"""Builds .flow AST nodes from grammar matches, one method per rule.

``ToAst`` is given to the LALR parser itself (``Lark(..., transformer=ToAst())``), so each rule
becomes an AST node the moment it is reduced: no parse tree is built and there is no second
pass. The parser keeps every token (``keep_all_tokens=True``) so that each method sees the
punctuation and keywords of its rule and computes its span from its first and last child,
exactly as lark's ``propagate_positions`` would. The same class also works as an ordinary
``Transformer`` over a tree built with ``keep_all_tokens=True`` (used for deeply nested input).

Problems that the grammar cannot express (bad durations, escapes, argument order, duplicates)
are collected as F1xx Diagnostics in the list that ``collecting()`` installs rather than
raised, so all are reported.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

from flowc.dsl import ast
from flowc.dsl.diagnostics import Diagnostic
from flowc.dsl.literals import DURATION_HINT, decode_string, parse_duration
from lark import Token, Transformer
from lark.tree import Meta

_Span = ast.Span
_NO_SPAN = ast.NO_SPAN
_DIAGNOSTICS: ContextVar[list[Diagnostic] | None] = ContextVar(
    "flowc_dsl_syntax_diagnostics", default=None
)


@contextmanager
def collecting() -> Iterator[list[Diagnostic]]:
    """Collect the diagnostics ``ToAst`` reports while the block runs into the yielded list."""
    sink: list[Diagnostic] = []
    token = _DIAGNOSTICS.set(sink)
    try:
        yield sink
    finally:
        _DIAGNOSTICS.reset(token)


def meta_span(meta: Meta) -> ast.Span:
    """The Span of a rule match (unknown for an empty match)."""
    if getattr(meta, "empty", True):
        return ast.NO_SPAN
    return ast.Span(meta.line, meta.column, meta.end_line, meta.end_column)


def token_span(tok: Token) -> ast.Span:
    """The Span of one token."""
    return _Span(tok.line or 0, tok.column or 0, tok.end_line or 0, tok.end_column or 0)


def _between(first: Token, last: Token) -> ast.Span:
    """From the start of token ``first`` to the end of token ``last``."""
    return _Span(first.line, first.column, last.end_line, last.end_column)  # type: ignore[arg-type]


def _token_to(first: Token, last: ast.Span) -> ast.Span:
    """From the start of token ``first`` to the end of ``last``."""
    return _Span(first.line, first.column, last.end_line, last.end_col)  # type: ignore[arg-type]


def _to(first: ast.Span, last: ast.Span) -> ast.Span:
    return _Span(first.line, first.col, last.end_line, last.end_col)


@dataclass(slots=True)
class _Args:
    """Positional and keyword arguments of a call, before they are placed on a node."""

    args: tuple[ast.Expr, ...] = ()
    kwargs: tuple[ast.Keyword, ...] = ()


_NO_ARGS = _Args()


@dataclass(slots=True)
class _Tagged:
    """A child that only its parent interprets: a type annotation, default, limit or handler."""

    tag: str
    value: Any
    span: ast.Span


@dataclass(slots=True)
class _Trigger:
    """A schedule trigger before it is placed on the Schedule node."""

    kind: str
    expr: str | ast.Duration
    tz: str | None


@dataclass(slots=True)
class _CallSite:
    """``name(args)`` before the step or map around it turns it into an ``ast.Call``."""

    name: Token
    args: _Args
    span: ast.Span


class ToAst(Transformer[Token, ast.Module]):
    """Builds AST nodes bottom-up and reports syntax-level diagnostics.

    Every method receives all children of its rule, tokens included (``keep_all_tokens``).
    """

    def __init__(self) -> None:
        super().__init__(visit_tokens=False)

    @staticmethod
    def _error(code: str, message: str, span: ast.Span, hint: str | None = None) -> None:
        sink = _DIAGNOSTICS.get()
        if sink is not None:
            sink.append(Diagnostic(code, message, span, hint))

    # ---- top level ------------------------------------------------------------------

    def module(self, items: list[Any]) -> ast.Module:
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
            span=_to(items[0].span, items[-1].span) if items else _NO_SPAN,
        )

    def use(self, children: list[Token]) -> ast.Use:
        # _USE STRING
        return ast.Use(self._string(children[1]), span=_between(children[0], children[1]))

    def defaults(self, children: list[Any]) -> ast.Defaults:
        # _DEFAULTS _LBRACE default_option* _RBRACE
        options: list[ast.Option] = children[2:-1]
        self._check_unique_options(options)
        return ast.Defaults(tuple(options), span=_between(children[0], children[-1]))

    def default_option(self, children: list[Any]) -> ast.Option:
        # option _COMMA (an option without the comma is passed through by lark)
        option: ast.Option = children[0]
        return option

    # ---- flows ----------------------------------------------------------------------

    def flow(self, children: list[Any]) -> ast.Flow:
        # _FLOW NAME params? body ; body is its own children: _LBRACE statement* _RBRACE
        name: Token = children[1]
        params: list[ast.Param] = children[2] if len(children) == 4 else []
        body: list[Any] = children[-1]
        handlers = []
        statements = []
        for s in itertools.islice(body, 1, len(body) - 1):
            if type(s) is _Tagged:
                handlers.append(s)
            else:
                statements.append(s)
        for extra in handlers[1:]:
            self._error(
                "F113", "more than one 'on error' handler in this flow", extra.span,
                "a flow has one handler; chain or group the handler steps instead",
            )
        statements_t = tuple(statements)
        self._check_statement_lines(statements_t)
        return ast.Flow(
            name=str(name),
            params=tuple(params),
            body=statements_t,
            on_error=handlers[0].value if handlers else None,
            name_span=token_span(name),
            span=_between(children[0], body[-1]),
        )

    def params(self, children: list[Any]) -> list[ast.Param]:
        # _LPAR (param (_COMMA param)* _COMMA?)? _RPAR
        params: list[ast.Param] = children[1:-1:2]
        seen: set[str] = set()
        for p in params:
            if p.name in seen:
                self._error("F112", f"parameter '{p.name}' is declared twice", p.span)
            seen.add(p.name)
        return params

    def param(self, children: list[Any]) -> ast.Param:
        # NAME annotation? default?
        name: Token = children[0]
        if len(children) == 1:
            return ast.Param(str(name), None, None, span=token_span(name))
        tagged = {t.tag: t.value for t in children[1:]}
        return ast.Param(
            str(name), tagged.get("type"), tagged.get("default"),
            span=_token_to(name, children[-1].span),
        )

    def annotation(self, children: list[Any]) -> _Tagged:
        # _COLON type_expr
        type_expr: _Tagged = children[1]
        return _Tagged("type", type_expr.value, _token_to(children[0], type_expr.span))

    def default(self, children: list[Any]) -> _Tagged:
        # _EQUAL value
        value: ast.Expr = children[1]
        return _Tagged("default", value, _token_to(children[0], value.span))

    def type_expr(self, children: list[Any]) -> _Tagged:
        # NAME (_LSQB type_expr (_COMMA type_expr)* _RSQB)?
        name: Token = children[0]
        if len(children) == 1:
            return _Tagged("type", str(name), token_span(name))
        args = ", ".join(t.value for t in children[2:-1:2])
        return _Tagged("type", f"{name}[{args}]", _between(name, children[-1]))

    def body(self, children: list[Any]) -> list[Any]:
        # _LBRACE statement* _RBRACE: the flow takes the statements and the closing brace
        return children

    def assign(self, children: list[Any]) -> ast.Assign:
        # NAME _EQUAL pipeline
        value: ast.Stage = children[2]
        return ast.Assign(str(children[0]), value, span=_token_to(children[0], value.span))

    def on_error(self, children: list[Any]) -> _Tagged:
        # _ON _ERROR _ARROW pipeline
        handler: ast.Stage = children[3]
        return _Tagged("on_error", handler, _token_to(children[0], handler.span))

    def pipeline(self, children: list[Any]) -> ast.Stage:
        # stage (_ARROW stage)*
        if len(children) == 1:
            stage: ast.Stage = children[0]
            return stage
        stages = tuple(children[::2])
        return ast.Chain(stages, span=_to(stages[0].span, stages[-1].span))

    # ---- stages ---------------------------------------------------------------------

    def step(self, children: list[Any]) -> ast.Call:
        # BANG? call options?
        first = children[0]
        immutable = type(first) is Token
        call: _CallSite = children[1] if immutable else first
        last = children[-1]
        options: tuple[ast.Option, ...] = last if type(last) is tuple else ()
        start = first.line if immutable else call.span.line
        start_col = first.column if immutable else call.span.col
        end = options[-1].span if options else call.span
        return ast.Call(
            str(call.name), call.args.args, call.args.kwargs, options, immutable,
            name_span=token_span(call.name),
            span=_Span(start, start_col, end.end_line, end.end_col),
        )

    def call(self, children: list[Any]) -> _CallSite:
        # NAME _LPAR arguments? _RPAR
        name: Token = children[0]
        args = children[2] if len(children) == 4 else _NO_ARGS
        return _CallSite(name, args, _between(name, children[-1]))

    def options(self, children: list[Any]) -> tuple[ast.Option, ...]:
        # _WITH option (_COMMA option)*
        options: list[ast.Option] = children[1::2]
        self._check_unique_options(options)
        return tuple(options)

    def option(self, children: list[Any]) -> ast.Option:
        # NAME _EQUAL option_value
        value: ast.Expr = children[2]
        return ast.Option(str(children[0]), value, span=_token_to(children[0], value.span))

    def group(self, children: list[Any]) -> ast.Group:
        # _LSQB (group_item (_COMMA group_item)* _COMMA?)? _RSQB
        return ast.Group(tuple(children[1:-1:2]), span=_between(children[0], children[-1]))

    def group_item(self, children: list[Any]) -> ast.Stage:
        # _LPAR pipeline _RPAR (a bare pipeline is passed through by lark)
        item: ast.Stage = children[1]
        return item

    def comprehension(self, children: list[Any]) -> ast.Comprehension:
        # _LSQB pipeline _FOR NAME _IN iterable _RSQB
        return ast.Comprehension(
            children[1], str(children[3]), children[5],
            span=_between(children[0], children[-1]),
        )

    def range_expr(self, children: list[Any]) -> ast.Range:
        # _RANGE _LPAR arguments? _RPAR
        span = _between(children[0], children[-1])
        args: _Args = children[2] if len(children) == 4 else _NO_ARGS
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

    def map_stage(self, children: list[Any]) -> ast.Map:
        # _MAP call map_limit? options?
        call: _CallSite = children[1]
        limit = None
        last = children[-1]
        options: tuple[ast.Option, ...] = last if type(last) is tuple else ()
        for c in children[2:]:
            if type(c) is _Tagged:
                limit = c.value
                break
        if options:
            end = options[-1].span
        elif limit is not None:
            end = children[2].span
        else:
            end = call.span
        node = ast.Call(
            str(call.name), call.args.args, call.args.kwargs, options,
            name_span=token_span(call.name), span=call.span,
        )
        return ast.Map(node, limit, span=_token_to(children[0], end))

    def map_limit(self, children: list[Token]) -> _Tagged:
        # _MAX INT
        tok = children[1]
        value = int(tok)
        if value <= 0:
            self._error(
                "F116", f"map width must be a positive integer, not {value}",
                token_span(tok), "write e.g. 'map step() max 100'",
            )
        return _Tagged("max", value, _between(children[0], tok))

    def ref(self, children: list[Token]) -> ast.Ref:
        # NAME
        return ast.Ref(str(children[0]), span=token_span(children[0]))

    # ---- schedules ------------------------------------------------------------------

    def schedule(self, children: list[Any]) -> ast.Schedule:
        # _SCHEDULE NAME _EQUAL trigger _ARROW pipeline
        name: Token = children[1]
        trigger: _Trigger = children[3]
        target: ast.Stage = children[5]
        kind: Literal["cron", "every"] = "cron" if trigger.kind == "cron" else "every"
        return ast.Schedule(
            str(name), kind, trigger.expr, target, trigger.tz,
            span=_token_to(children[0], target.span),
        )

    def cron_trigger(self, children: list[Token]) -> _Trigger:
        # _CRON STRING (_TZ STRING)?
        tz = self._string(children[3]) if len(children) > 2 else None
        return _Trigger("cron", self._string(children[1]), tz)

    def every_trigger(self, children: list[Token]) -> _Trigger:
        # _EVERY DURATION
        return _Trigger("every", self._duration(children[1]), None)

    # ---- arguments and values ---------------------------------------------------------

    def arguments(self, children: list[Any]) -> _Args:
        # argument (_COMMA argument)* _COMMA?
        args: list[ast.Expr] = []
        kwargs: list[ast.Keyword] = []
        for item in itertools.islice(children, 0, None, 2):
            if type(item) is ast.Keyword:
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

    def kwarg(self, children: list[Any]) -> ast.Keyword:
        # NAME _EQUAL value
        value: ast.Expr = children[2]
        return ast.Keyword(str(children[0]), value, span=_token_to(children[0], value.span))

    def func(self, children: list[Any]) -> ast.Func:
        # NAME _LPAR arguments? _RPAR
        args: _Args = children[2] if len(children) == 4 else _NO_ARGS
        return ast.Func(
            str(children[0]), args.args, args.kwargs, span=_between(children[0], children[-1])
        )

    def string_lit(self, children: list[Token]) -> ast.Literal:
        return ast.Literal(self._string(children[0]), span=token_span(children[0]))

    def int_lit(self, children: list[Token]) -> ast.Literal:
        return ast.Literal(int(children[0]), span=token_span(children[0]))

    def float_lit(self, children: list[Token]) -> ast.Literal:
        return ast.Literal(float(children[0]), span=token_span(children[0]))

    def duration_lit(self, children: list[Token]) -> ast.Duration:
        return self._duration(children[0])

    def true_lit(self, children: list[Token]) -> ast.Literal:
        return ast.Literal(True, span=token_span(children[0]))

    def false_lit(self, children: list[Token]) -> ast.Literal:
        return ast.Literal(False, span=token_span(children[0]))

    def none_lit(self, children: list[Token]) -> ast.Literal:
        return ast.Literal(None, span=token_span(children[0]))

    def name_lit(self, children: list[Token]) -> ast.Ref | ast.Placeholder:
        if str(children[0]) == "_":
            return ast.Placeholder(span=token_span(children[0]))
        return ast.Ref(str(children[0]), span=token_span(children[0]))

    def list_expr(self, children: list[Any]) -> ast.ListExpr:
        # _LSQB (value (_COMMA value)* _COMMA?)? _RSQB
        return ast.ListExpr(tuple(children[1:-1:2]), span=_between(children[0], children[-1]))

    def dict_expr(self, children: list[Any]) -> ast.DictExpr:
        # _LBRACE (pair (_COMMA pair)* _COMMA?)? _RBRACE
        return ast.DictExpr(tuple(children[1:-1:2]), span=_between(children[0], children[-1]))

    def pair(self, children: list[Any]) -> tuple[str, ast.Expr]:
        # (NAME | STRING) _COLON value
        key: Token = children[0]
        text = self._string(key) if key.type == "STRING" else str(key)
        return (text, children[2])

    # ---- helpers --------------------------------------------------------------------

    def _duration(self, tok: Token) -> ast.Duration:
        seconds = parse_duration(str(tok))
        if seconds is None:
            self._error("F105", f"invalid duration '{tok}'", token_span(tok), DURATION_HINT)
            seconds = 0.0
        return ast.Duration(seconds, str(tok), span=token_span(tok))

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
        if len(options) < 2:
            return
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

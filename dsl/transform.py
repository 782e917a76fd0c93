"""Builds .flow AST nodes from grammar matches, one method per rule.

``ToAst`` is given to the LALR parser itself (``Lark(..., transformer=ToAst())``), so each rule
becomes an AST node the moment it is reduced: no parse tree is built and there is no second
pass. The parser keeps every token (``keep_all_tokens=True``) so that each method sees the
punctuation and keywords of its rule and computes its span from its first and last child,
exactly as lark's ``propagate_positions`` would. The same class also works as an ordinary
``Transformer`` over a tree built with ``keep_all_tokens=True`` (used for deeply nested input).

The rules live in three places: this module has the top level (module, ``use``, ``defaults``,
flows and their parameters, statements, schedules); :mod:`transform_stages` the pipelines and
their stages; :mod:`transform_values` arguments and values. :mod:`transform_base` holds what
they share: ``collecting()``, the list that receives the F1xx Diagnostics rules report (the
problems the grammar cannot express, so that all are reported rather than the first raised).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Literal

from flowc.dsl import ast
from flowc.dsl.spans import between, span_to, token_span, token_to
from flowc.dsl.transform_base import RuleBase, Tagged
from flowc.dsl.transform_stages import StageRules
from flowc.dsl.transform_values import ValueRules
from lark import Token, Transformer

_NO_SPAN = ast.NO_SPAN


@dataclass(slots=True)
class _Trigger:
    """A schedule trigger before it is placed on the Schedule node."""

    kind: str
    expr: str | ast.Duration
    tz: str | None
    expr_span: ast.Span = _NO_SPAN
    tz_span: ast.Span = _NO_SPAN


class ToAst(StageRules, ValueRules, RuleBase, Transformer[Token, ast.Module]):
    """Builds AST nodes bottom-up and reports syntax-level diagnostics.

    Every method receives all children of its rule, tokens included (``keep_all_tokens``).
    """

    def __init__(self) -> None:
        super().__init__(visit_tokens=False)

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
            span=span_to(items[0].span, items[-1].span) if items else _NO_SPAN,
        )

    def use(self, children: list[Token]) -> ast.Use:
        # _USE STRING
        return ast.Use(self._string(children[1]), span=between(children[0], children[1]))

    def defaults(self, children: list[Any]) -> ast.Defaults:
        # _DEFAULTS _LBRACE default_option* _RBRACE
        options: list[ast.Option] = children[2:-1]
        self._check_unique_options(options)
        return ast.Defaults(tuple(options), span=between(children[0], children[-1]))

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
            if type(s) is Tagged:
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
            span=between(children[0], body[-1]),
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
            span=token_to(name, children[-1].span),
        )

    def annotation(self, children: list[Any]) -> Tagged:
        # _COLON type_expr
        type_expr: Tagged = children[1]
        return Tagged("type", type_expr.value, token_to(children[0], type_expr.span))

    def default(self, children: list[Any]) -> Tagged:
        # _EQUAL value
        value: ast.Expr = children[1]
        return Tagged("default", value, token_to(children[0], value.span))

    def type_expr(self, children: list[Any]) -> Tagged:
        # NAME (_LSQB type_expr (_COMMA type_expr)* _RSQB)?
        name: Token = children[0]
        if len(children) == 1:
            return Tagged("type", str(name), token_span(name))
        args = ", ".join(t.value for t in children[2:-1:2])
        return Tagged("type", f"{name}[{args}]", between(name, children[-1]))

    def body(self, children: list[Any]) -> list[Any]:
        # _LBRACE statement* _RBRACE: the flow takes the statements and the closing brace
        return children

    def assign(self, children: list[Any]) -> ast.Assign:
        # NAME _EQUAL pipeline
        value: ast.Stage = children[2]
        return ast.Assign(str(children[0]), value, span=token_to(children[0], value.span))

    def on_error(self, children: list[Any]) -> Tagged:
        # _ON _ERROR _ARROW pipeline
        handler: ast.Stage = children[3]
        return Tagged("on_error", handler, token_to(children[0], handler.span))

    def _check_statement_lines(self, statements: tuple[ast.Statement, ...]) -> None:
        for before, after in itertools.pairwise(statements):
            if after.span.known and after.span.line == before.span.end_line:
                self._error(
                    "F108", "expected '->' or a new line between these steps", after.span,
                    "write 'a() -> b()' to chain them, or put each statement on its own line",
                )

    # ---- schedules ------------------------------------------------------------------

    def schedule(self, children: list[Any]) -> ast.Schedule:
        # _SCHEDULE NAME _EQUAL trigger _ARROW pipeline
        name: Token = children[1]
        trigger: _Trigger = children[3]
        target: ast.Stage = children[5]
        kind: Literal["cron", "every"] = "cron" if trigger.kind == "cron" else "every"
        return ast.Schedule(
            str(name), kind, trigger.expr, target, trigger.tz,
            span=token_to(children[0], target.span), expr_span=trigger.expr_span,
            tz_span=trigger.tz_span,
        )

    def cron_trigger(self, children: list[Token]) -> _Trigger:
        # _CRON STRING (_TZ STRING)?
        expr = self._string(children[1])
        tz = self._string(children[3]) if len(children) > 2 else None
        tz_span = _text_span(children[3], tz) if tz is not None else _NO_SPAN
        return _Trigger("cron", expr, tz, _text_span(children[1], expr), tz_span)

    def every_trigger(self, children: list[Token]) -> _Trigger:
        # _EVERY DURATION
        return _Trigger("every", self._duration(children[1]), None)


def _text_span(tok: Token, text: str) -> ast.Span:
    """The span of a string literal's text inside its quotes when it is written without escapes
    (one source column per character), else of the whole literal."""
    span = token_span(tok)
    if span.line == span.end_line and span.end_col - span.col == len(text) + 2:
        return ast.Span(span.line, span.col + 1, span.line, span.end_col - 1)
    return span

"""``ToAst`` rules for pipelines and their stages: steps, options, groups, maps, references."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from flowc.dsl import ast
from flowc.dsl.spans import between, span_to, token_span, token_to
from flowc.dsl.transform_base import NO_ARGS, Args, RuleBase, Tagged
from lark import Token

_Span = ast.Span
_intern = sys.intern  # a flow calls few tasks many times: one string per name, not per call


@dataclass(slots=True)
class _CallSite:
    """``name(args)`` before the step or map around it turns it into an ``ast.Call``."""

    name: Token
    args: Args
    span: ast.Span


class StageRules(RuleBase):
    """Rule methods for ``pipeline`` and the ``?stage`` alternatives, with their options."""

    def pipeline(self, children: list[Any]) -> ast.Stage:
        # stage (_ARROW stage)*
        if len(children) == 1:
            stage: ast.Stage = children[0]
            return stage
        stages = tuple(children[::2])
        return ast.Chain(stages, span=span_to(stages[0].span, stages[-1].span))

    def step(self, children: list[Any]) -> ast.Call:
        # BANG? call options?
        first = children[0]
        immutable = type(first) is Token
        call: _CallSite = children[1] if immutable else first
        last = children[-1]
        options: tuple[ast.Option, ...] = last if type(last) is tuple else ()
        if immutable or options:
            start = first.line if immutable else call.span.line
            start_col = first.column if immutable else call.span.col
            end = options[-1].span if options else call.span
            span = _Span(start, start_col, end.end_line, end.end_col)
        else:
            span = call.span  # a bare call (most steps): the same span, not a copy
        return ast.Call(
            _intern(str(call.name)), call.args.args, call.args.kwargs, options, immutable,
            name_span=token_span(call.name), span=span,
        )

    def call(self, children: list[Any]) -> _CallSite:
        # NAME _LPAR arguments? _RPAR
        name: Token = children[0]
        args = children[2] if len(children) == 4 else NO_ARGS
        return _CallSite(name, args, between(name, children[-1]))

    def options(self, children: list[Any]) -> tuple[ast.Option, ...]:
        # _WITH option (_COMMA option)*
        options: list[ast.Option] = children[1::2]
        self._check_unique_options(options)
        return tuple(options)

    def option(self, children: list[Any]) -> ast.Option:
        # NAME _EQUAL option_value
        value: ast.Expr = children[2]
        return ast.Option(str(children[0]), value, span=token_to(children[0], value.span))

    def group(self, children: list[Any]) -> ast.Group:
        # _LSQB (group_item (_COMMA group_item)* _COMMA?)? _RSQB
        return ast.Group(tuple(children[1:-1:2]), span=between(children[0], children[-1]))

    def group_item(self, children: list[Any]) -> ast.Stage:
        # _LPAR pipeline _RPAR (a bare pipeline is passed through by lark)
        item: ast.Stage = children[1]
        return item

    def comprehension(self, children: list[Any]) -> ast.Comprehension:
        # _LSQB pipeline _FOR NAME _IN iterable _RSQB
        return ast.Comprehension(
            children[1], str(children[3]), children[5],
            span=between(children[0], children[-1]),
        )

    def range_expr(self, children: list[Any]) -> ast.Range:
        # _RANGE _LPAR arguments? _RPAR
        span = between(children[0], children[-1])
        args: Args = children[2] if len(children) == 4 else NO_ARGS
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
            if type(c) is Tagged:
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
        return ast.Map(node, limit, span=token_to(children[0], end))

    def map_limit(self, children: list[Token]) -> Tagged:
        # _MAX INT
        tok = children[1]
        value = int(tok)
        if value <= 0:
            self._error(
                "F116", f"map width must be a positive integer, not {value}",
                token_span(tok), "write e.g. 'map step() max 100'",
            )
        return Tagged("max", value, between(children[0], tok))

    def ref(self, children: list[Token]) -> ast.Ref:
        # NAME
        return ast.Ref(str(children[0]), span=token_span(children[0]))

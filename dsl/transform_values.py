"""``ToAst`` rules for arguments and values: calls' arguments, literals, lists and dicts."""

from __future__ import annotations

import itertools
from typing import Any

from flowc.dsl import ast
from flowc.dsl.spans import between, token_span, token_to
from flowc.dsl.transform_base import NO_ARGS, Args, RuleBase
from lark import Token


class ValueRules(RuleBase):
    """Rule methods for ``arguments``, ``kwarg``, ``func`` and the ``?value`` alternatives."""

    def arguments(self, children: list[Any]) -> Args:
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
        return Args(tuple(args), tuple(kwargs))

    def kwarg(self, children: list[Any]) -> ast.Keyword:
        # NAME _EQUAL value
        value: ast.Expr = children[2]
        return ast.Keyword(str(children[0]), value, span=token_to(children[0], value.span))

    def func(self, children: list[Any]) -> ast.Func:
        # NAME _LPAR arguments? _RPAR
        args: Args = children[2] if len(children) == 4 else NO_ARGS
        return ast.Func(
            str(children[0]), args.args, args.kwargs, span=between(children[0], children[-1])
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
        return ast.ListExpr(tuple(children[1:-1:2]), span=between(children[0], children[-1]))

    def dict_expr(self, children: list[Any]) -> ast.DictExpr:
        # _LBRACE (pair (_COMMA pair)* _COMMA?)? _RBRACE
        return ast.DictExpr(tuple(children[1:-1:2]), span=between(children[0], children[-1]))

    def pair(self, children: list[Any]) -> tuple[str, ast.Expr]:
        # (NAME | STRING) _COLON value
        key: Token = children[0]
        text = self._string(key) if key.type == "STRING" else str(key)
        return (text, children[2])

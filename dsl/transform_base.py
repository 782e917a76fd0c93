"""What every ``ToAst`` rule method shares: where diagnostics go, token decoding, carriers.

Rule methods report problems the grammar cannot express (bad durations and escapes, argument
order, duplicates) as F1xx Diagnostics into the list that :func:`collecting` installs, rather
than raising, so that every problem in a file is reported. The small dataclasses here carry a
rule's result to the parent rule that turns it into an AST node.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from flowc.dsl import ast
from flowc.dsl.diagnostics import Diagnostic
from flowc.dsl.literals import DURATION_HINT, decode_string, parse_duration
from flowc.dsl.spans import token_span
from lark import Token

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


@dataclass(slots=True)
class Args:
    """Positional and keyword arguments of a call, before they are placed on a node."""

    args: tuple[ast.Expr, ...] = ()
    kwargs: tuple[ast.Keyword, ...] = ()


NO_ARGS = Args()


@dataclass(slots=True)
class Tagged:
    """A child that only its parent interprets: a type annotation, default, limit or handler."""

    tag: str
    value: Any
    span: ast.Span


class RuleBase:
    """Reporting and token decoding for the rule methods of ``ToAst`` and its mixins."""

    @staticmethod
    def _error(code: str, message: str, span: ast.Span, hint: str | None = None) -> None:
        sink = _DIAGNOSTICS.get()
        if sink is not None:
            sink.append(Diagnostic(code, message, span, hint))

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

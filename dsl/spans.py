"""Source spans of tokens and of the rule matches between them, as ``ast.Span`` values.

Lark positions are 1-based with an exclusive end column, the same convention as ``ast.Span``.
"""

from __future__ import annotations

from flowc.dsl import ast
from lark import Token

_Span = ast.Span


def token_span(tok: Token) -> ast.Span:
    """The Span of one token."""
    return _Span(tok.line or 0, tok.column or 0, tok.end_line or 0, tok.end_column or 0)


def between(first: Token, last: Token) -> ast.Span:
    """From the start of token ``first`` to the end of token ``last``."""
    return _Span(first.line, first.column, last.end_line, last.end_column)  # type: ignore[arg-type]


def token_to(first: Token, last: ast.Span) -> ast.Span:
    """From the start of token ``first`` to the end of ``last``."""
    return _Span(first.line, first.column, last.end_line, last.end_col)  # type: ignore[arg-type]


def span_to(first: ast.Span, last: ast.Span) -> ast.Span:
    """From the start of ``first`` to the end of ``last``."""
    return _Span(first.line, first.col, last.end_line, last.end_col)

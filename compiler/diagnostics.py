"""Compiler findings as data: a ``Diagnostic`` per finding, a ``CompileError`` carrying them all.

Passes never raise on a user mistake; they return ``Diagnostic`` values (the front ends' type,
made with :func:`finding`) so that every mistake in a workflow is reported at once.
``CompileError`` is what :func:`flowc.compiler.validate.check` raises when the list is not empty.
A finding keeps the IR node's id and source span, so the ``.flow`` renderer can point at the line.

Error codes are shared with the ``.flow`` front end (``flowc.dsl.codes``): F2xx names, F3xx
arity, F4xx options. ``F210`` and ``F310`` are the compiler's own (IR-level) additions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from flowc.dsl.ast import NO_SPAN, Span
from flowc.dsl.diagnostics import Diagnostic
from flowc.dsl.errors import FlowcError

UNKNOWN_TASK = "F201"
CYCLE = "F209"
MALFORMED = "F210"
"""The IR itself is malformed: duplicate id, dangling reference, map without a list."""
TOO_MANY_ARGUMENTS = "F301"
MISSING_ARGUMENT = "F302"
UNKNOWN_KEYWORD = "F303"
DUPLICATE_ARGUMENT = "F304"
NOT_SERIALISABLE = "F310"
"""An argument, option or map item cannot be sent as JSON."""
UNKNOWN_OPTION = "F401"
BAD_OPTION = "F402"
EXCLUSIVE_OPTIONS = "F403"
BAD_RATE_LIMIT = "F406"
BAD_PRIORITY = "F407"
BAD_DURATION = "F409"

MAX_LISTED = 20
"""How many problems a ``CompileError`` message lists before "... and N more"."""


class Positioned(Protocol):
    """A source range: the IR's ``SourceSpan`` or the AST's ``Span`` (1-based, end exclusive)."""

    @property
    def line(self) -> int: ...
    @property
    def col(self) -> int: ...
    @property
    def end_line(self) -> int: ...
    @property
    def end_col(self) -> int: ...


def finding(
    code: str,
    message: str,
    hint: str | None = None,
    node: str | None = None,
    span: Positioned | None = None,
) -> Diagnostic:
    """A pass's finding on IR node ``node``, at that node's source span when it has one."""
    return Diagnostic(code, message, to_span(span), hint, node=node)


def to_span(span: Positioned | None) -> Span:
    """An IR ``SourceSpan`` (or an ``ast.Span``) as an ``ast.Span``; unknown when absent."""
    if span is None:
        return NO_SPAN
    if isinstance(span, Span):
        return span
    return Span(span.line, span.col, span.end_line, span.end_col)


class CompileError(FlowcError):
    """Raised when a workflow fails validation; ``problems`` lists every finding, in pass order."""

    def __init__(self, problems: Sequence[Diagnostic]) -> None:
        self.problems: tuple[Diagnostic, ...] = tuple(problems)
        super().__init__(format_problems(self.problems))


class CanvasError(FlowcError):
    """Raised when a canvas is built or used wrongly (an error in the Python code itself)."""


def format_problems(problems: Sequence[Diagnostic], limit: int = MAX_LISTED) -> str:
    """Render problems one per line, capped at ``limit`` with an "... and N more" line."""
    count = len(problems)
    noun = "problem" if count == 1 else "problems"
    lines = [f"workflow has {count} {noun}:"]
    lines.extend(f"  {p}" for p in problems[:limit])
    if count > limit:
        lines.append(f"  ... and {count - limit} more")
    return "\n".join(lines)


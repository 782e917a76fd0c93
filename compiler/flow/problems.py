"""IR ``Problem``\\ s as ``.flow`` ``Diagnostic``\\ s, pointing at the call that made the node.

The IR passes report problems by node id; the ``.flow`` lowering knows which call each node came
from (the span of the task's name), so a problem found on the IR is shown on the source line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from flowc.compiler.diagnostics import Problem
from flowc.compiler.ir import SourceSpan
from flowc.dsl import ast
from flowc.dsl.diagnostics import Diagnostic

_UNEXPECTED_KEYWORD = re.compile(r"unexpected keyword argument '([^']*)'")


def to_span(span: object) -> ast.Span:
    """A ``SourceSpan`` (or ``ast.Span``) as an ``ast.Span``; unknown when absent."""
    if isinstance(span, ast.Span):
        return span
    if isinstance(span, SourceSpan):
        return ast.Span(span.line, span.col, span.end_line, span.end_col)
    return ast.NO_SPAN


def problem_to_diagnostic(
    problem: Problem, name_spans: Mapping[str, ast.Span] | None = None,
    keyword_spans: Mapping[tuple[str, str], ast.Span] | None = None,
) -> Diagnostic:
    """One problem as a diagnostic; ``name_spans`` maps node ids to the task name's span,
    ``keyword_spans`` (node id, keyword) to the keyword's (an unknown keyword points there)."""
    span = (name_spans or {}).get(problem.node or "") or to_span(problem.span)
    bad = _UNEXPECTED_KEYWORD.search(problem.message)
    if bad and problem.node and keyword_spans:
        span = keyword_spans.get((problem.node, bad.group(1)), span)
    return Diagnostic(problem.code, problem.message, span, problem.hint)


def problems_to_diagnostics(
    problems: Iterable[Problem], name_spans: Mapping[str, ast.Span] | None = None,
    keyword_spans: Mapping[tuple[str, str], ast.Span] | None = None,
) -> list[Diagnostic]:
    return [problem_to_diagnostic(p, name_spans, keyword_spans) for p in problems]

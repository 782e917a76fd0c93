"""IR findings pointed at the ``.flow`` call that made the node.

The IR passes report problems by node id, at the IR node's span; the ``.flow`` lowering knows
which call each node came from (the span of the task's name), so a problem found on the IR is
shown on the task's name in the source line.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping

from flowc.dsl import ast
from flowc.dsl.diagnostics import Diagnostic

_UNEXPECTED_KEYWORD = re.compile(r"unexpected keyword argument '([^']*)'")


def problem_to_diagnostic(
    problem: Diagnostic, name_spans: Mapping[str, ast.Span] | None = None,
    keyword_spans: Mapping[tuple[str, str], ast.Span] | None = None,
) -> Diagnostic:
    """A finding at its task name's span (``name_spans`` maps node ids to it), or at the
    keyword's for an unknown keyword (``keyword_spans`` maps (node id, keyword) to it)."""
    span = (name_spans or {}).get(problem.node or "") or problem.span
    bad = _UNEXPECTED_KEYWORD.search(problem.message)
    if bad and problem.node and keyword_spans:
        span = keyword_spans.get((problem.node, bad.group(1)), span)
    return dataclasses.replace(problem, span=span)


def problems_to_diagnostics(
    problems: Iterable[Diagnostic], name_spans: Mapping[str, ast.Span] | None = None,
    keyword_spans: Mapping[tuple[str, str], ast.Span] | None = None,
) -> list[Diagnostic]:
    """Each finding placed on the source, as ``problem_to_diagnostic`` does."""
    return [problem_to_diagnostic(p, name_spans, keyword_spans) for p in problems]

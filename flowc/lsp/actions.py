"""Did-you-mean fixes: for every diagnostic whose hint suggests a name, where the misspelt
name is written and what replaces it (the editor's quick fix)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from flowc.dsl import ast
from flowc.dsl.diagnostics import Diagnostic

_SUGGESTION = re.compile(r"did you mean '([^']+)'\?")
_QUOTED = re.compile(r"'([^'\n]+)'|\"([^\"\n]+)\"")


@dataclass(frozen=True)
class Fix:
    """Replace ``old`` at ``span`` by ``new``, fixing ``diagnostic``."""

    diagnostic: Diagnostic
    span: ast.Span
    old: str
    new: str


def fixes(diagnostics: tuple[Diagnostic, ...], module: ast.Module | None,
          lines: list[str]) -> Iterator[Fix]:
    """The fix of each diagnostic that has one."""
    calls = _calls_by_name_span(module)
    for d in diagnostics:
        fix = fix_for(d, lines, calls.get(d.span))
        if fix is not None:
            yield fix


def fix_for(d: Diagnostic, lines: list[str], call_span: ast.Span | None = None) -> Fix | None:
    """The fix of ``d``: its message quotes the misspelt word, its hint the suggestion.

    The word is looked for in the diagnostic's span, or in the whole call when the span is
    the task's name (an unknown keyword argument is reported on the task).
    """
    m = _SUGGESTION.search(d.hint or "")
    if m is None or not d.span.known:
        return None
    new = m.group(1)
    quoted = {a or b for a, b in _QUOTED.findall(d.message)} - {new}
    ranked = sorted(quoted, key=lambda w: -difflib.SequenceMatcher(None, w, new).ratio())
    for word in ranked:
        for region in (d.span, call_span):
            at = _find(word, region, lines) if region is not None else None
            if at is not None:
                return Fix(d, at, word, new)
    return None


def _find(word: str, region: ast.Span, lines: list[str]) -> ast.Span | None:
    pattern = re.compile(r"(?<![A-Za-z0-9_])" + re.escape(word) + r"(?![A-Za-z0-9_])")
    last = min(region.end_line, len(lines))
    for line in range(region.line, last + 1):
        text = lines[line - 1]
        start = region.col - 1 if line == region.line else 0
        end = region.end_col - 1 if line == region.end_line else len(text)
        m = pattern.search(text, start, end)
        if m is not None:
            return ast.Span(line, m.start() + 1, line, m.end() + 1)
    return None


def _calls_by_name_span(module: ast.Module | None) -> dict[ast.Span, ast.Span]:
    if module is None:
        return {}
    return {n.name_span: n.span for n in ast.walk(module) if isinstance(n, ast.Call)}

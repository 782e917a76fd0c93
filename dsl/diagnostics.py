"""Diagnostics as data, and the pure functions that render them as compiler-style text.

``render`` gives ``file:line:col: error F201: message``, the source line, a caret line and
an optional hint; tests compare its output to exact golden strings.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from flowc.dsl.ast import Span

Severity = Literal["error", "warning", "note"]

DEFAULT_LIMIT = 20


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a source file: code (see ``codes.py``), message, where, and a hint."""

    code: str
    message: str
    span: Span
    hint: str | None = None
    severity: Severity = "error"


def render(diag: Diagnostic, source: str, filename: str) -> str:
    """Render ``diag`` against ``source``: header, the source line with carets, and the hint."""
    return _render(diag, source.split("\n"), filename)


def _render(diag: Diagnostic, source_lines: list[str], filename: str) -> str:
    """``render`` with the source already split into lines (split once for many diagnostics)."""
    span = diag.span
    header = f"{filename}:{span.line}:{span.col}: {diag.severity} {diag.code}: {diag.message}"
    if not span.known:
        header = f"{filename}: {diag.severity} {diag.code}: {diag.message}"
    lines = [header]
    if span.known and 0 < span.line <= len(source_lines) + 1:
        text = source_lines[span.line - 1] if span.line <= len(source_lines) else ""
        text = text.rstrip().replace("\r", "")
        gutter = " " * len(str(span.line))
        lines.append(f"{gutter} |")
        lines.append(f"{span.line} | {text}".rstrip())
        lines.append(f"{gutter} | {_caret_line(text, span)}")
    if diag.hint:
        pad = " " * len(str(span.line)) if span.known else ""
        lines.append(f"{pad} = hint: {diag.hint}")
    return "\n".join(lines)


def _caret_line(text: str, span: Span) -> str:
    """Spaces up to the column (tabs kept so carets line up), then one caret per character."""
    start = span.col - 1
    end = span.end_col - 1 if span.end_line == span.line else len(text)
    end = max(end, start + 1)
    prefix = "".join("\t" if ch == "\t" else " " for ch in text[:start])
    prefix += " " * max(0, start - len(text))
    return prefix + "^" * (end - start)


def render_all(
    diags: Sequence[Diagnostic], source: str, filename: str, limit: int = DEFAULT_LIMIT
) -> str:
    """Render diagnostics in source order, at most ``limit``, then "… and N more"."""
    ordered = sort_diagnostics(diags)
    source_lines = source.split("\n")
    shown = [_render(d, source_lines, filename) for d in ordered[:limit]]
    if len(ordered) > limit:
        shown.append(f"… and {len(ordered) - limit} more")
    return "\n\n".join(shown)


def sort_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics ordered by position, then code (stable for equal keys)."""
    return sorted(diags, key=lambda d: (d.span.line, d.span.col, d.code))


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``name`` (difflib), or None when nothing is close enough."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean_hint(name: str, candidates: Iterable[str]) -> str | None:
    """A ready-made hint ``did you mean 'x'?`` or None."""
    match = did_you_mean(name, candidates)
    return f"did you mean '{match}'?" if match else None

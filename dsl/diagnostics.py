"""Diagnostics as data, and the pure functions that render them as compiler-style text.

``Diagnostic`` is flowc's one type for a problem in a user's workflow: the ``.flow``/YAML front
ends and the compiler's passes (``flowc.compiler.checks``, which also fill ``node``) all report
with it. ``render`` gives ``file:line:col: error F201: message``, the source line, a caret line
and an optional hint; tests compare its output to exact golden strings. ``did_you_mean`` is the
one closest-name suggestion for every layer.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from flowc.dsl.ast import NO_SPAN, Span

Severity = Literal["error", "warning", "note"]

DEFAULT_LIMIT = 20


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem: code (see ``codes.py``), message, where, and a hint.

    ``span`` is unknown (``NO_SPAN``) for a Python canvas; ``node`` is the id of the IR node a
    compiler pass found the problem on (``None`` for the front ends' findings).
    """

    code: str
    message: str
    span: Span = NO_SPAN
    hint: str | None = None
    severity: Severity = "error"
    node: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        """One line without the source: ``F201 node: message (hint)``."""
        where = f"{self.node}: " if self.node else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{self.code} {where}{self.message}{hint}"

    def __post_init__(self) -> None:
        # A name or value pasted into a message is capped, whatever its length in the source.
        if len(self.message) > MAX_WORD:
            object.__setattr__(self, "message", cap_words(self.message))
        if self.hint is not None and len(self.hint) > MAX_WORD:
            object.__setattr__(self, "hint", cap_words(self.hint))


MAX_WORD = 80
"""Longest word (name, number, string) shown whole in a diagnostic; longer ones are cut."""
_LONG_WORD = re.compile(r"[^\s'\"()\[\]{},]{" + str(MAX_WORD + 1) + ",}")
MAX_SHOWN_LINE = 160
"""Longest source line shown whole under a diagnostic; longer ones are shown around the caret."""


def cap_words(text: str) -> str:
    """``text`` with every word longer than ``MAX_WORD`` cut to its start and its length."""
    return _LONG_WORD.sub(lambda m: f"{m.group()[:40]}…({len(m.group()):,} characters)", text)


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
        text, span = _shown(text.rstrip().replace("\r", ""), span)
        gutter = " " * len(str(span.line))
        lines.append(f"{gutter} |")
        lines.append(f"{span.line} | {text}".rstrip())
        lines.append(f"{gutter} | {_caret_line(text, span)}")
    if diag.hint:
        pad = " " * len(str(span.line)) if span.known else ""
        lines.append(f"{pad} = hint: {diag.hint}")
    return "\n".join(lines)


def _shown(text: str, span: Span) -> tuple[str, Span]:
    """The source line as shown: control characters as '�' (one column each, so carets still
    line up), and a line longer than ``MAX_SHOWN_LINE`` cut to a window around the span."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() or c == "\t" else "\ufffd" for c in text)
    if len(text) <= MAX_SHOWN_LINE:
        return text, span
    start = 0 if span.col <= MAX_SHOWN_LINE // 2 else span.col - 1 - 20
    end = start + MAX_SHOWN_LINE
    head = "…" if start > 0 else ""
    shift = start - len(head)
    end_col = span.end_col if span.end_line == span.line else span.col + 1
    end_col = min(end_col, end + 1) - shift
    shown = head + text[start:end] + ("…" if end < len(text) else "")
    return shown, Span(span.line, span.col - shift, span.line, max(end_col, span.col - shift + 1))


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

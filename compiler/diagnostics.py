"""Compiler diagnostics as data: a ``Problem`` per finding, a ``CompileError`` carrying them all.

Passes never raise on a user mistake; they return ``Problem`` values so that every mistake in a
workflow is reported at once. ``CompileError`` is what :func:`flowc.compiler.validate.check`
raises when the list is not empty. The ``.flow`` front end has its own ``Diagnostic`` with a
source renderer; a ``Problem`` keeps the optional ``span`` of the node it is about so that
renderer can point at the line.

Error codes are shared with the ``.flow`` front end (``flowc.dsl.codes``): F2xx names, F3xx
arity, F4xx options. ``F210`` and ``F310`` are the compiler's own (IR-level) additions.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of a compiler pass.

    ``node`` is the id of the IR node (or errback) the problem is about; ``span`` is that node's
    source span when it came from a ``.flow`` file (``None`` for Python canvases).
    """

    code: str
    message: str
    hint: str | None = None
    node: str | None = None
    span: Any | None = None

    def __str__(self) -> str:
        where = f"{self.node}: " if self.node else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{self.code} {where}{self.message}{hint}"


class CompileError(FlowcError):
    """Raised when a workflow fails validation; ``problems`` lists every finding, in pass order."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(format_problems(self.problems))


class CanvasError(FlowcError):
    """Raised when a canvas is built or used wrongly (an error in the Python code itself)."""


def format_problems(problems: Sequence[Problem], limit: int = MAX_LISTED) -> str:
    """Render problems one per line, capped at ``limit`` with an "... and N more" line."""
    count = len(problems)
    noun = "problem" if count == 1 else "problems"
    lines = [f"workflow has {count} {noun}:"]
    lines.extend(f"  {p}" for p in problems[:limit])
    if count > limit:
        lines.append(f"  ... and {count - limit} more")
    return "\n".join(lines)


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A "did you mean X?" hint for the closest candidate, or ``None`` when nothing is close."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"did you mean {matches[0]!r}?" if matches else None

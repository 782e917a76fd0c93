"""Shared helpers for the DSL tests: fixture paths and the golden-file checker."""

from __future__ import annotations

from pathlib import Path

from flowc.dsl.diagnostics import render, sort_diagnostics
from flowc.dsl.parser import parse_with_diagnostics

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
BAD = HERE / "bad"


def check_file(path: Path) -> list[str]:
    """Every diagnostic for ``path``, rendered; the parser's only, until the compiler is wired."""
    source = path.read_text(encoding="utf-8")
    _, diagnostics = parse_with_diagnostics(source, path.name)
    return [render(d, source, path.name) for d in sort_diagnostics(diagnostics)]

"""Shared helpers for the DSL tests: fixture paths and the golden-file checker."""

from __future__ import annotations

from pathlib import Path

from flowc.dsl.diagnostics import render, sort_diagnostics
from flowc.runtime.project import check, load

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
BAD = HERE / "bad"


def check_file(path: Path) -> list[str]:
    """Every diagnostic ``flowc check`` reports for ``path`` (parser, then compiler), rendered.

    Task modules named by ``use`` are imported as the CLI does (``examples.tasks``).
    """
    loaded = load(path, path.name)
    return [render(d, loaded.text, path.name) for d in sort_diagnostics(check(loaded))]

"""Golden diagnostics: each ``bad/*.flow`` file renders exactly its ``.expected`` text.

After an intended message change, run pytest with ``FLOWC_UPDATE_GOLDENS=1`` and review the
diff. ``check_file`` (conftest) is the one place to add compiler diagnostics later.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .helpers import BAD, check_file

CASES = sorted(p for p in BAD.glob("*.flow") if p.with_suffix(".expected").exists())


def test_there_are_at_least_thirty_golden_bad_files() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_bad_file_renders_its_golden_diagnostics(path: Path) -> None:
    rendered = "\n\n".join(check_file(path)) + "\n"
    golden = path.with_suffix(".expected")
    if os.environ.get("FLOWC_UPDATE_GOLDENS"):
        golden.write_text(rendered, encoding="utf-8")
    assert rendered == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_every_syntax_diagnostic_points_inside_the_file(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    for text in check_file(path):
        header = text.splitlines()[0]
        line = int(header.split(":")[1])
        assert 1 <= line <= len(lines)

"""Fixtures of the harness tests: a harness whose clock starts at a fixed instant."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from flowc.testing import FlowHarness
from tests.testing import flowtasks

ROOT = Path(__file__).resolve().parents[2]
FLOWS = Path(__file__).resolve().parent / "flows"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""A Monday, 09:00 UTC."""


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> FlowHarness:
    monkeypatch.chdir(ROOT)  # `use "examples.tasks"` is found from the repository root
    flowtasks.reset()
    return FlowHarness(start=START)

"""The chaos suite: real workers, beats and a private ``redis-server`` under faults.

Every test here is marked ``chaos`` (not in the default run; ``-m chaos`` selects them) and
reports one row: how many tasks (or ticks) it sent, how many were lost, how many ran twice
and how long the system took to recover. The rows are printed as a table at the end of the
session (the one in docs/reliability.md comes from such a run):

    python -m pytest -m chaos tests/chaos -s

The fixtures are the reliability suite's (``cluster``: a private server with AOF on, workers
running ``tests/apps/reliability_app.py`` with a 2 s ``flowc_worker_lost_after``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.reliability.conftest import Cluster, cluster, rel_app  # noqa: F401  (fixtures)

__all__ = ["Cluster", "Row", "report"]


@dataclass(frozen=True)
class Row:
    """One scenario's outcome."""

    scenario: str
    sent: int
    lost: int
    duplicates: int
    recovery_s: float | None
    notes: str = ""

    def line(self) -> str:
        recovery = "-" if self.recovery_s is None else f"{self.recovery_s:.2f}"
        return (f"| {self.scenario} | {self.sent} | {self.lost} | {self.duplicates} | "
                f"{recovery} | {self.notes} |")


ROWS: list[Row] = []
HEADER = ("| Scenario | Sent | Lost | Ran twice | Recovery (s) | Notes |\n"
          "|----------|------|------|-----------|--------------|-------|")


@pytest.fixture
def report() -> Iterator[list[Row]]:
    """Append the test's ``Row``; it is printed at once and in the session's table."""
    rows: list[Row] = []
    yield rows
    for row in rows:
        print(f"\nCHAOS {row.line()}")
        ROWS.append(row)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if ROWS:
        terminalreporter.write_sep("-", "chaos results")
        terminalreporter.write_line(HEADER)
        for row in ROWS:
            terminalreporter.write_line(row.line())

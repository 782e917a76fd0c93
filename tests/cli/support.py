"""Helpers for CLI tests: run ``flowc`` in-process with click's runner, from the repo root."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from flowc.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BAD = ROOT / "tests" / "dsl" / "bad"


def flowc(*args: str, input: str | None = None) -> Result:
    """``flowc ARGS`` in this process; stdout and stderr are kept apart."""
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=True)


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception

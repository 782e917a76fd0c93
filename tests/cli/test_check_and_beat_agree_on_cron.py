"""``flowc check`` and beat read cron strings with one grammar (``flowc.dsl.cron``).

They used to disagree: ``check`` asked croniter, which takes ``L`` (last day of the month), and
beat then refused to start on the file that had checked clean.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from flowc.runtime.schedules import ScheduleError, cron

from .support import flowc, no_traceback

NEW_YEAR = datetime(2026, 1, 1, tzinfo=UTC)
VALID = ["30 2 * * *", "*/15 9-17 * * mon-fri", "0 0 1,15 jan-jun *", "0 0 * * 7", "@daily",
         "50-10 * * * *", "5/15 * * * *"]
INVALID = {
    "0 0 L * *": "day_of_month 'L' is not a number",
    "0 0 ? * *": "day_of_month '?' is not a value, a range or a step",
    "0 0 * * 5#3": "day_of_week '5#3' is not a value, a range or a step",
    "61 2 * * *": "minute 61 is out of range 0-59",
    "0 24 * * *": "hour 24 is out of range 0-23",
    "0 0 30 2 *": "day_of_month '30' never occurs in month_of_year '2'",
    "*/0 * * * *": "minute step '0' is not a whole number >= 1",
    "0 30 2 * * *": "expected 5 fields, found 6",
}


def check_schedule(tmp_path: Path, expression: str) -> tuple[int, str]:
    """``flowc check`` of a one-schedule file: (exit code, stdout)."""
    path = tmp_path / "nightly.flow"
    path.write_text('use "examples.tasks"\n\n'
                    f'schedule cleanup = cron "{expression}" -> execute_db_maintenance()\n')
    result = flowc("check", str(path))
    no_traceback(result)
    return result.exit_code, result.stdout


@pytest.mark.parametrize("expression", VALID)
def test_a_cron_string_check_accepts_is_one_beat_runs(tmp_path: Path, expression: str) -> None:
    code, output = check_schedule(tmp_path, expression)
    assert code == 0, output
    assert cron(expression).next_after(NEW_YEAR) > NEW_YEAR


@pytest.mark.parametrize(("expression", "reason"), INVALID.items())
def test_a_cron_string_beat_refuses_fails_the_check_for_the_same_reason(
        tmp_path: Path, expression: str, reason: str) -> None:
    with pytest.raises(ScheduleError) as refused:
        cron(expression)
    assert reason in str(refused.value)
    code, output = check_schedule(tmp_path, expression)
    assert code == 1
    assert f'error F404: invalid cron expression "{expression}": {reason}' in output


def test_the_last_day_of_month_extension_is_refused_by_check_with_the_field_and_value(
        tmp_path: Path) -> None:
    code, output = check_schedule(tmp_path, "0 0 L * *")
    assert code == 1
    assert "day_of_month 'L' is not a number" in output


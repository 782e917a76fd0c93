"""``flowc check``: diagnostics and exit status for people and tools."""

from __future__ import annotations

import json
from pathlib import Path

from .support import BAD, EXAMPLES, flowc, no_traceback


def test_check_of_the_examples_exits_zero_with_a_one_line_summary() -> None:
    result = flowc("check", str(EXAMPLES))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines() == [
        "ok: 9 files, 11 flows, 4 schedules checked"]


def test_check_of_a_bad_file_exits_one_and_prints_the_golden_diagnostics() -> None:
    path = BAD / "sem_unknown_task.flow"
    result = flowc("check", str(path))
    assert result.exit_code == 1
    expected = path.with_suffix(".expected").read_text().replace(path.name, str(path))
    assert result.stdout.strip() == expected.strip()
    assert "1 error, 0 warnings in 1 of 1 file" in result.stderr


def test_check_reports_every_error_of_every_file_at_once() -> None:
    files = [BAD / "sem_unknown_option.flow", BAD / "sem_errors_in_two_flows_all_reported.flow"]
    result = flowc("check", *map(str, files))
    assert result.exit_code == 1
    assert result.stdout.count("error F") == 4
    assert "4 errors, 0 warnings in 2 of 2 files" in result.stderr


def test_warnings_alone_do_not_fail_the_check() -> None:
    result = flowc("check", str(BAD / "sem_unused_result.flow"))
    assert result.exit_code == 0
    assert "warning F208" in result.stdout
    assert "1 warning" in result.stdout


def test_json_format_lists_diagnostics_with_positions() -> None:
    result = flowc("check", "--format", "json", str(BAD / "sem_unknown_task.flow"))
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["errors"] == 1
    [diag] = doc["files"][0]["diagnostics"]
    assert diag == {"code": "F201", "severity": "error", "message": "unknown task 'analyze_chunkk'",
                    "hint": "did you mean 'analyze_chunk'?", "line": 5, "col": 12,
                    "end_line": 5, "end_col": 26}


def test_json_format_of_good_files_exits_zero() -> None:
    result = flowc("check", "--format", "json", str(EXAMPLES / "etl.flow"))
    assert result.exit_code == 0
    assert json.loads(result.stdout)["errors"] == 0


def test_a_missing_file_is_a_diagnostic_not_a_traceback(tmp_path: Path) -> None:
    result = flowc("check", str(tmp_path / "nope.flow"))
    no_traceback(result)
    assert result.exit_code == 1
    assert "cannot read the file" in result.stdout


def test_binary_garbage_is_a_diagnostic_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "garbage.flow"
    path.write_bytes(b"\xff\xfe\x00flow \x00")
    result = flowc("check", str(path))
    no_traceback(result)
    assert result.exit_code == 1


def test_yaml_files_are_checked_too(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("use: examples.tasks\nflows:\n  etl:\n    chain:\n      - extract_recor: [x]\n")
    result = flowc("check", str(path))
    assert result.exit_code == 1
    assert f"{path}:5:9: error F201: unknown task 'extract_recor'" in result.stdout


def test_an_empty_directory_is_a_usage_error(tmp_path: Path) -> None:
    result = flowc("check", str(tmp_path))
    assert result.exit_code == 2
    no_traceback(result)

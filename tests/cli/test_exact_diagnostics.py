"""Diagnostics point at the exact text and say what is wrong, for the hard cases of issue 17."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flowc.dsl.parser import MAX_NESTING

from .support import flowc, no_traceback

USE = 'use "examples.tasks"\n\n'


def diagnostics(tmp_path: Path, source: str, name: str = "case.flow") -> list[dict[str, Any]]:
    """``flowc check --format json`` of ``source``: its diagnostics."""
    path = tmp_path / name
    path.write_text(source)
    result = flowc("check", "--format", "json", str(path))
    no_traceback(result)
    found: list[dict[str, Any]] = json.loads(result.stdout)["files"][0]["diagnostics"]
    return found


def where(d: dict[str, Any]) -> tuple[int, int, int, int]:
    return d["line"], d["col"], d["end_line"], d["end_col"]


def test_errors_of_intact_flows_are_reported_beside_the_syntax_errors(tmp_path: Path) -> None:
    source = USE + (
        "flow one {\n"
        '    extract_record("x") -> analyze_chunkk()\n'
        "}\n\n"
        "flow broken1 {\n"
        '    extract_record("x") -> -> analyze_chunk()\n'
        "}\n\n"
        "flow two {\n"
        "    generate_summary(nope)\n"
        "}\n\n"
        "flow broken2 {\n"
        "    extract_record(\n"
        "}\n\n"
        "flow three {\n"
        "    broken1() -> analyze_chunk(bogus=1)\n"
        "}\n"
    )
    found = diagnostics(tmp_path, source)
    assert [(d["code"], d["line"]) for d in found] == [
        ("F201", 4), ("F101", 8), ("F202", 12), ("F101", 17), ("F303", 20)]


def test_an_unknown_keyword_argument_is_pointed_at_the_keyword(tmp_path: Path) -> None:
    source = USE + 'flow f {\n    extract_record("x") -> analyze_chunk(bogus=1)\n}\n'
    [d] = diagnostics(tmp_path, source)
    assert d["code"] == "F303"
    assert where(d) == (4, 42, 4, 47)


def test_two_results_that_use_each_other_are_reported_as_a_cycle(tmp_path: Path) -> None:
    source = USE + (
        "flow f {\n    a = analyze_chunk(b)\n    b = analyze_chunk(a)\n"
        "    generate_summary(b)\n}\n")
    [d] = diagnostics(tmp_path, source)
    assert (d["code"], d["message"]) == ("F209", "dataflow cycle: a -> b -> a")
    assert where(d) == (4, 23, 4, 24)


def test_a_result_used_too_early_without_a_cycle_stays_f205(tmp_path: Path) -> None:
    source = USE + (
        'flow f {\n    a = analyze_chunk(b)\n    b = extract_record("x")\n'
        "    generate_summary(a)\n}\n")
    assert [d["code"] for d in diagnostics(tmp_path, source)][:1] == ["F205"]


def test_a_recursive_flow_reports_the_recursion_and_nothing_else(tmp_path: Path) -> None:
    source = USE + (
        'flow r(x: int) {\n    process_video_transcode(x, "mp4") -> r(x)\n}\n\n'
        "flow top {\n    r(1)\n}\n")
    assert [d["code"] for d in diagnostics(tmp_path, source)] == ["F206"]


def test_an_empty_file_is_the_same_error_for_check_and_run(tmp_path: Path) -> None:
    path = tmp_path / "empty.flow"
    path.write_text("# nothing yet\n")
    checked = flowc("check", str(path))
    ran = flowc("run", str(path))
    message = "error F202: the file defines no flow or schedule"
    assert checked.exit_code == ran.exit_code == 1
    assert message in checked.stdout
    assert message in ran.stderr


def test_a_binary_file_error_gives_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "blob.flow"
    path.write_bytes(b"flow f {\n  ab\xd0\x00cd\n}\n")
    result = flowc("check", str(path))
    assert result.exit_code == 1
    assert f"{path}:2:5: error F102: the file is not UTF-8 text: byte 0xd0" in result.stdout


def test_a_huge_identifier_is_cut_short_in_every_diagnostic(tmp_path: Path) -> None:
    name = "x" * 1_000_000
    path = tmp_path / "huge.flow"
    path.write_text(USE + f"flow f {{\n    {name}()\n    generate_summary({name})\n}}\n")
    result = flowc("check", str(path))
    assert result.exit_code == 1
    assert "unknown task 'xxxxxxxx" in result.stdout
    assert "(1,000,000 characters)" in result.stdout
    assert len(result.stdout) < 2_000
    as_json = flowc("check", "--format", "json", str(path))
    assert len(as_json.stdout) < 2_000


def test_a_forgotten_arrow_is_a_warning_when_the_next_step_could_take_the_result(
    tmp_path: Path,
) -> None:
    source = USE + 'flow f(path: str = "x") {\n    extract_record(path)\n' \
        '    analyze_chunk(mode="deep")\n}\n'
    [d] = diagnostics(tmp_path, source)
    assert (d["code"], d["severity"]) == ("F213", "warning")
    assert d["message"] == "this statement's result is unused; did you mean '->'?"
    assert where(d) == (4, 5, 4, 25)


def test_side_by_side_steps_that_cannot_take_a_result_are_not_warned_about(
    tmp_path: Path,
) -> None:
    source = USE + 'flow f {\n    process_video_transcode(1, "webm")\n' \
        '    process_video_transcode(2, "mp4")\n    !analyze_chunk(mode="deep")\n}\n'
    assert diagnostics(tmp_path, source) == []


TWO_FLOWS = USE + (
    "flow a {\n    generate_summary(nope)\n}\n\n"
    'flow b {\n    r = extract_record("x")\n    execute_db_maintenance()\n}\n')


def test_run_prints_the_problems_of_the_flow_it_runs_only(tmp_path: Path) -> None:
    path = tmp_path / "two.flow"
    path.write_text(TWO_FLOWS)
    result = flowc("run", str(path), "a")
    assert result.exit_code == 1
    assert "error F202: unknown name 'nope'" in result.stderr
    assert "F208" not in result.stderr  # flow b's unused result


def test_a_flow_compiles_while_another_flow_of_its_file_has_errors(tmp_path: Path) -> None:
    path = tmp_path / "two.flow"
    path.write_text(TWO_FLOWS)
    result = flowc("plan", str(path), "b")
    assert result.exit_code == 0, result.output
    assert "warning F208: the result 'r' is never used" in result.stderr
    assert "F202" not in result.stderr


def test_a_cron_field_out_of_range_is_pointed_at_and_named(tmp_path: Path) -> None:
    source = USE + 'schedule a = cron "61 2 * * *" -> execute_db_maintenance()\n'
    [d] = diagnostics(tmp_path, source)
    assert (d["code"], d["message"]) == (
        "F404", 'invalid cron expression "61 2 * * *": minute 61 is out of range 0-59')
    assert where(d) == (3, 20, 3, 22)


def test_each_wrong_cron_field_is_its_own_diagnostic(tmp_path: Path) -> None:
    source = USE + 'schedule a = cron "0 25 * 13 *" -> execute_db_maintenance()\n'
    found = diagnostics(tmp_path, source)
    assert [(d["message"].split(": ")[1], d["col"]) for d in found] == [
        ("hour 25 is out of range 0-23", 22), ("month_of_year 13 is out of range 1-12", 27)]


def test_an_unknown_time_zone_is_pointed_at_the_zone(tmp_path: Path) -> None:
    source = USE + 'schedule b = cron "0 2 * * *" tz "Europe/Berlinn" -> execute_db_maintenance()\n'
    [d] = diagnostics(tmp_path, source)
    assert d["code"] == "F405"
    assert where(d) == (3, 35, 3, 49)
    assert d["hint"] == "did you mean 'Europe/Berlin'?"


def test_yaml_cron_fields_are_pointed_at_too(tmp_path: Path) -> None:
    source = ("use: examples.tasks\nschedules:\n"
              "  a: {cron: \"0 2 * * 8\", tz: Mars/Olympus, run: execute_db_maintenance}\n")
    found = diagnostics(tmp_path, source, "case.yaml")
    assert [(d["code"], d["col"], d["end_col"]) for d in found] == [
        ("F404", 22, 23), ("F405", 30, 42)]


def nested(kind: str, depth: int) -> str:
    """A flow whose deepest bracket is ``depth`` levels in (its own braces are level 1)."""
    inner = depth - 2  # the flow's braces and the call's parentheses
    if kind == "group":
        body = "[" * (depth - 2) + "execute_db_maintenance()" + "]" * (depth - 2)
    elif kind == "list":
        body = "generate_summary(" + "[" * inner + "1" + "]" * inner + ")"
    else:
        body = "generate_summary(" + "{a: " * inner + "1" + "}" * inner + ")"
    return USE + f"flow f {{\n    {body}\n}}\n"


@pytest.mark.parametrize("kind", ["group", "list", "dict"])
def test_every_construct_may_nest_to_the_one_documented_limit(
    tmp_path: Path, kind: str,
) -> None:
    assert diagnostics(tmp_path, nested(kind, MAX_NESTING)) == []


@pytest.mark.parametrize("kind", ["group", "list", "dict"])
def test_nesting_past_the_limit_is_reported_at_the_bracket_that_goes_too_deep(
    tmp_path: Path, kind: str,
) -> None:
    source = nested(kind, MAX_NESTING + 1)
    [d] = diagnostics(tmp_path, source)
    assert (d["code"], d["message"]) == ("F120", f"nested more than {MAX_NESTING} levels deep")
    line = source.split("\n")[d["line"] - 1]
    assert line[: d["col"]].count("[") + line[: d["col"]].count("{") \
        + line[: d["col"]].count("(") + 1 == MAX_NESTING + 1

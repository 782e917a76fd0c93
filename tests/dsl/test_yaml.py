"""The YAML form loads into the same AST as .flow, with line:col spans and diagnostics."""

from __future__ import annotations

from pathlib import Path

import pytest
from flowc.dsl import ast
from flowc.dsl.parser import ParseError, parse
from flowc.dsl.yaml_dumper import to_yaml
from flowc.dsl.yaml_loader import load_yaml, load_yaml_with_diagnostics

from .helpers import FIXTURES

PAIRS = sorted(FIXTURES.glob("*.flow"))


@pytest.mark.parametrize("path", PAIRS, ids=lambda p: p.stem)
def test_yaml_fixture_equals_the_flow_fixture_ignoring_spans(path: Path) -> None:
    flow = parse(path.read_text(encoding="utf-8"))
    yaml_module = load_yaml(path.with_suffix(".yaml").read_text(encoding="utf-8"))
    assert yaml_module == flow


@pytest.mark.parametrize("path", PAIRS, ids=lambda p: p.stem)
def test_flow_to_yaml_and_back_round_trips(path: Path) -> None:
    module = parse(path.read_text(encoding="utf-8"))
    assert load_yaml(to_yaml(module)) == module


def test_sketch_style_yaml_with_chain_shortcut_and_chord() -> None:
    text = """
use: examples.etl.tasks
flows:
  etl:
    params: {path: {type: str, default: file.csv}}
    chain:
      - extract_record: [$path]
      - analyze_chunk: {mode: deep}
      - generate_summary
  metrics:
    do:
      - chord:
          header: {for: i, in: {range: 3}, do: {analyze_chunk: {chunk_id: $i}}}
          body: {generate_summary: {title: Metrics}}
schedules:
  cleanup: {cron: "30 2 * * *", tz: UTC, run: execute_db_maintenance}
"""
    expected = parse("""
use "examples.etl.tasks"
flow etl(path: str = "file.csv") {
    extract_record(path) -> analyze_chunk(mode="deep") -> generate_summary()
}
flow metrics {
    [analyze_chunk(chunk_id=i) for i in range(3)] -> generate_summary(title="Metrics")
}
schedule cleanup = cron "30 2 * * *" tz "UTC" -> execute_db_maintenance()
""")
    assert load_yaml(text) == expected


def test_yaml_nodes_carry_line_and_column_spans() -> None:
    module = load_yaml("flows:\n  f:\n    do:\n      - analyze_chunk: {mode: deep}\n")
    stmt = module.flows[0].body[0]
    assert isinstance(stmt, ast.Call)
    assert (stmt.name_span.line, stmt.name_span.col) == (4, 9)


def test_dollar_strings_are_references_and_double_dollar_escapes() -> None:
    module = load_yaml("flows:\n  f:\n    do:\n      - a: [$x, $_, $$y]\n")
    stmt = module.flows[0].body[0]
    assert isinstance(stmt, ast.Call)
    assert stmt.args == (ast.Ref("x"), ast.Placeholder(), ast.Literal("$y"))


def test_option_strings_become_durations_and_functions_but_quoted_durations_stay_strings() -> None:
    text = (
        "defaults: {countdown: 10s, backoff: 'exponential(1s, max=60s)', queue: '5m'}\n"
    )
    defaults = load_yaml(text).defaults
    assert defaults is not None
    values = [o.value for o in defaults.options]
    assert values[0] == ast.Duration(10)
    assert isinstance(values[1], ast.Func)
    assert values[2] == ast.Literal("5m")


def test_unknown_yaml_key_gets_a_did_you_mean_hint() -> None:
    _, diagnostics = load_yaml_with_diagnostics("flows:\n  f:\n    parms: {}\n")
    assert diagnostics[0].code == "F119"
    assert diagnostics[0].hint == "did you mean 'params'?"
    assert (diagnostics[0].span.line, diagnostics[0].span.col) == (3, 5)


def test_yaml_syntax_error_is_a_diagnostic_with_position() -> None:
    module, diagnostics = load_yaml_with_diagnostics("flows:\n  f: [\n")
    assert module is None
    assert diagnostics[0].code == "F117"


def test_bad_duration_in_yaml_options_is_reported() -> None:
    with pytest.raises(ParseError) as info:
        load_yaml("defaults: {countdown: 10x}\n")
    assert info.value.diagnostics[0].code == "F105"


def test_a_step_mapping_with_two_task_names_is_rejected() -> None:
    _, diagnostics = load_yaml_with_diagnostics("flows:\n  f:\n    do:\n      - {a: [], b: []}\n")
    assert diagnostics[0].code == "F118"

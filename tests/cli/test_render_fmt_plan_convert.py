"""``flowc render``, ``fmt``, ``plan`` and ``convert``: outputs, and no traceback on bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from flowc.compiler.ir import Workflow

from .support import BAD, EXAMPLES, flowc, no_traceback

# ---- render ------------------------------------------------------------------------------------


def test_render_without_output_prints_dot() -> None:
    result = flowc("render", str(EXAMPLES / "metrics.flow"))
    assert result.exit_code == 0
    assert result.stdout.startswith("digraph metrics {")
    assert "join_n3" in result.stdout  # the chord's join point


@pytest.mark.parametrize("suffix", [".dot", ".mmd", ".svg", ".png", ".pdf"])
def test_render_writes_the_format_its_suffix_names(tmp_path: Path, suffix: str) -> None:
    if suffix in (".svg", ".png", ".pdf") and shutil.which("dot") is None:
        pytest.skip("graphviz 'dot' is not installed")
    out = tmp_path / f"media{suffix}"
    result = flowc("render", str(EXAMPLES / "media.flow"), "-o", str(out))
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    starts = {".dot": b"digraph", ".mmd": b"flowchart TD", ".svg": b"<?xml",
              ".png": b"\x89PNG", ".pdf": b"%PDF"}
    assert data.startswith(starts[suffix])


def test_render_a_schedule_target_and_parameters(tmp_path: Path) -> None:
    result = flowc("render", str(EXAMPLES / "metrics.flow"), "-p", "chunks=5", "-f", "mmd")
    assert result.stdout.count("analyze_chunk(chunk_id=") == 5
    result = flowc("render", str(EXAMPLES / "schedules.flow"), "cleanup")
    assert "execute_db_maintenance()" in result.stdout


def test_render_of_a_bad_file_prints_diagnostics_and_exits_one(tmp_path: Path) -> None:
    result = flowc("render", str(BAD / "sem_unknown_task.flow"), "-o", str(tmp_path / "x.svg"))
    assert result.exit_code == 1
    assert "error F201" in result.stderr
    assert not (tmp_path / "x.svg").exists()


def test_render_rejects_an_unknown_suffix_and_an_unknown_flow(tmp_path: Path) -> None:
    result = flowc("render", str(EXAMPLES / "etl.flow"), "-o", str(tmp_path / "x.jpeg"))
    assert result.exit_code == 2
    result = flowc("render", str(EXAMPLES / "etl.flow"), "etll")
    assert result.exit_code == 1
    assert "unknown flow 'etll'" in result.stderr and "did you mean 'etl'?" in result.stderr
    no_traceback(result)


# ---- fmt ---------------------------------------------------------------------------------------

UGLY = 'use "examples.tasks"\nflow etl(path:str="x") { extract_record(path)->generate_summary() }\n'


def test_fmt_rewrites_a_file_and_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "etl.flow"
    path.write_text(UGLY)
    assert flowc("fmt", "--check", str(path)).exit_code == 1
    result = flowc("fmt", str(path))
    assert result.exit_code == 0 and "reformatted" in result.stdout
    assert path.read_text() == ('use "examples.tasks"\n\nflow etl(path: str = "x") {\n'
                                "    extract_record(path)\n        -> generate_summary()\n}\n")
    assert flowc("fmt", "--check", str(path)).exit_code == 0


def test_the_examples_are_formatted() -> None:
    result = flowc("fmt", "--check", str(EXAMPLES))
    assert result.exit_code == 0, result.output


def test_fmt_diff_shows_the_change_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "etl.flow"
    path.write_text(UGLY)
    result = flowc("fmt", "--diff", str(path))
    assert result.exit_code == 1 and "+        -> generate_summary()" in result.stdout
    assert path.read_text() == UGLY


def test_fmt_leaves_a_file_with_syntax_errors_alone(tmp_path: Path) -> None:
    path = tmp_path / "bad.flow"
    path.write_text("flow etl { a( }\n")
    result = flowc("fmt", str(path))
    assert result.exit_code == 1 and "error F1" in result.stderr
    assert path.read_text() == "flow etl { a( }\n"


# ---- plan --------------------------------------------------------------------------------------


def test_plan_shows_every_node_with_queue_priority_delays_and_retries() -> None:
    result = flowc("plan", str(EXAMPLES / "media.flow"), "-p", "video_id=7")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "process_video_transcode(7, 'webm')" in out
    assert "media_heavy" in out and "in 1s" in out and "rate 10/m" in out and "hard 300s" in out
    assert "after n0" in out and "any node fails" in out


def test_plan_shows_the_tasks_own_retry_policy_and_dataflow_inputs() -> None:
    out = flowc("plan", str(EXAMPLES / "fanout.flow")).stdout
    assert "map ≤100 sync_inventory_webhook(item)" in out and "3x after ≤1s, ≤2s, ≤4s" in out
    out = flowc("plan", str(EXAMPLES / "report.flow")).stdout
    assert "n1 → clean" in out and "n2 → stats" in out


def test_plan_shows_how_long_a_retry_waits(tmp_path: Path) -> None:
    # a step with retries and no backoff waits Celery's default_retry_delay, 180 s
    flow = tmp_path / "retry.flow"
    flow.write_text('use "examples.tasks"\n'
                    'flow f() { extract_record("x") with retries = 1 }\n')
    out = flowc("plan", str(flow)).stdout
    assert "1x after 180s" in out


def test_plan_json_is_the_ir() -> None:
    result = flowc("plan", str(EXAMPLES / "etl.flow"), "--json", "-p", "path=data.csv")
    wf = Workflow.from_json(result.stdout)
    assert wf.nodes[0].args == ["data.csv"]


@pytest.mark.parametrize("args", [
    ["-p", "video_id=abc"], ["-p", "nope=1"], ["-p", "novalue"], ["--params-json", "[1]"],
    ["--params-json", "{bad"],
])
def test_plan_with_bad_parameters_explains_without_traceback(args: list[str]) -> None:
    result = flowc("plan", str(EXAMPLES / "media.flow"), *args)
    no_traceback(result)
    assert result.exit_code in (1, 2)
    assert "error" in result.output.lower()


# ---- convert -----------------------------------------------------------------------------------


def test_convert_flow_to_yaml_and_back_round_trips(tmp_path: Path) -> None:
    yaml_path = tmp_path / "report.yaml"
    assert flowc("convert", str(EXAMPLES / "report.flow"), "--to", "yaml",
                 "-o", str(yaml_path)).exit_code == 0
    back = flowc("convert", str(yaml_path), "--to", "flow")
    assert back.exit_code == 0
    flow_ir = flowc("plan", str(EXAMPLES / "report.flow"), "--json").stdout
    yaml_ir = flowc("plan", str(yaml_path), "--json").stdout
    assert json.loads(flow_ir)["nodes"] == json.loads(yaml_ir)["nodes"] or _same_but_spans(
        flow_ir, yaml_ir)


def _same_but_spans(a: str, b: str) -> bool:
    def strip(text: str) -> list[dict[str, object]]:
        return [{**n, "span": None} for n in json.loads(text)["nodes"]]

    return strip(a) == strip(b)


def test_convert_a_python_canvas_to_flow() -> None:
    result = flowc("convert", "examples.canvases:metrics", "--to", "flow")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        'use "examples.tasks"\n\nflow metrics {\n'
        "    [analyze_chunk(chunk_id=0), analyze_chunk(chunk_id=1), analyze_chunk(chunk_id=2)]\n"
        '        -> generate_summary(title="Metrics")\n}\n')


@pytest.mark.parametrize("source", ["examples.nothing:x", "examples.canvases:nope",
                                    "examples.tasks:app"])
def test_convert_of_a_bad_canvas_reference_explains(source: str) -> None:
    result = flowc("convert", source, "--to", "flow")
    no_traceback(result)
    assert result.exit_code == 1 and "Error:" in result.stderr


def test_convert_of_a_broken_file_prints_diagnostics(tmp_path: Path) -> None:
    path = tmp_path / "x.flow"
    path.write_text("flow { }\n")
    result = flowc("convert", str(path), "--to", "yaml")
    assert result.exit_code == 1 and "error F101" in result.stderr

"""Each example's IR equals the IR of the hand-written Python canvas that means the same.

The ``.flow`` files in ``examples/`` are compiled against the real task module; the canvases in
``examples/canvases.py`` are lowered with ``lower_canvas.lower``. Spans (only ``.flow`` has
them), the workflow name and its parameters (run metadata) are ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flowc.compiler.canvas.lower import lower
from flowc.compiler.ir import Node, Workflow
from flowc.runtime.project import compile_one, load

from examples import canvases

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def compiled(name: str, flow: str | None = None, **params: Any) -> Workflow:
    loaded = load(EXAMPLES / name)
    wf, diags = compile_one(loaded, flow, params, from_text=False)
    assert not [d for d in diags if d.severity == "error"], diags
    assert wf is not None
    return wf


def comparable(wf: Workflow) -> dict[str, Any]:
    data = wf.model_dump()
    data["name"] = data["params"] = None  # run metadata, not the DAG
    for item in (*data["nodes"], *data["errbacks"]):
        item["span"] = None
    return data


def test_etl_flow_is_the_seed_chain_with_the_defaults_as_options() -> None:
    assert comparable(compiled("etl.flow")) == comparable(lower(canvases.etl))


def test_metrics_flow_is_the_seed_chord() -> None:
    assert comparable(compiled("metrics.flow")) == comparable(lower(canvases.metrics))


def test_fanout_flow_is_a_chain_with_a_dynamic_map() -> None:
    assert comparable(compiled("fanout.flow")) == comparable(lower(canvases.stores))


def test_media_flow_is_a_chain_with_options_an_immutable_step_and_a_workflow_errback() -> None:
    expected = lower(canvases.media, on_error=[canvases.media_on_error])
    assert comparable(compiled("media.flow")) == comparable(expected)


def test_nightly_flow_inlines_its_sub_flows_like_a_group_of_chains() -> None:
    assert comparable(compiled("nightly.flow")) == comparable(lower(canvases.nightly))


def test_schedule_target_flow_compiles_like_its_chord() -> None:
    hourly = compiled("schedules.flow", "hourly_metrics")
    chord = lower(canvases.metrics)
    summary = chord.nodes[-1].model_copy(update={"kwargs": {"title": "Hourly metrics"}})
    assert comparable(hourly) == comparable(chord.model_copy(update={
        "nodes": [*chord.nodes[:-1], summary]}))


def test_report_flow_is_a_dataflow_dag_binding_results_by_parameter_name() -> None:
    t = "examples.tasks."
    expected = Workflow(
        nodes=[
            Node(id="n0", task=t + "extract_record", args=["sales.csv"]),
            Node(id="n1", task=t + "clean_rows", kwarg_inputs={"record": "n0"}),
            Node(id="n2", task=t + "compute_stats", kwarg_inputs={"record": "n0"}),
            Node(id="n3", task=t + "publish", kwargs={"title": "Sales"},
                 kwarg_inputs={"clean": "n1", "stats": "n2"}),
        ],
        result="n3",
    )
    assert comparable(compiled("report.flow")) == comparable(expected)


@pytest.mark.parametrize("name", ["etl", "metrics"])
def test_yaml_example_compiles_to_the_same_ir_as_the_flow_file(name: str) -> None:
    assert comparable(compiled(f"{name}.yaml")) == comparable(compiled(f"{name}.flow"))


def test_parameters_change_the_ir_like_arguments_change_the_canvas() -> None:
    wf = compiled("metrics.flow", chunks=5)
    assert [n.kwargs for n in wf.nodes[:-1]] == [{"chunk_id": i} for i in range(5)]
    assert wf.nodes[-1].collect == [f"n{i}" for i in range(5)]

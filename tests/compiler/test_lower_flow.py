"""Lowering ``.flow`` source to the IR: every construct, with the binding rule it implies."""

from __future__ import annotations

from typing import Any

import pytest
from flowc.compiler.canvas import fanout
from flowc.compiler.canvas.export import ExportError, export_flow
from flowc.compiler.canvas.lower import lower
from flowc.compiler.canvas.signature import s, si
from flowc.compiler.flow.compile import check_module, compile_flow, compile_schedules
from flowc.compiler.flow.resolve import catalog_from_tasks
from flowc.compiler.ir import Workflow
from flowc.dsl.formatter import format_module
from flowc.dsl.parser import parse

from .conftest import TASKS


def report(task_id: str, note: str = "") -> None:
    return None


def pair(left: Any, right: Any, scale: int = 1) -> list[Any]:
    return [left, right]


def bound(self: Any, store_id: str) -> str:
    return store_id


bound.bind = True  # type: ignore[attr-defined]  # what a bind=True task object looks like

CATALOG = catalog_from_tasks({**{f"app.{k}": v for k, v in TASKS.items()}, "app.report": report,
                              "app.pair": pair, "app.bound": bound})


def compile_text(text: str, flow: str | None = None, **params: Any) -> Workflow:
    wf, diags = compile_flow(parse(text), CATALOG, flow, params, from_text=False)
    assert [d for d in diags if d.severity == "error"] == [], diags
    assert wf is not None
    return wf


def codes(text: str) -> list[str]:
    return [d.code for d in check_module(parse(text), CATALOG)]


def node(wf: Workflow, i: int) -> dict[str, Any]:
    return wf.nodes[i].model_dump(exclude_defaults=True, exclude={"span", "id"})


def test_short_task_names_resolve_to_registered_names_and_chains_prepend() -> None:
    wf = compile_text("flow f { add(1, 2) -> mul(3) }")
    assert node(wf, 0) == {"task": "app.add", "args": [1, 2]}
    assert node(wf, 1) == {"task": "app.mul", "args": [3], "prepend": "n0"}
    assert wf.result == "n1"


def test_placeholder_binds_the_previous_result_by_the_parameters_name() -> None:
    wf = compile_text("flow f { add(1, 2) -> analyze_chunk(none, mode=_) }")
    assert node(wf, 1) == {"task": "app.analyze_chunk", "args": [None],
                           "kwarg_inputs": {"mode": "n0"}}
    wf = compile_text("flow f { add(1, 2) -> pair(5, _, 2) }")
    assert node(wf, 1) == {"task": "app.pair", "args": [5], "kwargs": {"scale": 2},
                           "kwarg_inputs": {"right": "n0"}}


def test_group_then_step_is_a_chord_and_nested_groups_nest_the_shape() -> None:
    wf = compile_text("flow f { [[add(1, 1), add(2, 2)], add(3, 3)] -> tsum() }")
    assert wf.nodes[-1].collect == [["n0", "n1"], "n2"]


def test_comprehension_over_a_parameter_unrolls_at_compile_time() -> None:
    wf = compile_text("flow f(xs: list[int] = [1, 2]) { [notify(x) for x in xs] -> tsum() }",
                      xs=[4, 5, 6])
    assert [n.args for n in wf.nodes[:-1]] == [[4], [5], [6]]


def test_map_gets_a_node_or_the_literal_items_of_a_parameter() -> None:
    wf = compile_text("flow f { list_stores('eu') -> map notify() max 5 -> tsum() }")
    assert node(wf, 1) == {"task": "app.notify", "kind": "map", "max_width": 5, "prepend": "n0"}
    wf = compile_text("flow f(ids: list[int] = [1, 2]) { ids -> map notify() }")
    assert node(wf, 0) == {"task": "app.notify", "kind": "map", "max_width": 10_000,
                           "items": [1, 2]}


def test_a_parameter_starting_a_chain_is_prepended_as_a_literal() -> None:
    wf = compile_text("flow f(n: int = 4) { n -> mul(2) }")
    assert node(wf, 0) == {"task": "app.mul", "args": [4, 2]}


def test_named_results_bind_by_parameter_name_and_lists_of_them_collect() -> None:
    wf = compile_text("""flow f {
        a = add(1, 2)
        b = mul(3, 4)
        publish(a, b)
        tsum([a, b])
    }""")
    assert node(wf, 2) == {"task": "app.publish", "kwarg_inputs": {"clean": "n0", "stats": "n1"}}
    assert node(wf, 3) == {"task": "app.tsum", "collect": ["n0", "n1"]}


def test_immutable_steps_wait_without_receiving() -> None:
    wf = compile_text("flow f { [add(1, 1), add(2, 2)] -> !notify(1) }")
    assert node(wf, 2) == {"task": "app.notify", "args": [1], "after": ["n0", "n1"]}


def test_defaults_and_step_options_translate_to_celery_names_and_merge() -> None:
    wf = compile_text("""
        defaults { queue = "q", retries = 3, backoff = exponential(2s, max=1m), jitter = false }
        flow f { notify(1) with queue = "other", timeout = 5m, countdown = 1.5s, expires = 1h }
    """)
    assert wf.nodes[0].options == {
        "queue": "other", "max_retries": 3, "retry_backoff": 2, "retry_backoff_max": 60,
        "retry_jitter": False, "time_limit": 300, "countdown": 1.5, "expires": 3600}


def test_step_on_error_is_an_errback_and_flow_on_error_is_workflow_level() -> None:
    wf = compile_text("""flow f {
        notify(1) with on_error = report(note="step") -> !notify(2)
        on error -> !report("x", note="flow")
    }""")
    assert wf.nodes[0].link_error == ["e0"] and wf.nodes[1].link_error == []
    assert wf.on_error == ["e1"]
    assert [(e.task, e.args, e.immutable) for e in wf.errbacks] == [
        ("app.report", [], False), ("app.report", ["x"], True)]


def test_sub_flow_calls_inline_with_parameters_options_and_its_handler() -> None:
    wf = compile_text("""
        flow inner(n: int) {
            mul(n) -> mul(2)
            on error -> report()
        }
        flow outer { add(0, 0) -> inner(5) with queue = "sub" -> notify() }
    """, "outer")
    assert [(n.task, n.args, n.options) for n in wf.nodes] == [
        ("app.add", [0, 0], {}), ("app.mul", [5], {"queue": "sub"}),
        ("app.mul", [2], {"queue": "sub"}), ("app.notify", [], {})]
    assert wf.nodes[1].prepend == "n0"  # the inbound goes to the sub-flow's first step
    assert wf.nodes[1].link_error == wf.nodes[2].link_error == ["e0"]
    assert wf.nodes[3].prepend == "n2"


def test_bound_tasks_are_checked_without_self() -> None:
    assert codes('flow f { bound("s1") }') == []
    assert codes('flow f { bound("s1", "s2") }') == ["F301"]


def test_schedules_compile_to_entries_for_beat() -> None:
    entries, diags = compile_schedules(parse("""
        flow f(n: int = 2) { add(n, n) }
        schedule a = cron "*/5 * * * *" tz "Europe/Berlin" -> f()
        schedule b = every 1m30s -> notify(1)
    """), CATALOG)
    assert diags == []
    assert [(e.name, e.kind, e.expr, e.tz) for e in entries] == [
        ("a", "cron", "*/5 * * * *", "Europe/Berlin"), ("b", "every", 90.0, None)]
    assert entries[0].workflow.nodes[0].args == [2, 2]


@pytest.mark.parametrize(("text", "expected"), [
    ("flow f { add(1) }", ["F302"]),
    ("flow f { add(1, 2, 3) }", ["F301"]),
    ("flow f { add(1, 2, z=3) }", ["F303"]),
    ("flow f { add(1, 2) -> pair(3, _, _) }", ["F307"]),
    ("flow f { add(1, 2) -> !add(_, 3) }", ["F307"]),
    ("flow f { list_stores('x') -> map pair(1, _) }", ["F307"]),
    ("flow f { a = add(1, 2) \n add(a, 1) with queue = a }", ["F402"]),
    ("flow f { a = [add(1, 2), add(3, 4)] \n analyze_chunk(1, mode=a) }", ["F211"]),
    ("flow f { add(1, 2) with backoff = fixed(1s, 2s) }", ["F402"]),
    ("flow f { add(1, 2) with soft_timeout = 2m, timeout = 1m }", ["F402"]),
    ("flow f { add(1, 2) } \n flow g { f() -> !f() }", []),
    ("flow f { g() } \n flow g { h() } \n flow h { f() }", ["F206", "F206", "F206"]),
    ("flow f(x: list[str] = [1]) { notify(x) }", ["F305"]),
    ("flow f { notify(true) }", ["F305"]),
    ("flow f { notify(1) }", []),
    ("flow f { analyze_chunk(1, mode=2) }", ["F305"]),
])
def test_semantic_mistakes_give_their_codes(text: str, expected: list[str]) -> None:
    assert codes(text) == expected


# ---- export ------------------------------------------------------------------------------------

def _strip(wf: Workflow) -> dict[str, Any]:
    data = wf.model_dump()
    data["name"] = None
    for item in (*data["nodes"], *data["errbacks"]):
        item["span"] = None
    return data


@pytest.mark.parametrize("canvas", [
    s("app.add", 1, 2) | s("app.mul", 3) | si("app.notify", 1),
    (s("app.add", 1, 1) | s("app.mul", 2)).set(queue="q", max_retries=2, countdown=5),
    s("app.list_stores", "eu") | fanout(s("app.notify"), max_width=7) | s("app.tsum"),
])
def test_exported_canvases_compile_back_to_the_same_ir(canvas: Any) -> None:
    module = export_flow(canvas, "main")
    wf = compile_text(format_module(module).replace('use "app"\n', ""))
    assert _strip(wf) == _strip(lower(canvas))


def test_export_refuses_what_flow_cannot_say() -> None:
    c = s("app.add", 1, 2)
    c.link(s("app.notify"))
    with pytest.raises(ExportError, match="link callbacks"):
        export_flow(c)

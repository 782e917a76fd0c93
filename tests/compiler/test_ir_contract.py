"""The IR as the runtime sees it: stable JSON, graph helpers, and argument binding."""

from __future__ import annotations

import pytest
from flowc.compiler.canvas import chord, fanout, group, s, si
from flowc.compiler.canvas.lower import lower
from flowc.compiler.diagnostics import CompileError
from flowc.compiler.ir import Node, Workflow


def sample() -> Workflow:
    c = s("add", 1, 1) | group(s("mul", 2), s("mul", 3)) | s("tsum") | si("notify", 7)
    c.link_error(si("notify", 0))
    return lower(c, on_error=[s("on_error")])


def test_json_round_trip_gives_an_equal_workflow() -> None:
    wf = sample()
    assert Workflow.from_json(wf.to_json()) == wf


def test_json_is_byte_identical_across_round_trips() -> None:
    text = sample().to_json()
    assert Workflow.from_json(text).to_json() == text


def test_json_has_sorted_keys_and_no_whitespace() -> None:
    text = lower(s("add", 1, 2, z=1, a=2)).to_json()
    assert text.startswith('{"errbacks":[],"id":null,')
    assert '"kwargs":{"a":2,"z":1}' in text and ": " not in text


def test_nested_collect_shapes_survive_json() -> None:
    header = [s("add", 1, 1) | group(s("add", 2), s("add", 3)), s("add", 4, 4)]
    wf = lower(chord(header, s("tsum")))
    assert Workflow.from_json(wf.to_json()).node("n4").collect == [["n1", "n2"], "n3"]


def test_roots_successors_and_pending_counts_describe_the_join() -> None:
    wf = sample()
    assert wf.roots() == ["n0"]
    assert wf.successors("n0") == ["n1", "n2"]
    assert wf.pending_count("n3") == 2 and wf.pending_count("n4") == 1


def test_edges_carry_their_binding_kind() -> None:
    wf = Workflow(
        nodes=[
            Node(id="a", task="add", args=[1, 1]),
            Node(id="b", task="add", args=[2, 2]),
            Node(id="c", task="publish", prepend="a", kwarg_inputs={"stats": "b"}),
        ],
        result="c",
    )
    assert [e.binding for e in wf.edges()] == ["prepend", "kwarg:stats"]


def test_topological_order_puts_parents_first_and_is_deterministic() -> None:
    wf = lower(chord([s("add", 1, 1) | s("mul", 2), s("add", 3, 3)], s("tsum")))
    assert wf.topological_order() == ["n0", "n1", "n2", "n3"]


def test_topological_order_of_a_cycle_raises_a_compile_error() -> None:
    wf = Workflow(nodes=[Node(id="a", task="t", prepend="b"), Node(id="b", task="t", prepend="a")])
    with pytest.raises(CompileError, match="cycle"):
        wf.topological_order()


def test_bind_prepends_a_chain_parents_result() -> None:
    wf = lower(s("add", 1, 1) | s("add", 4))
    assert wf.bind("n1", {"n0": 2}) == ([2, 4], {})


def test_bind_prepends_the_collected_list_for_a_chord_body() -> None:
    wf = lower(chord([s("add", 1, 1), s("add", 2, 2)], s("tsum")))
    assert wf.bind("n2", {"n0": 2, "n1": 4}) == ([[2, 4]], {})


def test_bind_passes_nothing_to_an_immutable_step() -> None:
    wf = lower(s("add", 1, 1) | si("notify", 7))
    assert wf.bind("n1", {"n0": 2}) == ([7], {})


def test_bind_fills_dataflow_keyword_inputs() -> None:
    wf = Workflow(
        nodes=[Node(id="a", task="t"), Node(id="b", task="publish", kwarg_inputs={"clean": "a"})]
    )
    assert wf.bind("b", {"a": [1]}) == ([], {"clean": [1]})


def test_incoming_value_of_a_map_node_is_the_list_to_map_over() -> None:
    wf = lower(s("list_stores", "eu") | fanout(s("notify")))
    assert wf.incoming_value("n1", {"n0": [1, 2]}) == (True, [1, 2])


def test_final_result_of_a_group_is_the_ordered_list() -> None:
    wf = lower(group(s("add", 1, 1), s("add", 2, 2)))
    assert wf.final_result({"n1": 4, "n0": 2}) == [2, 4]


def test_unknown_fields_are_rejected_when_loading() -> None:
    with pytest.raises(ValueError, match="extra"):
        Workflow.model_validate({"nodes": [], "surprise": 1})

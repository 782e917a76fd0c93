"""Lowering canvases to the IR: every primitive and the nestings Celery users write."""

from __future__ import annotations

import datetime as dt

import pytest
from flowc.compiler.canvas import chain, chord, fanout, group, s, si
from flowc.compiler.canvas.lower import lower
from flowc.compiler.diagnostics import CanvasError
from flowc.compiler.ir import Workflow


def tasks(wf: Workflow) -> list[str]:
    return [n.task for n in wf.nodes]


def test_a_single_signature_is_one_root_node_that_is_the_result() -> None:
    wf = lower(s("add", 2, 2))
    assert tasks(wf) == ["add"] and wf.roots() == ["n0"] and wf.result == "n0"
    assert wf.node("n0").args == [2, 2]


def test_chain_binds_each_result_as_the_next_steps_first_argument() -> None:
    wf = lower(s("add", 2, 2) | s("add", 4) | s("mul", 8))
    assert [n.prepend for n in wf.nodes] == [None, "n0", "n1"]
    assert wf.result == "n2"


def test_partial_args_given_at_call_time_go_to_the_first_task_of_a_chain() -> None:
    wf = lower(s("add", 4) | s("mul", 2), args=(1,))
    assert wf.node("n0").args == [1, 4] and wf.node("n1").args == [2]


def test_immutable_step_waits_for_its_parent_without_receiving_its_result() -> None:
    wf = lower(s("add", 1, 1) | si("notify", 7))
    node = wf.node("n1")
    assert node.prepend is None and node.after == ["n0"] and node.args == [7]


def test_group_result_is_the_ordered_list_of_its_members() -> None:
    wf = lower(group(s("add", i, i) for i in range(3)))
    assert wf.result == ["n0", "n1", "n2"] and wf.roots() == ["n0", "n1", "n2"]


def test_partial_args_given_to_a_group_go_to_every_member() -> None:
    wf = lower(group(s("add", 1), s("mul", 2)), args=(10,))
    assert [n.args for n in wf.nodes] == [[10, 1], [10, 2]]


def test_chord_body_collects_header_results_in_header_order() -> None:
    wf = lower(chord([s("add", 1, 1), s("add", 2, 2)], s("tsum")))
    assert wf.node("n2").collect == ["n0", "n1"] and wf.pending_count("n2") == 2
    assert wf.result == "n2"


def test_chain_with_a_group_then_a_task_lowers_to_a_chord() -> None:
    wf = lower(s("add", 1, 1) | group(s("mul", 2), s("mul", 3)) | s("tsum"))
    assert [n.prepend for n in wf.nodes[1:3]] == ["n0", "n0"]
    assert wf.node("n3").collect == ["n1", "n2"]


def test_chain_ending_in_a_group_results_in_the_groups_list() -> None:
    wf = lower(chain(s("add", 1, 1), group(s("mul", 2), s("mul", 3))))
    assert wf.result == ["n1", "n2"]


def test_group_of_chains_results_in_each_chains_last_node() -> None:
    wf = lower(group(s("add", 1, 1) | s("mul", 2), s("add", 2, 2) | s("mul", 3)))
    assert wf.result == ["n1", "n3"] and wf.node("n1").prepend == "n0"


def test_chord_inside_a_chain_feeds_its_body_result_to_the_next_step() -> None:
    wf = lower(s("add", 1, 1) | chord([s("mul", 2), s("mul", 3)], s("tsum")) | s("add", 5))
    assert wf.node("n4").prepend == "n3" and wf.node("n3").collect == ["n1", "n2"]


def test_chord_in_a_chord_header_contributes_its_body_result() -> None:
    inner = chord([s("add", 1, 1), s("add", 2, 2)], s("tsum"))
    wf = lower(chord([inner, s("add", 3, 3)], s("tsum")))
    assert wf.node("n4").collect == ["n2", "n3"]


def test_group_of_chords_results_in_each_chords_body() -> None:
    wf = lower(group(chord([s("add", 1, 1)], s("tsum")), chord([s("add", 2, 2)], s("tsum"))))
    assert wf.result == ["n1", "n3"]


def test_nested_group_in_a_chord_header_is_unrolled_like_celery() -> None:
    header = [group(s("add", 1, 1), s("add", 2, 2)), s("add", 3, 3)]
    wf = lower(chord(header, s("tsum")))
    assert wf.node("n3").collect == ["n0", "n1", "n2"]


def test_a_chain_ending_in_a_group_inside_a_group_keeps_its_nesting() -> None:
    wf = lower(group(s("add", 1, 1) | group(s("add", 2), s("add", 3)), s("add", 4, 4)))
    assert wf.result == [["n1", "n2"], "n3"]


def test_empty_group_results_in_an_empty_list() -> None:
    wf = lower(group())
    assert wf.nodes == [] and wf.result == []


def test_empty_chord_body_receives_an_empty_list_and_is_a_root() -> None:
    wf = lower(chord([], s("tsum")))
    assert wf.node("n0").collect == [] and wf.roots() == ["n0"]


def test_empty_chord_after_a_step_still_waits_for_that_step() -> None:
    wf = lower(chain(s("add", 1, 1), chord([], s("tsum"))))
    assert wf.node("n1").collect == [] and wf.node("n1").after == ["n0"]


def test_fanout_is_a_map_node_over_its_parents_result() -> None:
    wf = lower(s("list_stores", "eu") | fanout(s("notify"), max_width=50) | s("tsum"))
    node = wf.node("n1")
    assert (node.kind, node.prepend, node.max_width) == ("map", "n0", 50)
    assert wf.node("n2").prepend == "n1"


def test_fanout_called_directly_maps_over_its_first_partial_argument() -> None:
    wf = lower(fanout(s("notify")), args=([1, 2, 3],))
    assert wf.node("n0").items == [1, 2, 3] and wf.roots() == ["n0"]


def test_fanout_after_a_group_maps_over_the_groups_results() -> None:
    wf = lower(group(s("add", 1, 1), s("add", 2, 2)) | fanout(s("notify")))
    assert wf.node("n2").collect == ["n0", "n1"]


def test_composite_options_apply_to_every_task_unless_the_task_sets_its_own() -> None:
    c = group(s("add", 1, 1), s("add", 2, 2).set(queue="fast")).set(queue="slow", priority=2)
    wf = lower(c)
    assert [n.options for n in wf.nodes] == [
        {"queue": "slow", "priority": 2},
        {"queue": "fast", "priority": 2},
    ]


def test_call_time_options_apply_to_every_task() -> None:
    wf = lower(s("add", 1, 1) | s("mul", 2), options={"queue": "q"})
    assert all(n.options == {"queue": "q"} for n in wf.nodes)


def test_datetime_options_become_iso_strings() -> None:
    eta = dt.datetime(2030, 1, 31, 9, 0, tzinfo=dt.UTC)
    wf = lower(s("add", 1, 1).set(eta=eta))
    assert wf.node("n0").options["eta"] == "2030-01-31T09:00:00+00:00"


def test_link_callback_receives_the_result_but_is_not_the_workflow_result() -> None:
    sig = s("add", 1, 1)
    sig.link(s("mul", 2))
    wf = lower(sig)
    assert wf.node("n1").prepend == "n0" and wf.result == "n0"


def test_link_on_a_group_is_an_immutable_callback_of_its_first_member_like_celery() -> None:
    g = group(s("add", 1, 1), s("add", 2, 2))
    g.link(s("tsum"))
    wf = lower(g)
    callback = wf.node("n1")
    assert callback.task == "tsum" and callback.after == ["n0"] and callback.prepend is None
    assert wf.result == ["n0", "n2"]


def test_link_error_on_a_group_gives_every_member_its_own_errback_like_celery() -> None:
    g = group(s("add", 1, 1), s("add", 2, 2))
    g.link_error(s("notify"))
    wf = lower(g)
    assert [n.link_error for n in wf.nodes] == [["e0"], ["e1"]]


def test_link_error_on_a_chain_attaches_one_errback_to_every_task() -> None:
    c = s("add", 1, 1) | s("mul", 2)
    c.link_error(si("notify", 1))
    wf = lower(c)
    assert [e.id for e in wf.errbacks] == ["e0"] and all(n.link_error == ["e0"] for n in wf.nodes)


def test_workflow_level_errbacks_are_listed_in_on_error() -> None:
    wf = lower(s("add", 1, 1), on_error=[s("on_error")])
    assert wf.on_error == ["e0"] and wf.errback("e0").task == "on_error"


def test_composite_errbacks_are_rejected() -> None:
    sig = s("add", 1, 1)
    sig.link_error(s("notify") | s("notify"))
    with pytest.raises(CanvasError, match="single task signature"):
        lower(sig)


def test_an_empty_chain_cannot_be_lowered() -> None:
    with pytest.raises(CanvasError, match="empty chain"):
        lower(chain())


def test_node_ids_are_deterministic_in_depth_first_order() -> None:
    def build() -> Workflow:
        return lower(chord([s("add", 1, 1) | s("mul", 2), s("add", 3, 3)], s("tsum")))

    assert [n.id for n in build().nodes] == ["n0", "n1", "n2", "n3"]
    assert build().to_json() == build().to_json()


def test_cloning_a_canvas_does_not_share_options_with_the_original() -> None:
    c = s("add", 1, 1) | s("mul", 2)
    copy = c.clone()
    copy.tasks[0].set(queue="other")
    assert lower(c).node("n0").options == {}


def test_a_chord_bodys_errback_stays_on_the_body() -> None:
    """The join fires it as the body's when the header fails (Celery's chord_error_from_stack)."""
    wf = lower(chord([s("add", 1, 1), s("fail")], s("tsum").on_error(si("count", "k"))))
    header, body = wf.nodes[:2], wf.nodes[2]
    assert [eb.task for eb in wf.errbacks] == ["count"]
    assert body.link_error == ["e0"]
    assert header[0].link_error == header[1].link_error == []


def test_a_chords_own_errback_goes_to_its_body() -> None:
    c = chord([s("add", 1, 1), s("fail")], s("tsum"))
    c.link_error(si("count", "k"))
    wf = lower(c)
    assert [n.link_error for n in wf.nodes] == [[], [], ["e0"]]


def test_an_errback_inherited_by_a_chord_also_covers_its_header() -> None:
    c = s("add", 1, 1) | chord([s("add", 1), s("fail")], s("tsum"))
    c.link_error(si("count", "k"))
    wf = lower(c)
    assert [n.link_error for n in wf.nodes] == [["e0"]] * 4

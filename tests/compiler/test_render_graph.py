"""Rendering: Graphviz DOT text, an SVG through ``dot``, and Mermaid text."""

from __future__ import annotations

import shutil

import pytest
from flowc.compiler.canvas import chord, fanout, s, si
from flowc.compiler.canvas.lower import lower
from flowc.compiler.ir import Workflow
from flowc.compiler.render import render, to_dot, to_mermaid


def sample() -> Workflow:
    c = (
        s("list_stores", "eu").set(queue="io")
        | fanout(s("notify"), max_width=50)
        | chord([s("add", 1), s("add", 2)], s("tsum"))
        | si("notify", 7)
    )
    c.tasks[0].link_error(si("on_error"))
    return lower(c)


def test_dot_labels_nodes_with_task_call_and_options() -> None:
    assert "n0 [label=\"list_stores('eu')\nqueue=io\"]" in to_dot(sample())


def test_dot_draws_a_map_as_a_stacked_box_with_its_width() -> None:
    assert 'n1 [label="map \u00d7N ≤ 50\nnotify(item)" shape=box3d' in to_dot(sample())


def test_dot_draws_a_chord_join_as_a_point_fed_by_the_header() -> None:
    dot = to_dot(sample())
    assert 'join_n4 [label="" shape=point' in dot
    assert "n2 -> join_n4 [arrowhead=none]" in dot and "join_n4 -> n4" in dot


def test_dot_draws_errbacks_dashed_red() -> None:
    assert 'n0 -> e0 [label="on error" color="#c62828"' in to_dot(sample())


def test_dot_draws_immutable_dependencies_dotted() -> None:
    assert "n4 -> n5 [style=dotted]" in to_dot(sample())


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs the Graphviz dot binary")
def test_render_produces_svg_through_dot() -> None:
    assert render(sample()).lstrip().startswith(b"<?xml")


def test_mermaid_is_a_top_down_flowchart_with_each_edge_kind() -> None:
    text = to_mermaid(sample())
    assert text.startswith("flowchart TD\n")
    assert "    n0(\"list_stores('eu')<br/>queue=io\")" in text
    assert '    n1[["map \u00d7N ≤ 50<br/>notify(item)"]]' in text
    assert "    n2 --- join_n4" in text and "    join_n4 --> n4" in text
    assert "    n4 -.-> n5" in text and "    n0 -. on error .-> e0" in text


def test_mermaid_escapes_quotes_in_labels() -> None:
    assert "#quot;" in to_mermaid(lower(s("notify", 'say "hi"')))

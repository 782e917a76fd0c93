"""Validation reports every problem with a code, the node, and a hint where one helps."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

import pytest
from flowc.compiler.canvas import chord, fanout, s, si
from flowc.compiler.canvas.lower import lower
from flowc.compiler.diagnostics import CompileError
from flowc.compiler.ir import Node, Workflow
from flowc.compiler.validate import check, compile_canvas, validate
from flowc.dsl.diagnostics import Diagnostic


def codes(problems: list[Diagnostic]) -> list[str]:
    return [p.code for p in problems]


def test_a_valid_canvas_has_no_problems(registry: dict[str, Any]) -> None:
    c = s("add", 1, 1) | chord([s("add", 1), s("mul", 2)], s("tsum")) | si("notify", 1)
    c.link_error(s("on_error"))
    assert validate(lower(c), registry) == []


def test_unknown_task_is_reported_with_did_you_mean(registry: dict[str, Any]) -> None:
    (problem,) = validate(lower(s("analyze_chunks", 1)), registry)
    assert problem.code == "F201" and problem.node == "n0"
    assert problem.hint == "did you mean 'analyze_chunk'?"


def test_too_many_arguments_counts_the_parents_result(registry: dict[str, Any]) -> None:
    (problem,) = validate(lower(s("add", 1, 1) | s("add", 2, 3)), registry)
    assert problem.code == "F301" and problem.node == "n1"
    assert "too many positional arguments" in problem.message
    assert problem.hint is not None and "si()" in problem.hint


def test_missing_argument_is_reported_for_a_root(registry: dict[str, Any]) -> None:
    (problem,) = validate(lower(s("add", 1)), registry)
    assert problem.code == "F302" and "missing a required argument: 'y'" in problem.message


def test_chord_body_counts_the_collected_list_as_one_argument(registry: dict[str, Any]) -> None:
    (problem,) = validate(lower(chord([s("add", 1, 1)], s("tsum", [0]))), registry)
    assert problem.node == "n1" and problem.code == "F301"


def test_fanout_counts_the_element_as_the_first_argument(registry: dict[str, Any]) -> None:
    assert validate(lower(s("list_stores", "eu") | fanout(s("notify"))), registry) == []
    (problem,) = validate(lower(s("list_stores", "eu") | fanout(s("notify", 1))), registry)
    assert problem.node == "n1"


def test_unknown_keyword_argument_is_reported_with_did_you_mean(registry: dict[str, Any]) -> None:
    (problem,) = validate(lower(s("analyze_chunk", 1, mdoe="deep")), registry)
    assert problem.code == "F303" and "unexpected keyword argument 'mdoe'" in problem.message
    assert problem.hint == "did you mean 'mode'?"


def test_dataflow_keyword_inputs_count_as_supplied(registry: dict[str, Any]) -> None:
    wf = Workflow(
        nodes=[
            Node(id="a", task="list_stores", args=["eu"]),
            Node(id="b", task="list_stores", args=["us"]),
            Node(id="c", task="publish", kwarg_inputs={"clean": "a", "stats": "b"}),
        ]
    )
    assert validate(wf, registry) == []


def test_errback_must_accept_the_failure_unless_immutable(registry: dict[str, Any]) -> None:
    sig = s("add", 1, 1)
    sig.link_error(s("tsum", [1]))
    (problem,) = validate(lower(sig), registry)
    assert problem.code == "F301" and problem.node == "e0"


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"priority": 10}, "F407"),
        ({"priority": True}, "F407"),
        ({"countdown": -1}, "F409"),
        ({"queue": ""}, "F402"),
        ({"rate_limit": "10/x"}, "F406"),
        ({"max_retries": -1}, "F402"),
        ({"time_limit": 0}, "F409"),
        ({"soft_time_limit": 20, "time_limit": 10}, "F402"),
        ({"eta": "tomorrow"}, "F402"),
        ({"eta": "2030-01-01T00:00:00", "countdown": 5}, "F403"),
        ({"qeueu": "x"}, "F401"),
    ],
)
def test_bad_options_are_reported(
    registry: dict[str, Any], options: dict[str, Any], code: str
) -> None:
    assert codes(validate(lower(s("add", 1, 1).set(**options)), registry)) == [code]


@pytest.mark.parametrize("rate", ["10/s", "10/m", "100/h", "5/5m", 2.5])
def test_valid_rate_limits_are_accepted(registry: dict[str, Any], rate: Any) -> None:
    assert validate(lower(s("add", 1, 1).set(rate_limit=rate)), registry) == []


def test_unknown_option_hints_at_the_celery_name(registry: dict[str, Any]) -> None:
    (problem,) = validate(lower(s("add", 1, 1).set(retries=3)), registry)
    assert problem.hint == "flowc uses Celery's name: 'max_retries'"


def test_misspelt_option_gets_did_you_mean(registry: dict[str, Any]) -> None:
    (problem,) = validate(lower(s("add", 1, 1).set(prority=1)), registry)
    assert problem.hint == "did you mean 'priority'?"


def test_non_json_arguments_are_reported(registry: dict[str, Any]) -> None:
    (problem,) = validate(lower(s("notify", object())), registry)
    assert problem.code == "F310"


def test_a_cycle_is_reported_with_its_path() -> None:
    wf = Workflow(nodes=[Node(id="a", task="t", prepend="b"), Node(id="b", task="t", prepend="a")])
    (problem,) = validate(wf)
    assert problem.code == "F209" and problem.message in {
        "cycle: a -> b -> a",
        "cycle: b -> a -> b",
    }


def test_dangling_references_stop_validation_after_the_structure_pass() -> None:
    wf = Workflow(nodes=[Node(id="a", task="nope", prepend="ghost")], result="a")
    (problem,) = validate(wf, {"t": print})
    assert problem.code == "F210" and "ghost" in problem.message


def test_map_node_without_a_list_is_malformed() -> None:
    wf = Workflow(nodes=[Node(id="a", task="t", kind="map", max_width=5)])
    assert codes(validate(wf)) == ["F210"]


def test_every_problem_is_reported_at_once(registry: dict[str, Any]) -> None:
    c = s("ad", 1) | s("add", 1, 2, 3).set(priority=99)
    assert codes(validate(lower(c), registry)) == ["F201", "F301", "F407"]


def test_check_raises_a_compile_error_listing_every_problem(registry: dict[str, Any]) -> None:
    with pytest.raises(CompileError) as caught:
        check(lower(s("ad", 1) | s("mull", 2)), registry)
    assert len(caught.value.problems) == 2
    assert "workflow has 2 problems" in str(caught.value)


def test_compile_canvas_lowers_and_checks(registry: dict[str, Any]) -> None:
    wf = compile_canvas(s("add", 1) | s("mul", 2), registry, args=(5,))
    assert wf.node("n0").args == [5, 1]


class ObjectRegistry:
    """A registry that is not a mapping, as the runtime's App will be."""

    def names(self) -> Iterable[str]:
        return ["bound_task"]

    def signature(self, name: str) -> inspect.Signature | None:
        def bound_task(x: int) -> None: ...

        return inspect.signature(bound_task)


def test_a_registry_object_supplies_names_and_signatures_without_self() -> None:
    assert validate(lower(s("bound_task", 1)), ObjectRegistry()) == []
    assert codes(validate(lower(s("bound_task", 1, 2)), ObjectRegistry())) == ["F301"]

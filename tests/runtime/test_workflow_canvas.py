"""Canvas primitives run as workflow runs joined in Redis: results, ordering, nesting."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flowc.compiler.canvas.primitives import chain, chord, fanout, group
from flowc.runtime.app import App
from flowc.runtime.group_result import GroupResult

from tests.runtime.support import BackgroundConsumer, add_arithmetic_tasks, use_publish_mode


@pytest.fixture
def wf_app(app: App, publish_mode: str,
           request: pytest.FixtureRequest) -> Iterator[App]:
    """The test App with a few tasks and a consumer running in the background, once with each
    ``flowc_workflow_publish``."""
    use_publish_mode(app, publish_mode, request)
    add_arithmetic_tasks(app)

    @app.task(name="echo")
    def echo(*args: Any, **kwargs: Any) -> Any:
        return [list(args), kwargs]

    @app.task(name="square")
    def square(x: int) -> int:
        return x * x

    worker = BackgroundConsumer(app)
    yield app
    worker.stop()


def t(app: App, name: str) -> Any:
    return app.tasks[name]


def test_chain_prepends_each_result_to_the_next_steps_arguments(wf_app: App) -> None:
    add = t(wf_app, "add")
    result = chain(add.s(1, 2), add.s(10), add.s(100)).delay()
    assert result.get(timeout=5) == 113
    assert result.parent.get(timeout=1) == 13


def test_pipe_operator_builds_the_same_chain(wf_app: App) -> None:
    add = t(wf_app, "add")
    assert (add.s(1, 1) | add.s(1) | add.s(1)).delay().get(timeout=5) == 4


def test_immutable_step_ignores_its_parents_result(wf_app: App) -> None:
    add = t(wf_app, "add")
    assert chain(add.s(1, 1), add.si(5, 5)).delay().get(timeout=5) == 10


def test_group_results_come_back_in_group_order(wf_app: App) -> None:
    add = t(wf_app, "add")
    result = group(add.s(i, i) for i in range(8)).delay()
    assert isinstance(result, GroupResult)
    assert result.get(timeout=5) == [0, 2, 4, 6, 8, 10, 12, 14]
    assert result.completed_count() == 8


def test_chord_body_receives_header_results_in_header_order(wf_app: App) -> None:
    echo = t(wf_app, "echo")
    result = chord([t(wf_app, "square").s(i) for i in range(5)], echo.s("tail")).delay()
    assert result.get(timeout=5) == [[[0, 1, 4, 9, 16], "tail"], {}]


def test_chord_called_with_its_body_like_celery(wf_app: App) -> None:
    header = chord([t(wf_app, "add").s(i, 1) for i in range(3)])
    assert header(t(wf_app, "tsum").s()).get(timeout=5) == 6


def test_group_followed_by_a_task_in_a_chain_becomes_a_chord(wf_app: App) -> None:
    add, tsum = t(wf_app, "add"), t(wf_app, "tsum")
    result = (group(add.s(i, i) for i in range(4)) | tsum.s()).delay()
    assert result.get(timeout=5) == 12


def test_chain_ending_in_a_group_fans_the_result_out(wf_app: App) -> None:
    add = t(wf_app, "add")
    result = chain(add.s(1, 1), group(add.s(10), add.s(20))).delay()
    assert result.get(timeout=5) == [12, 22]


def test_group_of_chains_returns_each_chains_last_result(wf_app: App) -> None:
    add = t(wf_app, "add")
    result = group(chain(add.s(i, 0), add.s(1), add.s(1)) for i in range(3)).delay()
    assert result.get(timeout=5) == [2, 3, 4]


def test_chord_inside_a_chain_passes_its_result_on(wf_app: App) -> None:
    add, tsum = t(wf_app, "add"), t(wf_app, "tsum")
    result = chain(add.s(1, 1), chord([add.s(1), add.s(2)], tsum.s()), add.s(100)).delay()
    assert result.get(timeout=5) == 107


def test_chord_in_a_chord_header_is_joined_before_the_outer_body(wf_app: App) -> None:
    add, tsum = t(wf_app, "add"), t(wf_app, "tsum")
    inner = chord([add.s(1, 1), add.s(2, 2)], tsum.s())
    result = chord([inner, add.s(10, 10)], tsum.s()).delay()
    assert result.get(timeout=5) == 26


def test_group_of_chords_all_fire(wf_app: App) -> None:
    """Celery issue 2922: nested chords inside a group never fired."""
    add, tsum = t(wf_app, "add"), t(wf_app, "tsum")
    result = group(chord([add.s(i, j) for j in range(3)], tsum.s()) for i in range(3)).delay()
    assert result.get(timeout=5) == [3, 6, 9]


def test_empty_chord_runs_its_body_with_an_empty_list(wf_app: App) -> None:
    assert chord([], t(wf_app, "tsum").s()).delay().get(timeout=5) == 0


def test_fanout_maps_over_a_list_produced_at_run_time(wf_app: App) -> None:
    upto, square, tsum = t(wf_app, "upto"), t(wf_app, "square"), t(wf_app, "tsum")
    result = chain(upto.s(5), fanout(square.s()), tsum.s()).delay()
    assert result.get(timeout=5) == 30
    assert result.parent.get(timeout=1) == [0, 1, 4, 9, 16]


def test_fanout_over_an_empty_list_gives_an_empty_list(wf_app: App) -> None:
    upto, square = t(wf_app, "upto"), t(wf_app, "square")
    assert chain(upto.s(0), fanout(square.s())).delay().get(timeout=5) == []


def test_fanout_wider_than_its_cap_fails_clearly_without_running(wf_app: App) -> None:
    upto, square = t(wf_app, "upto"), t(wf_app, "square")
    result = chain(upto.s(20), fanout(square.s(), max_width=10)).delay()
    with pytest.raises(Exception, match="20 items, more than its max_width of 10"):
        result.get(timeout=5)


def test_workflow_state_of_every_node_is_visible(wf_app: App) -> None:
    add = t(wf_app, "add")
    result = chain(add.s(1, 1), add.s(1)).delay()
    result.get(timeout=5)
    run = wf_app.workflow(result.workflow_id)
    assert run.status() == "SUCCESS"
    assert {n: s["state"] for n, s in run.nodes().items()} == {"n0": "SUCCESS", "n1": "SUCCESS"}


def test_a_finished_run_expires_with_the_results(wf_app: App, redis_client: redis.Redis) -> None:
    add = t(wf_app, "add")
    result = chain(add.s(1, 1), add.s(1)).delay()
    result.get(timeout=5)
    ttls = [redis_client.ttl(key) for key in wf_app.keys.workflow(result.workflow_id)]
    assert all(0 < ttl <= 86400 or ttl == -2 for ttl in ttls), ttls  # -2: never created


def test_a_flow_map_wider_than_its_max_names_its_place_and_max(wf_app: App) -> None:
    from flowc.compiler.flow.compile import compile_flow
    from flowc.compiler.flow.resolve import catalog_from_tasks
    from flowc.dsl.parser import parse

    source = "flow wide {\n    upto(20)\n        -> map square() max 10\n}\n"
    wf, diags = compile_flow(parse(source), catalog_from_tasks(wf_app.tasks), "wide",
                             filename="wide.flow")
    assert wf is not None and diags == []
    result = wf_app.submit_workflow(wf)
    message = "map square at wide.flow:3:12 got 20 items, more than its max 10"
    with pytest.raises(Exception, match=message):
        result.get(timeout=5)

"""Celery 5 canvas and result behaviours, run as flowc workflows on a real Redis (issue 20).

Each test states one behaviour Celery documents (docs/userguide/canvas.rst, results) or tests
(t/integration/test_canvas.py, t/unit/tasks/test_canvas.py, test_result.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import redis
from flowc.compiler.canvas.primitives import chain, chord, group
from flowc.compiler.canvas.signature import signature
from flowc.runtime.app import App
from flowc.runtime.result import AsyncResult

from flowc import GroupResult, ResultSet
from flowc.exceptions import ChordError
from tests.runtime.support import BackgroundConsumer, add_arithmetic_tasks


class Boom(Exception):
    """Raised by the failing test task."""


@pytest.fixture
def capp(app: App, redis_client: redis.Redis) -> Iterator[App]:
    """Celery's integration-test tasks (add, tsum, ids, fail, count...) and a consumer."""
    add_arithmetic_tasks(app)

    @app.task(name="ids", bind=True)
    def ids(self: Any, i: int) -> list[Any]:
        return [self.request.root_id, self.request.parent_id, i]

    @app.task(name="identity")
    def identity(x: Any) -> Any:
        return x

    @app.task(name="fail")
    def fail(*args: Any) -> None:
        raise Boom("expected")

    @app.task(name="count")
    def count(*args: Any) -> None:
        redis_client.rpush("test:count", orjson.dumps(list(args)))

    @app.task(name="record_id")
    def record_id(task_id: str) -> None:
        redis_client.rpush("test:count", orjson.dumps([task_id]))

    @app.task(name="errback_new_style")
    def errback_new_style(request: Any, exc: BaseException, traceback: str) -> None:
        redis_client.rpush("test:count", orjson.dumps([request.id, type(exc).__name__]))

    worker = BackgroundConsumer(app)
    yield app
    worker.stop()


def t(app: App, name: str) -> Any:
    return app.tasks[name]


def recorded(client: redis.Redis, n: int, timeout: float = 5.0) -> list[Any]:
    """Wait (blocking on Redis) until ``n`` calls are recorded; return them."""
    out = []
    for _ in range(n):
        item = client.blpop(["test:count"], timeout=timeout)
        assert item is not None, f"only {len(out)} of {n} calls recorded: {out}"
        out.append(orjson.loads(item[1]))
    return out


# --- bound tasks -------------------------------------------------------------------------------

def test_bound_tasks_chain_with_the_previous_result_as_their_first_argument(capp: App) -> None:
    ids = t(capp, "ids")
    result = chain(ids.s(1), t(capp, "identity").s(), ids.si(3)).delay()
    assert result.get(timeout=5)[2] == 3


def test_chain_steps_see_celerys_root_and_parent_ids(capp: App) -> None:
    ids = t(capp, "ids")
    result = chain(ids.si(i) for i in range(3)).delay()
    root = result.parent.parent
    assert result.get(timeout=5) == [root.id, result.parent.id, 2]
    assert result.parent.get(timeout=1) == [root.id, root.id, 1]


def test_group_members_after_a_chain_see_its_root_and_parent(capp: App) -> None:
    """Celery's t/integration/test_canvas.py::test_group::test_parent_ids."""
    ids = t(capp, "ids")
    result = (ids.si(1) | ids.si(2) | group(ids.si(i) for i in range(2, 6))).delay()
    root, parent = result.parent.parent.id, result.parent.id
    assert result.get(timeout=5) == [[root, parent, i] for i in range(2, 6)]


# --- errbacks ----------------------------------------------------------------------------------

def test_an_immutable_errback_gets_only_its_own_arguments(capp: App,
                                                          redis_client: redis.Redis) -> None:
    t(capp, "fail").apply_async(link_error=t(capp, "count").si("x"))
    assert recorded(redis_client, 1) == [["x"]]


def test_a_mutable_one_argument_errback_gets_the_failed_task_id(capp: App,
                                                                 redis_client: redis.Redis) -> None:
    result = t(capp, "fail").s().on_error(t(capp, "record_id").s()).delay()
    with pytest.raises(Boom):
        result.get(timeout=5)
    assert recorded(redis_client, 1) == [[result.id]]


def test_group_errback_runs_once_per_failed_member(capp: App, redis_client: redis.Redis) -> None:
    fail = t(capp, "fail")
    g = group(fail.s(), fail.s(), t(capp, "add").s(1, 1))
    g.link_error(t(capp, "count").si())
    g.delay()
    assert recorded(redis_client, 2) == [[], []]


def test_a_tasks_own_errback_fires_for_each_use_of_the_signature(
        capp: App, redis_client: redis.Redis) -> None:
    """Celery's test_group_children_with_errbacks / test_chain_children_with_errbacks."""
    child = t(capp, "fail").si()
    child.link_error(t(capp, "count").si("eb"))
    with pytest.raises(Boom):
        group(child for _ in range(3)).delay().get(timeout=5)
    assert recorded(redis_client, 3) == [["eb"]] * 3
    with pytest.raises(Boom):
        chain(child for _ in range(3)).delay().get(timeout=5)
    assert recorded(redis_client, 1) == [["eb"]]
    assert redis_client.blpop(["test:count"], timeout=0.5) is None  # the chain stopped


# --- group links, flattening -------------------------------------------------------------------

def test_group_link_runs_an_immutable_callback_after_the_first_member(
        capp: App, redis_client: redis.Redis) -> None:
    g = group(t(capp, "add").s(2, 2), t(capp, "add").s(4, 4))
    g.link(t(capp, "count").s())
    assert g.delay().get(timeout=5) == [4, 8]
    assert recorded(redis_client, 1) == [[]]


def test_group_apply_async_refuses_link_like_celery(capp: App) -> None:
    g = group(t(capp, "add").s(2, 2))
    with pytest.raises(TypeError, match="use a chord"):
        g.apply_async(link=t(capp, "count").s())
    with pytest.raises(TypeError, match="individual tasks"):
        g.apply_async(link_error=t(capp, "count").s())


def test_nested_groups_are_unrolled_into_one_flat_result(capp: App) -> None:
    add = t(capp, "add")
    result = group(group(add.s(1, 1), add.s(2, 2)), add.s(3, 3)).delay()
    assert result.get(timeout=5) == [2, 4, 6]


def test_nested_group_in_a_chord_header_gives_the_body_a_flat_list(capp: App) -> None:
    add, identity = t(capp, "add"), t(capp, "identity")
    header = [group(add.s(1, 1), add.s(2, 2)), add.s(3, 3)]
    assert chord(header, identity.s()).delay().get(timeout=5) == [2, 4, 6]


def test_single_member_group_in_a_chain_is_its_task(capp: App) -> None:
    add = t(capp, "add")
    assert chain(group(add.s(1, 1)), add.s(10)).delay().get(timeout=5) == 12
    assert chain(add.s(1, 1), group(add.s(10)), add.s(100)).delay().get(timeout=5) == 112


def test_chain_inside_a_group_and_chord_with_a_chain_body(capp: App) -> None:
    add, tsum = t(capp, "add"), t(capp, "tsum")
    g = group(add.s(1, 1) | add.s(1), add.s(2, 2) | add.s(2))
    assert g.delay().get(timeout=5) == [3, 6]
    assert chord([add.s(1, 1), add.s(2, 2)], tsum.s() | add.s(100)).delay().get(timeout=5) == 106


def test_group_of_zero_and_of_one(capp: App) -> None:
    assert group([], app=capp).delay().get(timeout=5) == []
    result = group(t(capp, "add").s(1, 1)).delay()
    assert isinstance(result, GroupResult) and result.get(timeout=5) == [2]


def test_chord_with_an_empty_header_calls_the_body_with_an_empty_list(capp: App) -> None:
    assert chord([], t(capp, "identity").s(), app=capp).delay().get(timeout=5) == []


def test_chain_apply_async_args_are_prepended_to_the_first_step(capp: App) -> None:
    add = t(capp, "add")
    assert chain(add.s(1), add.s(10)).apply_async(args=(5,)).get(timeout=5) == 16


# --- freeze, ids, parents, children ------------------------------------------------------------

def test_frozen_signature_id_is_the_id_of_its_result(capp: App) -> None:
    sig = t(capp, "add").s(1, 1)
    frozen = sig.freeze()
    assert sig.id == frozen.id
    result = sig.delay()
    assert result.id == frozen.id and frozen.get(timeout=5) == 2


def test_frozen_chain_results_are_the_runs_results_with_parents(capp: App) -> None:
    add = t(capp, "add")
    c = chain(add.s(1, 1), add.s(1), add.s(1))
    frozen = c.freeze()
    result = c.delay()
    assert [result.id, result.parent.id, result.parent.parent.id] == \
        [frozen.id, frozen.parent.id, frozen.parent.parent.id]
    assert frozen.get(timeout=5) == 4 and frozen.parent.get(timeout=1) == 3


def test_frozen_group_and_chord_ids_are_the_runs(capp: App) -> None:
    add, tsum = t(capp, "add"), t(capp, "tsum")
    g = group(add.s(i, i) for i in range(3))
    frozen = g.freeze()
    result = g.delay()
    assert result.id == frozen.id == g.id
    assert [r.id for r in result] == [r.id for r in frozen]
    c = chord([add.s(1, 1), add.s(2, 2)], tsum.s())
    body = c.freeze()
    out = c.delay()
    assert out.id == body.id and body.parent.id == c.id
    assert body.get(timeout=5) == 6


def test_every_step_of_an_all_immutable_chain_has_its_parent_and_children(capp: App) -> None:
    add = t(capp, "add")
    result = chain(add.si(1, 1), add.si(2, 2), add.si(3, 3)).delay()
    assert result.get(timeout=5) == 6
    first = result.parent.parent
    assert first.get(timeout=1) == 2 and first.parent is None
    assert first.children == [result.parent] and result.parent.children == [result]


# --- results -----------------------------------------------------------------------------------

def test_result_set_waits_for_and_counts_its_members(capp: App) -> None:
    add = t(capp, "add")
    rs = ResultSet([add.delay(1, 1), add.delay(2, 2)])
    third = add.delay(3, 3)
    rs.add(third)
    rs.add(third)
    assert len(rs) == 3
    assert rs.join(timeout=5) == [2, 4, 6] and rs.join_native(timeout=5) == [2, 4, 6]
    assert rs.ready() and rs.successful() and not rs.failed() and not rs.waiting()
    assert rs.completed_count() == 3
    rs.remove(third)
    assert rs.get(timeout=5) == [2, 4]
    with pytest.raises(KeyError):
        rs.remove(third)


def test_result_set_with_a_failed_member_raises_and_reports_failed(capp: App) -> None:
    rs = ResultSet([t(capp, "add").delay(1, 1), t(capp, "fail").delay()])
    with pytest.raises(Boom):
        rs.join(timeout=5)
    assert rs.failed() and not rs.successful() and rs.completed_count() == 1


def test_group_result_saved_and_restored_by_id(capp: App) -> None:
    result = group(t(capp, "add").s(i, i) for i in range(3)).delay()
    result.save()
    restored = GroupResult.restore(result.id, app=capp)
    assert restored is not None and restored.id == result.id
    assert [r.id for r in restored] == [r.id for r in result]
    assert restored.get(timeout=5) == [0, 2, 4]
    restored.delete()
    assert GroupResult.restore(result.id, app=capp) is None


def test_group_result_restore_without_an_app_uses_the_current_app(capp: App) -> None:
    result = group(t(capp, "add").s(i, i) for i in range(2)).delay().save()
    restored = GroupResult.restore(result.id)
    assert restored is not None and restored.app is capp
    assert restored.get(timeout=5) == [0, 2]


def test_a_chord_body_whose_header_failed_holds_a_chord_error(capp: App) -> None:
    add, fail, tsum = t(capp, "add"), t(capp, "fail"), t(capp, "tsum")
    header = group(add.s(1, 1), fail.s())
    frozen = header.freeze()
    result = chord(header, tsum.s()).delay()
    with pytest.raises(ChordError) as info:
        result.get(timeout=5, follow_parents=False)
    assert str(info.value) == f"Dependency {frozen.results[1].id} raised Boom('expected')"
    assert isinstance(capp.AsyncResult(result.id).result, ChordError)


def test_a_chord_result_raises_the_failed_header_tasks_exception_first(capp: App) -> None:
    """Celery's get(follow_parents=True): the header's failure, before the body's ChordError
    (t/integration/test_canvas.py::test_error_propagates_to_chord_from_simple)."""
    result = chord([t(capp, "fail").s()], t(capp, "identity").s()).delay()
    with pytest.raises(Boom):
        result.get(timeout=5)
    with pytest.raises(ChordError):
        capp.AsyncResult(result.id).get(timeout=5)


def test_an_eager_chord_whose_header_failed_raises_its_exception(capp: App) -> None:
    result = chord([t(capp, "fail").s()], t(capp, "tsum").s()).apply()
    with pytest.raises(Boom):
        result.get()
    assert isinstance(result._load()["result"], dict)
    assert result._load()["result"]["exc_type"] == "ChordError"


# --- signatures as data ------------------------------------------------------------------------

def test_signature_dict_round_trip_through_json_runs(capp: App) -> None:
    add, tsum = t(capp, "add"), t(capp, "tsum")
    canvas = chord([add.s(1, 1), add.s(2, 2)], tsum.s())
    rebuilt = signature(json.loads(json.dumps(canvas)), app=capp)
    assert rebuilt == canvas
    assert rebuilt.delay().get(timeout=5) == 6


def test_async_result_children_is_empty_for_a_lone_task(capp: App) -> None:
    result = t(capp, "add").delay(1, 1)
    assert isinstance(result, AsyncResult) and result.children == []


# --- Task.replace, add_to_chord ------------------------------------------------------------------

@pytest.fixture
def rapp(capp: App) -> App:
    """Tasks that replace themselves with a signature, a chain, a group or a failing task."""

    @capp.task(name="replace_with", bind=True)
    def replace_with(self: Any, x: int, how: str) -> Any:
        add, fail = self.app.tasks["add"], self.app.tasks["fail"]
        canvases = {"sig": add.s(x, 10), "chain": add.s(x, 1) | add.s(1000),
                    "group": group(add.s(x, 1), add.s(x, 2)), "fail": fail.s()}
        return self.replace(canvases[how])

    @capp.task(name="grow_chord", bind=True)
    def grow_chord(self: Any) -> None:
        self.add_to_chord(self.app.tasks["add"].s(1, 1))

    return capp


def test_a_replaced_tasks_result_is_its_replacements(rapp: App) -> None:
    result = rapp.tasks["replace_with"].delay(5, "chain")
    assert result.get(timeout=5) == 1006


def test_a_replaced_group_gives_the_replaced_task_the_list(rapp: App) -> None:
    assert rapp.tasks["replace_with"].delay(5, "group").get(timeout=5) == [6, 7]


def test_a_replaced_chain_step_passes_the_replacements_result_on(rapp: App) -> None:
    add, replace_with = rapp.tasks["add"], rapp.tasks["replace_with"]
    result = chain(add.s(1, 1), replace_with.s("sig"), add.s(100)).delay()
    assert result.get(timeout=5) == 112
    assert result.parent.get(timeout=1) == 12  # the replaced step's own id has the result


def test_a_replaced_chord_member_is_joined_with_its_replacements_result(rapp: App) -> None:
    add, replace_with = rapp.tasks["add"], rapp.tasks["replace_with"]
    result = chord([add.s(1, 1), replace_with.s(5, "group")], rapp.tasks["identity"].s()).delay()
    assert result.get(timeout=5) == [2, [6, 7]]


def test_a_failing_replacement_fails_the_replaced_step_and_what_follows(
        rapp: App, redis_client: redis.Redis) -> None:
    add, replace_with = rapp.tasks["add"], rapp.tasks["replace_with"]
    result = chain(replace_with.s(1, "fail"), add.s(1)).on_error(
        rapp.tasks["count"].si("failed")).delay()
    with pytest.raises(Boom):
        result.get(timeout=5)
    with pytest.raises(Boom):
        result.parent.get(timeout=5)
    assert recorded(redis_client, 1) == [["failed"]]


def test_replace_in_eager_mode_returns_the_replacements_value(rapp: App) -> None:
    assert rapp.tasks["replace_with"].apply((5, "chain")).get() == 1006


def test_add_to_chord_is_refused_with_a_reason(rapp: App) -> None:
    result = chord([rapp.tasks["grow_chord"].s()], rapp.tasks["identity"].s()).delay()
    with pytest.raises(NotImplementedError, match="add_to_chord is not supported"):
        result.get(timeout=5)

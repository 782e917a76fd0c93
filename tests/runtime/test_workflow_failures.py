"""Failure rules: a failed step stops its dependents, errbacks fire once, duplicates are no-ops."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import redis
from flowc.compiler.canvas.primitives import chain, chord, group
from flowc.runtime.app import App
from flowc.runtime.worker.consumer import Consumer
from flowc.runtime.workflows.join import JoinOp

from tests.runtime.support import (
    BackgroundConsumer,
    add_arithmetic_tasks,
    use_publish_mode,
    wait_settled,
)
from tests.waiting import wait_until


class StepFailed(Exception):
    """Raised by the failing test task."""


@pytest.fixture
def fapp(app: App, redis_client: redis.Redis, publish_mode: str,
         request: pytest.FixtureRequest) -> Iterator[App]:
    """Tasks that fail, record errback calls in Redis, and a background consumer, once with
    each ``flowc_workflow_publish``."""
    use_publish_mode(app, publish_mode, request)
    add_arithmetic_tasks(app)

    @app.task(name="fail")
    def fail(*args: Any) -> None:
        raise StepFailed("step exploded")

    @app.task(name="on_error_id")
    def on_error_id(task_id: str) -> None:
        redis_client.rpush("test:errbacks", orjson.dumps(["id", task_id]))

    @app.task(name="on_error_celery")
    def on_error_celery(request: Any, exc: BaseException, traceback: str) -> None:
        redis_client.rpush("test:errbacks", orjson.dumps(
            ["celery", request.id, type(exc).__name__, "step exploded" in traceback]))

    worker = BackgroundConsumer(app)
    yield app
    worker.stop()


def calls(client: redis.Redis) -> list[Any]:
    return [orjson.loads(x) for x in client.lrange("test:errbacks", 0, -1)]


def test_a_failed_step_raises_from_the_workflows_result_and_later_steps_never_run(
        fapp: App, redis_client: redis.Redis) -> None:
    add, fail = fapp.tasks["add"], fapp.tasks["fail"]
    result = chain(add.s(1, 1), fail.s(), add.s(5)).delay()
    with pytest.raises(Exception, match="step exploded"):
        result.get(timeout=5)
    states = {n: s["state"] for n, s in fapp.workflow(result.workflow_id).nodes().items()}
    assert states == {"n0": "SUCCESS", "n1": "FAILURE", "n2": "SKIPPED"}


def test_chord_body_does_not_run_when_a_header_task_fails(fapp: App) -> None:
    add, fail, tsum = fapp.tasks["add"], fapp.tasks["fail"], fapp.tasks["tsum"]
    result = chord([add.s(1, 1), fail.s(), add.s(2, 2)], tsum.s()).delay()
    with pytest.raises(Exception, match="step exploded"):
        result.get(timeout=5)
    run = fapp.workflow(result.workflow_id)
    assert run.status() == "FAILURE"
    assert run.nodes()["n3"]["state"] == "SKIPPED"


def test_link_error_on_a_chain_fires_exactly_once_with_the_failed_task_id(
        fapp: App, redis_client: redis.Redis) -> None:
    add, fail = fapp.tasks["add"], fapp.tasks["fail"]
    workflow = chain(add.s(1, 1), fail.s(), add.s(1))
    workflow.link_error(fapp.tasks["on_error_id"].s())
    result = workflow.delay()
    with pytest.raises(StepFailed):
        result.get(timeout=5)
    failed_task = fapp.workflow(result.workflow_id).nodes()["n1"]["task_id"]
    wait_until(lambda: calls(redis_client), 5, "the errback")
    wait_settled(fapp)
    assert calls(redis_client) == [["id", failed_task]]


def test_errback_taking_request_exc_traceback_gets_celerys_arguments(
        fapp: App, redis_client: redis.Redis) -> None:
    fail = fapp.tasks["fail"]
    result = fail.apply_async((1,), link_error=fapp.tasks["on_error_celery"].s())
    with pytest.raises(StepFailed):
        result.get(timeout=5)
    wait_until(lambda: calls(redis_client), 5, "the errback")
    assert calls(redis_client) == [["celery", result.id, "StepFailed", True]]


def test_two_failing_header_tasks_fire_the_errback_once(fapp: App,
                                                        redis_client: redis.Redis) -> None:
    fail, tsum = fapp.tasks["fail"], fapp.tasks["tsum"]
    workflow = chord([fail.s(), fail.s()], tsum.s())
    workflow.link_error(fapp.tasks["on_error_id"].s())
    result = workflow.delay()
    with pytest.raises(StepFailed):
        result.get(timeout=5)
    wait_until(lambda: calls(redis_client), 5, "the errback")
    wait_settled(fapp)
    assert len(calls(redis_client)) == 1


def test_duplicate_completion_of_a_step_changes_nothing(fapp: App) -> None:
    """A redelivered acks_late task that finishes twice must not double-count the join."""
    add, tsum = fapp.tasks["add"], fapp.tasks["tsum"]
    result = chord([add.s(1, 1), add.s(2, 2)], tsum.s()).delay()
    assert result.get(timeout=5) == 6
    wid = result.workflow_id
    [reply] = fapp.workflow_join.join([JoinOp("done", wid, "n0", result_json=b"1000")])
    assert (reply.applied, reply.ready) == (0, [])  # the body is not offered again
    assert fapp.workflow_join.status(wid)["left"] == "0"
    assert set(fapp.workflow_join.node_states(wid).values()) == {"SUCCESS"}
    assert fapp.broker.depth("celery")["ready"] == 0  # nor was it enqueued again


def test_a_failure_in_one_group_member_leaves_the_others_running(fapp: App) -> None:
    add, fail = fapp.tasks["add"], fapp.tasks["fail"]
    result = group(add.s(1, 1), fail.s(), add.s(2, 2)).delay()
    assert result.results[0].get(timeout=5) == 2
    assert result.results[2].get(timeout=5) == 4
    with pytest.raises(StepFailed):
        result.results[1].get(timeout=5)


def test_revoked_workflow_enqueues_nothing_more(fapp: App, redis_client: redis.Redis) -> None:
    add = fapp.tasks["add"]
    started = threading.Event()
    sleeper = fapp.task(name="nap")(lambda x: started.set() or time.sleep(0.5) or x)
    result = chain(sleeper.s(1), add.s(1), add.s(1)).delay()
    run = fapp.workflow(result.workflow_id)
    assert started.wait(5), "the first step did not start"
    run.revoke()
    wait_settled(fapp)
    assert run.status() == "REVOKED"
    assert run.nodes()["n1"]["state"] != "SUCCESS"


def test_retry_resumes_a_failed_run_without_rerunning_what_succeeded(
        fapp: App, redis_client: redis.Redis) -> None:
    @fapp.task(name="counted")
    def counted(x: int) -> int:
        redis_client.incr("test:counted")
        return x

    @fapp.task(name="flaky")
    def flaky(x: int) -> int:
        if redis_client.incr("test:flaky") == 1:
            raise StepFailed("first attempt fails")
        return x * 10

    add = fapp.tasks["add"]
    result = chain(counted.s(2), flaky.s(), add.s(1)).delay()
    with pytest.raises(StepFailed):
        result.get(timeout=5)
    run = fapp.workflow(result.workflow_id)
    assert run.status() == "FAILURE"
    again = run.retry()
    assert again.get(timeout=5) == 21
    assert run.status() == "SUCCESS"
    assert int(redis_client.get("test:counted")) == 1


def test_a_steps_own_retry_option_retries_a_task_that_has_none(
        fapp: App, redis_client: redis.Redis) -> None:
    """``.flow``'s ``with retries = 2`` becomes the step option max_retries: it must act."""

    @fapp.task(name="twice_flaky")
    def twice_flaky(x: int) -> int:
        if redis_client.incr("test:twice") <= 2:
            raise ConnectionError("flaky network")
        return x

    step = fapp.tasks["twice_flaky"].si(7).set(max_retries=2, default_retry_delay=0.05)
    result = chain(fapp.tasks["add"].s(1, 1), fapp.tasks["add"].si(3, 4), step).delay()
    assert result.get(timeout=10) == 7
    assert int(redis_client.get("test:twice")) == 3


def test_a_step_without_retries_fails_at_once(fapp: App, redis_client: redis.Redis) -> None:
    @fapp.task(name="flaky_once")
    def flaky_once() -> int:
        redis_client.incr("test:once")
        raise ConnectionError("down")

    result = chain(fapp.tasks["add"].s(1, 1), fapp.tasks["flaky_once"].si()).delay()
    with pytest.raises(ConnectionError):
        result.get(timeout=5)
    assert int(redis_client.get("test:once")) == 1


def test_a_steps_own_rate_limit_spaces_its_starts(fapp: App, redis_client: redis.Redis) -> None:
    """``.flow``'s ``with rate_limit = "5/s"`` on a step must hold like a task's own limit."""

    @fapp.task(name="stamp")
    def stamp(i: int) -> float:
        return time.time()

    steps = [fapp.tasks["stamp"].si(i).set(rate_limit="5/s") for i in range(4)]
    starts = sorted(group(*steps).delay().get(timeout=10))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) > 0.15  # 5/s: one start every 0.2 s (allowing for clock jitter)


def test_rate_limited_steps_start_on_a_worker_slow_to_reach_each_start(
        fapp: App, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    """A loaded machine: every message reaches its start 40 ms after it is fetched, more than
    a 5/s limit's guard (24 ms). Promoted at their slots, such messages were always late, each
    asked for a new slot at the back of the line, and none ever started."""
    handle = Consumer.handle

    def slow_handle(self: Consumer, delivery: Any) -> Any:
        time.sleep(0.04)  # not a wait: the latency of a busy machine, the condition under test
        return handle(self, delivery)

    monkeypatch.setattr(Consumer, "handle", slow_handle)

    @fapp.task(name="stamp")
    def stamp(i: int) -> float:
        return time.time()

    steps = [fapp.tasks["stamp"].si(i).set(rate_limit="5/s") for i in range(4)]
    starts = sorted(group(*steps).delay().get(timeout=10))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) > 0.15  # and the limit still holds

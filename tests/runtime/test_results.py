"""``AsyncResult``: states, values, re-raised exceptions, waiting without polling, expiry."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from flowc.runtime import states
from flowc.runtime.app import App
from flowc.runtime.exceptions import TaskError, TimeoutError

from tests.runtime.support import clients_in, drain
from tests.waiting import wait_until


class LocalError(Exception):
    """Importable from this test module, so get() can rebuild it."""


def test_a_queued_task_is_pending(app: App) -> None:
    @app.task
    def noop() -> None: ...

    result = noop.delay()
    assert (result.state, result.ready(), result.result) == (states.PENDING, False, None)


def test_success_stores_value_state_and_date_done(app: App) -> None:
    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    result = add.delay(2, 3)
    drain(app)
    assert result.get(timeout=1) == 5
    assert (result.state, result.successful(), result.failed()) == (states.SUCCESS, True, False)
    assert result.date_done is not None and result.date_done.tzinfo is not None
    assert result.status == result.state and result.info == 5


def test_get_reraises_the_tasks_own_exception_type_with_the_remote_traceback(app: App) -> None:
    @app.task
    def boom() -> None:
        raise LocalError("disk full")

    result = boom.delay()
    drain(app)
    with pytest.raises(LocalError, match="disk full") as caught:
        result.get(timeout=1)
    assert "Remote traceback" in caught.value.__notes__[0]
    assert "disk full" in (result.traceback or "")
    assert result.failed() and result.state == states.FAILURE


def test_get_with_propagate_false_returns_the_exception(app: App) -> None:
    @app.task
    def boom() -> None:
        raise ValueError("bad")

    result = boom.delay()
    drain(app)
    exc = result.get(timeout=1, propagate=False)
    assert isinstance(exc, ValueError) and isinstance(result.result, ValueError)


def test_an_exception_type_that_cannot_be_imported_becomes_task_error(
        app: App, redis_client: redis.Redis) -> None:
    @app.task
    def boom() -> None:
        raise type("Vanished", (Exception,), {"__module__": "no_such_module"})("gone")

    result = boom.delay()
    drain(app)
    with pytest.raises(TaskError, match="no_such_module.Vanished: gone"):
        result.get(timeout=1)


def test_get_blocks_until_the_result_is_stored_and_wakes_at_once(app: App) -> None:
    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    result = add.delay(1, 1)
    woke: list[float] = []

    def wait() -> None:
        result.get(timeout=5)
        woke.append(time.perf_counter())

    before = clients_in(app.broker_client, "blmove")
    waiter = threading.Thread(target=wait)
    waiter.start()
    wait_until(lambda: clients_in(app.broker_client, "blmove") > before, 5,
               "the waiter to block in Redis")
    assert not woke  # still blocked: nothing was stored yet
    drain(app)
    stored = time.perf_counter()
    waiter.join(5)
    assert woke and woke[0] - stored < 0.1


def test_get_times_out_with_a_hint(app: App) -> None:
    @app.task
    def noop() -> None: ...

    with pytest.raises(TimeoutError, match="not ready after 0.2 s"):
        noop.delay().get(timeout=0.2)


def test_results_expire_after_result_expires(app: App, redis_client: redis.Redis) -> None:
    app.conf.result_expires = 120

    @app.task
    def noop() -> None: ...

    result = noop.delay()
    drain(app)
    assert 110 < redis_client.ttl(f"flowc:result:{result.id}") <= 120


def test_forget_deletes_the_result(app: App) -> None:
    @app.task
    def noop() -> int:
        return 1

    result = noop.delay()
    drain(app)
    result.get(timeout=1)
    result.forget()
    assert app.AsyncResult(result.id).state == states.PENDING


def test_track_started_records_started_while_the_task_runs(app: App) -> None:
    app.conf.task_track_started = True
    seen: list[str] = []

    @app.task(bind=True)
    def look(self) -> None:
        seen.append(app.AsyncResult(self.request.id).state)

    look.delay()
    drain(app)
    assert seen == [states.STARTED]


def test_pickle_results_round_trip_when_the_user_opts_in(app: App) -> None:
    app.conf.update(task_serializer="pickle", result_serializer="pickle",
                    accept_content=["json", "pickle"])

    @app.task
    def make_set() -> set[int]:
        return {1, 2}

    result = make_set.delay()
    drain(app)
    assert result.get(timeout=1) == {1, 2}


def test_ignore_result_stores_nothing(app: App, redis_client: redis.Redis) -> None:
    @app.task(ignore_result=True)
    def quiet() -> int:
        return 1

    result = quiet.delay()
    drain(app)
    assert redis_client.exists(f"flowc:result:{result.id}") == 0


def test_get_inside_a_worker_task_is_refused_unless_allowed(app: App) -> None:
    from flowc.runtime.request import Request, current_request

    from flowc.result import allow_join_result

    result = app.AsyncResult("never-sent")
    token = current_request.set(Request(id="outer", task="t", called_directly=False))
    try:
        with pytest.raises(RuntimeError, match="Never call result.get"):
            result.get(timeout=0.1)
        with allow_join_result(), pytest.raises(TimeoutError):
            result.get(timeout=0.1)
        with pytest.raises(TimeoutError):
            result.get(timeout=0.1, disable_sync_subtasks=False)
    finally:
        current_request.reset(token)

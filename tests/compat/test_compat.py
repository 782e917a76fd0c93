"""Celery's documented behaviour, checked against real Celery 5 and flowc workers alike.

Every case runs twice (``[celery]``, ``[flowc]``) against the one task module ``compat_tasks.py``.
The cases come from Celery's user guide (calling, canvas, tasks, results, signals, periodic tasks)
and from what Celery's own tests check (``t/integration/test_canvas.py``, ``test_tasks.py``,
``t/unit/tasks/``). Known flowc gaps and Celery bugs are strict xfails listed in ``gaps.py``.
Run: ``python -m pytest tests/compat -m compat``.
"""

from __future__ import annotations

import decimal
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.compat.conftest import WAIT_S, Impl, start_worker

pytestmark = [
    pytest.mark.compat, pytest.mark.process, pytest.mark.timeout(60),
    # flowc warns once about a Celery option or setting it accepts but ignores (its documented
    # choice); Celery is silent. The case then checks what the option should do.
    pytest.mark.filterwarnings("ignore:.*is accepted for Celery compatibility"),
    # Celery 5 warns on chord.link_error that the errback may also go to the header one day
    pytest.mark.filterwarnings("ignore:task_allow_error_cb_on_chord_header"),
]


def wait_until(predicate: Callable[[], Any], timeout: float, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def signal_records(ctx: Impl, name: str, task_id: str | None) -> list[Any]:
    """The recorded firings of signal ``name`` for ``task_id``."""
    return [r for r in ctx.tasks.recorded(ctx.tasks.PREFIX + "signals")
            if r[0] == name and r[1] == task_id]


def assert_header_failure(ctx: Impl, result: Any) -> None:
    """``get()`` of a chord whose header failed raises ChordError (Celery's docs) or the header
    task's own exception: Celery's get() checks the parents first, so which one depends on
    whether the body has been failed yet."""
    with pytest.raises(Exception) as raised:
        result.get(timeout=ctx.wait)
    assert type(raised.value).__name__ in {"ChordError", "ExpectedException"}


def hooks_of(ctx: Impl, task_id: str) -> list[Any]:
    """What the base-class hooks recorded for one task."""
    return ctx.tasks.recorded(ctx.tasks.PREFIX + "hooks:" + task_id)


# === Calling tasks (user guide: Calling Tasks) ===================================================

def test_calling_a_task_directly_runs_it_in_process(ctx: Impl) -> None:
    assert ctx.tasks.add(2, 3) == 5


def test_delay_then_get_returns_the_value(ctx: Impl) -> None:
    assert ctx.tasks.add.delay(2, 2).get(timeout=ctx.wait) == 4


def test_apply_async_takes_args_and_kwargs(ctx: Impl) -> None:
    assert ctx.tasks.add.apply_async((1, 2), {"z": 3}).get(timeout=ctx.wait) == 6


def test_keyword_arguments_reach_the_task(ctx: Impl) -> None:
    assert ctx.tasks.echo_kwargs.delay(a=1, b="x").get(timeout=ctx.wait) == {"a": 1, "b": "x"}


def test_many_calls_each_get_their_own_result(ctx: Impl) -> None:
    results = [ctx.tasks.add.delay(i, i) for i in range(10)]
    assert [r.get(timeout=ctx.wait) for r in results] == [2 * i for i in range(10)]


def test_task_id_option_sets_the_result_id(ctx: Impl) -> None:
    task_id = f"compat-fixed-{uuid.uuid4()}"
    result = ctx.tasks.add.apply_async((1, 1), task_id=task_id)
    assert result.id == task_id
    assert result.get(timeout=ctx.wait) == 2


def test_countdown_delays_execution(ctx: Impl) -> None:
    start = time.monotonic()
    result = ctx.tasks.add.apply_async((1, 1), countdown=0.6)
    assert result.state == "PENDING"
    assert result.get(timeout=ctx.wait) == 2
    assert time.monotonic() - start >= 0.55


def test_eta_datetime_delays_execution(ctx: Impl) -> None:
    start = time.monotonic()
    eta = datetime.now(UTC) + timedelta(seconds=0.6)
    result = ctx.tasks.add.apply_async((2, 2), eta=eta)
    assert result.get(timeout=ctx.wait) == 4
    assert time.monotonic() - start >= 0.5


def test_eta_in_the_past_runs_at_once(ctx: Impl) -> None:
    eta = datetime.now(UTC) - timedelta(seconds=5)
    assert ctx.tasks.add.apply_async((3, 3), eta=eta).get(timeout=ctx.wait) == 6


def test_expires_seconds_in_the_past_by_run_time_revokes_the_task(ctx: Impl) -> None:
    result = ctx.tasks.add.apply_async((1, 1), countdown=0.5, expires=0.1)
    with pytest.raises(ctx.tasks.TaskRevokedError):
        result.get(timeout=ctx.wait)
    assert result.state == "REVOKED"


def test_expires_datetime_already_past_revokes_the_task(ctx: Impl) -> None:
    expires = datetime.now(UTC) - timedelta(seconds=1)
    result = ctx.tasks.add.apply_async((1, 1), expires=expires)
    with pytest.raises(ctx.tasks.TaskRevokedError):
        result.get(timeout=ctx.wait)


def test_expires_while_waiting_for_a_busy_worker_revokes_the_task(ctx: Impl) -> None:
    """The expiry is checked when the task would start, not only when the worker receives it."""
    key = ctx.key("busy")
    blockers = [ctx.tasks.wait_for.delay(key, 5) for _ in range(8)]
    result = ctx.tasks.add.apply_async((1, 1), expires=0.5)
    time.sleep(0.9)
    ctx.redis.set(key, 1)
    for blocker in blockers:
        blocker.get(timeout=ctx.wait)
    with pytest.raises(ctx.tasks.TaskRevokedError):
        result.get(timeout=ctx.wait)


def test_expires_in_the_future_lets_the_task_run(ctx: Impl) -> None:
    assert ctx.tasks.add.apply_async((1, 1), expires=60).get(timeout=ctx.wait) == 2


def test_signature_apply_async_accepts_an_eta_datetime(ctx: Impl) -> None:
    eta = datetime.now(UTC) + timedelta(seconds=0.3)
    assert ctx.tasks.add.s(1, 2).apply_async(eta=eta).get(timeout=ctx.wait) == 3


def test_chain_apply_async_accepts_countdown(ctx: Impl) -> None:
    t = ctx.tasks
    start = time.monotonic()
    result = t.chain(t.add.s(1, 1), t.add.s(1)).apply_async(countdown=0.4)
    assert result.get(timeout=ctx.wait) == 3
    assert time.monotonic() - start >= 0.35


def test_send_task_calls_a_task_by_name(ctx: Impl) -> None:
    result = ctx.tasks.app.send_task("compat_tasks.add", args=(4, 4))
    assert result.get(timeout=ctx.wait) == 8


def test_send_task_with_kwargs(ctx: Impl) -> None:
    result = ctx.tasks.app.send_task("compat_tasks.add", args=(1, 1), kwargs={"z": 1})
    assert result.get(timeout=ctx.wait) == 3


def test_missing_argument_fails_at_call_time(ctx: Impl) -> None:
    with pytest.raises(TypeError):
        ctx.tasks.add.delay(1)


def test_unexpected_keyword_fails_at_call_time(ctx: Impl) -> None:
    with pytest.raises(TypeError):
        ctx.tasks.add.delay(1, 2, wrong=3)


def test_untyped_task_fails_in_the_worker_on_bad_arguments(ctx: Impl) -> None:
    result = ctx.tasks.add_untyped.delay(1)
    with pytest.raises(TypeError):
        result.get(timeout=ctx.wait)
    assert result.state == "FAILURE"


def test_ignore_result_call_option_get_returns_none_at_once(ctx: Impl) -> None:
    result = ctx.tasks.add.apply_async((1, 2), ignore_result=True)
    start = time.monotonic()
    assert result.get(timeout=ctx.wait) is None
    assert time.monotonic() - start < 1


def test_ignore_result_task_option_stores_no_result(ctx: Impl) -> None:
    key = ctx.key("ignored")
    result = ctx.tasks.ignored.delay(key)
    wait_until(lambda: ctx.redis.exists(key), ctx.wait, "the task to run")
    time.sleep(0.2)
    assert result.state == "PENDING"


def test_headers_option_reaches_the_request(ctx: Impl) -> None:
    result = ctx.tasks.request_fields.apply_async(headers={"x_compat": "yes"})
    assert result.get(timeout=ctx.wait)["header"] == "yes"


def test_link_callback_receives_the_result(ctx: Impl) -> None:
    key = ctx.key("link")
    result = ctx.tasks.add.apply_async((2, 2), link=ctx.tasks.echo_args.s(key=key))
    assert result.get(timeout=ctx.wait) == 4
    assert wait_until(lambda: ctx.tasks.recorded(key), ctx.wait) == [[4]]


def test_several_link_callbacks_all_run(ctx: Impl) -> None:
    key = ctx.key("links")
    callbacks = [ctx.tasks.echo_args.s(key=key), ctx.tasks.echo_args.s(key=key)]
    ctx.tasks.add.apply_async((1, 1), link=callbacks).get(timeout=ctx.wait)
    assert wait_until(lambda: len(ctx.tasks.recorded(key)) == 2, ctx.wait)


def test_immutable_link_callback_gets_no_parent_result(ctx: Impl) -> None:
    key = ctx.key("link-si")
    ctx.tasks.add.apply_async((1, 1), link=ctx.tasks.echo_args.si(key=key)).get(timeout=ctx.wait)
    assert wait_until(lambda: ctx.tasks.recorded(key), ctx.wait) == [[]]


def test_link_error_old_style_errback_gets_the_failed_task_id(ctx: Impl) -> None:
    result = ctx.tasks.fail.apply_async(link_error=ctx.tasks.record_id.s())
    with pytest.raises(ctx.tasks.ExpectedException):
        result.get(timeout=ctx.wait)
    wait_until(lambda: result.id in ctx.tasks.recorded(ctx.tasks.PREFIX + "errback-ids"),
               ctx.wait, "the errback")


def test_link_error_new_style_errback_gets_request_and_exception(ctx: Impl) -> None:
    key = ctx.key("errback")
    result = ctx.tasks.fail.apply_async(link_error=ctx.tasks.log_error.s(key))
    with pytest.raises(ctx.tasks.ExpectedException):
        result.get(timeout=ctx.wait)
    assert wait_until(lambda: ctx.tasks.recorded(key), ctx.wait) == [
        [result.id, "ExpectedException"]]


def test_immutable_errback_is_called_without_arguments(ctx: Impl) -> None:
    key = ctx.key("errback-si")
    result = ctx.tasks.fail.apply_async(link_error=ctx.tasks.count.si(key))
    with pytest.raises(ctx.tasks.ExpectedException):
        result.get(timeout=ctx.wait)
    assert wait_until(lambda: ctx.redis.get(key), ctx.wait, "the errback") == "1"


def test_errback_does_not_run_on_success(ctx: Impl) -> None:
    key = ctx.key("errback-not")
    ctx.tasks.add.apply_async((1, 1), link_error=ctx.tasks.count.si(key)).get(timeout=ctx.wait)
    time.sleep(0.2)
    assert ctx.redis.get(key) is None


def test_priority_reaches_delivery_info(ctx: Impl) -> None:
    result = ctx.tasks.request_fields.apply_async(priority=3)
    assert result.get(timeout=ctx.wait)["priority"] == 3


def test_redis_priority_zero_is_served_first(ctx: Impl) -> None:
    """On Redis Celery serves priority 0 first (priority_steps 0, 3, 6, 9)."""
    queue = f"{ctx.tasks.QUEUE}_prio"
    key = ctx.key("prio")
    for priority in (9, 6, 3, 0):
        ctx.tasks.record_order.apply_async((key, priority), queue=queue, priority=priority)
    worker = start_worker(ctx.name, ctx.url, ctx.log_dir, queue=queue, solo=True)
    try:
        wait_until(lambda: len(ctx.tasks.recorded(key)) == 4, 20, "the four tasks")
    finally:
        worker.stop()
    assert ctx.tasks.recorded(key) == [0, 3, 6, 9]


# === Serialization (user guide: Calling > Serializers; kombu's json) ==============================

SERIALIZED = {
    "datetime": datetime(2026, 1, 5, 12, 30, tzinfo=UTC),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "decimal": decimal.Decimal("1.25"),
    "bytes": b"raw",
}


@pytest.mark.parametrize("case", sorted(SERIALIZED))
def test_json_round_trips_the_type(ctx: Impl, case: str) -> None:
    value = SERIALIZED[case]
    assert ctx.tasks.identity.delay(value).get(timeout=ctx.wait) == value


def test_json_types_pass_through_a_chain(ctx: Impl) -> None:
    value = dict(SERIALIZED)
    t = ctx.tasks
    assert t.chain(t.identity.s(value), t.identity.s()).delay().get(timeout=ctx.wait) == value


def test_tuples_come_back_as_lists(ctx: Impl) -> None:
    assert ctx.tasks.identity.delay((1, 2)).get(timeout=ctx.wait) == [1, 2]


def test_nested_structures_round_trip(ctx: Impl) -> None:
    value = {"a": [1, {"b": None}], "c": True, "d": 1.5, "é": "ü"}
    assert ctx.tasks.identity.delay(value).get(timeout=ctx.wait) == value


# === Eager execution: apply() =====================================================================

def test_apply_runs_locally_and_returns_an_eager_result(ctx: Impl) -> None:
    result = ctx.tasks.add.apply((2, 5))
    assert result.get() == 7
    assert result.successful()


def test_apply_of_a_failing_task_stores_the_failure(ctx: Impl) -> None:
    result = ctx.tasks.fail.apply()
    assert result.state == "FAILURE"
    with pytest.raises(ctx.tasks.ExpectedException):
        result.get()


def test_apply_throw_true_raises_at_once(ctx: Impl) -> None:
    with pytest.raises(ctx.tasks.ExpectedException):
        ctx.tasks.fail.apply(throw=True)


def test_apply_throw_false_returns_the_failure(ctx: Impl) -> None:
    result = ctx.tasks.fail.apply(throw=False)
    assert result.failed()
    assert isinstance(result.get(propagate=False), ctx.tasks.ExpectedException)


def test_apply_runs_link_error(ctx: Impl) -> None:
    key = ctx.key("eager-errback")
    ctx.tasks.fail.apply(link_error=ctx.tasks.count.si(key))
    assert wait_until(lambda: ctx.redis.get(key), ctx.wait, "the errback") == "1"


def test_apply_sets_is_eager_in_the_request(ctx: Impl) -> None:
    fields = ctx.tasks.request_fields.apply().get()
    assert fields["is_eager"] is True


def test_direct_call_sets_called_directly(ctx: Impl) -> None:
    assert ctx.tasks.request_fields()["called_directly"] is True


def test_store_eager_result_makes_apply_results_readable_by_id(ctx: Impl) -> None:
    eager = ctx.tasks.eager_stored.apply((4,))
    assert eager.get() == 40
    assert ctx.tasks.app.AsyncResult(eager.id).get(timeout=ctx.wait) == 40


# === Results (user guide: AsyncResult) =========================================================

def test_successful_result_reports_its_state(ctx: Impl) -> None:
    result = ctx.tasks.add.delay(1, 1)
    result.get(timeout=ctx.wait)
    assert (result.state, result.status) == ("SUCCESS", "SUCCESS")
    assert result.ready() and result.successful() and not result.failed()


def test_result_and_info_hold_the_value(ctx: Impl) -> None:
    result = ctx.tasks.add.delay(5, 5)
    result.get(timeout=ctx.wait)
    assert result.result == 10
    assert result.info == 10


def test_id_and_task_id_are_the_same(ctx: Impl) -> None:
    result = ctx.tasks.add.delay(1, 1)
    assert result.id == result.task_id
    assert isinstance(result.id, str)


def test_unknown_task_id_is_pending(ctx: Impl) -> None:
    result = ctx.tasks.app.AsyncResult(f"no-such-task-{uuid.uuid4()}")
    assert result.state == "PENDING"
    assert not result.ready()


def test_failed_result_reports_failure(ctx: Impl) -> None:
    result = ctx.tasks.fail.delay()
    with pytest.raises(ctx.tasks.ExpectedException):
        result.get(timeout=ctx.wait)
    assert result.state == "FAILURE"
    assert result.failed() and result.ready() and not result.successful()


def test_failure_re_raises_the_tasks_own_exception_with_its_args(ctx: Impl) -> None:
    with pytest.raises(ctx.tasks.ExpectedException) as info:
        ctx.tasks.fail.delay("a").get(timeout=ctx.wait)
    assert info.value.args == ("Task expected to fail", "a")


def test_failure_re_raises_builtin_exception_types(ctx: Impl) -> None:
    with pytest.raises(ValueError, match="bad value"):
        ctx.tasks.fail_value_error.delay().get(timeout=ctx.wait)


def test_get_propagate_false_returns_the_exception(ctx: Impl) -> None:
    result = ctx.tasks.fail.delay()
    value = result.get(timeout=ctx.wait, propagate=False)
    assert isinstance(value, ctx.tasks.ExpectedException)


def test_failed_result_carries_a_traceback(ctx: Impl) -> None:
    result = ctx.tasks.fail.delay()
    result.get(timeout=ctx.wait, propagate=False)
    assert "ExpectedException" in result.traceback


def test_result_info_is_the_exception_after_failure(ctx: Impl) -> None:
    result = ctx.tasks.fail.delay()
    result.get(timeout=ctx.wait, propagate=False)
    assert isinstance(result.info, ctx.tasks.ExpectedException)


def test_date_done_is_a_datetime(ctx: Impl) -> None:
    result = ctx.tasks.add.delay(1, 1)
    result.get(timeout=ctx.wait)
    assert isinstance(result.date_done, datetime)


def test_get_timeout_raises_timeout_error(ctx: Impl) -> None:
    key = ctx.key("release")
    result = ctx.tasks.wait_for.delay(key, 2)
    with pytest.raises(ctx.tasks.TimeoutError):
        result.get(timeout=0.2)
    ctx.redis.set(key, 1)


def test_forget_removes_the_result(ctx: Impl) -> None:
    result = ctx.tasks.add.delay(1, 1)
    result.get(timeout=ctx.wait)
    result.forget()
    assert ctx.tasks.app.AsyncResult(result.id).state == "PENDING"


def test_app_async_result_reads_a_result_by_id(ctx: Impl) -> None:
    result = ctx.tasks.add.delay(3, 4)
    assert ctx.tasks.app.AsyncResult(result.id).get(timeout=ctx.wait) == 7


def test_async_result_without_app_uses_the_current_app(ctx: Impl) -> None:
    result = ctx.tasks.add.delay(3, 4)
    assert ctx.tasks.AsyncResult(result.id).get(timeout=ctx.wait) == 7


def test_task_async_result_reads_a_result_by_id(ctx: Impl) -> None:
    result = ctx.tasks.add.delay(3, 3)
    assert ctx.tasks.add.AsyncResult(result.id).get(timeout=ctx.wait) == 6


def test_results_compare_equal_by_id(ctx: Impl) -> None:
    result = ctx.tasks.add.delay(1, 1)
    assert ctx.tasks.app.AsyncResult(result.id) == result


def test_children_lists_the_linked_callbacks(ctx: Impl) -> None:
    result = ctx.tasks.add.apply_async((1, 1), link=ctx.tasks.add.s(10))
    result.get(timeout=ctx.wait)
    children = wait_until(lambda: result.children, ctx.wait, "children")
    assert children[0].get(timeout=ctx.wait) == 12


def test_get_inside_a_task_is_refused(ctx: Impl) -> None:
    with pytest.raises(RuntimeError):
        ctx.tasks.get_inside.delay().get(timeout=ctx.wait)


def test_started_state_carries_pid_and_hostname(ctx: Impl) -> None:
    key = ctx.key("started")
    result = ctx.tasks.started.delay(key)
    try:
        wait_until(lambda: result.state == "STARTED", ctx.wait, "STARTED")
        assert isinstance(result.info["pid"], int)
        assert isinstance(result.info["hostname"], str)
    finally:
        ctx.redis.set(key, 1)
    assert result.get(timeout=ctx.wait) == "done"


def test_result_set_joins_several_results(ctx: Impl) -> None:
    results = ctx.tasks.ResultSet([ctx.tasks.add.delay(1, 1), ctx.tasks.add.delay(2, 2)])
    assert results.get(timeout=ctx.wait) == [2, 4]
    assert results.completed_count() == 2
    assert len(results) == 2


def test_result_set_add_and_discard(ctx: Impl) -> None:
    first, second = ctx.tasks.add.delay(1, 1), ctx.tasks.add.delay(2, 2)
    results = ctx.tasks.ResultSet([first])
    results.add(second)
    results.discard(first)
    assert results.join(timeout=ctx.wait) == [4]


# === Task states, custom states, update_state =====================================================

def test_states_constants_match_celery(ctx: Impl) -> None:
    states = ctx.tasks.states
    assert (states.PENDING, states.STARTED, states.SUCCESS, states.FAILURE, states.RETRY,
            states.REVOKED) == ("PENDING", "STARTED", "SUCCESS", "FAILURE", "RETRY", "REVOKED")


def test_ready_states_are_success_failure_revoked(ctx: Impl) -> None:
    assert set(ctx.tasks.states.READY_STATES) == {"SUCCESS", "FAILURE", "REVOKED"}


def test_exception_and_propagate_states(ctx: Impl) -> None:
    states = ctx.tasks.states
    assert set(states.EXCEPTION_STATES) == {"RETRY", "FAILURE", "REVOKED"}
    assert set(states.PROPAGATE_STATES) == {"FAILURE", "REVOKED"}


def test_update_state_sets_a_custom_state_with_meta(ctx: Impl) -> None:
    key = ctx.key("progress")
    result = ctx.tasks.progress_then_wait.delay(key)
    try:
        wait_until(lambda: result.state == "PROGRESS", ctx.wait, "PROGRESS")
        assert result.info == {"step": 1}
    finally:
        ctx.redis.set(key, 1)
    assert result.get(timeout=ctx.wait) == "done"


def test_get_on_message_sees_each_state_update(ctx: Impl) -> None:
    messages: list[dict[str, Any]] = []
    result = ctx.tasks.progress.delay(3)
    assert result.get(timeout=ctx.wait, on_message=messages.append) == "done"
    progress = [m["result"] for m in messages if m["status"] == "PROGRESS"]
    assert progress == [{"step": 0}, {"step": 1}, {"step": 2}]
    assert messages[-1]["status"] == "SUCCESS"


# === Retries, Reject, Ignore (user guide: Tasks) ==================================================

def test_retry_runs_the_task_again(ctx: Impl) -> None:
    key = ctx.key("retry")
    assert ctx.tasks.retry_once.delay(key).get(timeout=ctx.wait) == 1
    assert ctx.redis.get(key) == "2"


def test_retry_state_is_visible_while_waiting(ctx: Impl) -> None:
    result = ctx.tasks.retry_once.delay(ctx.key("retry-state"))
    wait_until(lambda: result.state == "RETRY", ctx.wait, "RETRY")
    assert result.get(timeout=ctx.wait) == 1


def test_max_retries_exceeded_raises_max_retries_exceeded_error(ctx: Impl) -> None:
    with pytest.raises(ctx.tasks.MaxRetriesExceededError):
        ctx.tasks.retry_forever.delay(1).get(timeout=ctx.wait)


def test_max_retries_exceeded_with_exc_raises_that_exception(ctx: Impl) -> None:
    with pytest.raises(ctx.tasks.ExpectedException):
        ctx.tasks.retry_with_exc.delay().get(timeout=ctx.wait)


def test_max_retries_exceeded_error_carries_task_args_and_kwargs(ctx: Impl) -> None:
    result = ctx.tasks.retry_exceeded_args.delay(1, y=2)
    assert result.get(timeout=ctx.wait) == [[1], {"y": 2}]


def test_autoretry_for_retries_up_to_max_retries_then_fails(ctx: Impl) -> None:
    key = ctx.key("autoretry")
    with pytest.raises(ZeroDivisionError):
        ctx.tasks.divide_autoretry.delay(key).get(timeout=ctx.wait)
    assert ctx.redis.get(key) == "3"


def test_reject_without_requeue_stores_failure(ctx: Impl) -> None:
    result = ctx.tasks.reject_for_good.delay()
    with pytest.raises(ctx.tasks.Reject):
        result.get(timeout=ctx.wait)
    assert result.state == "FAILURE"


def test_ignore_leaves_no_state(ctx: Impl) -> None:
    key = ctx.key("ignore")
    result = ctx.tasks.ignore_me.delay(key)
    wait_until(lambda: ctx.redis.exists(key), ctx.wait, "the task to run")
    time.sleep(0.2)
    assert result.state == "PENDING"


def test_acks_late_task_runs(ctx: Impl) -> None:
    assert ctx.tasks.late.delay(7).get(timeout=ctx.wait) == 7


# === Revoking =====================================================================================

def test_revoke_of_a_delayed_task_marks_it_revoked(ctx: Impl) -> None:
    result = ctx.tasks.add.apply_async((1, 1), countdown=0.5)
    result.revoke()
    with pytest.raises(ctx.tasks.TaskRevokedError):
        result.get(timeout=ctx.wait)
    assert result.state == "REVOKED"
    assert result.ready() and not result.successful() and not result.failed()


def test_control_revoke_by_id(ctx: Impl) -> None:
    result = ctx.tasks.add.apply_async((1, 1), countdown=0.5)
    ctx.tasks.app.control.revoke(result.id)
    with pytest.raises(ctx.tasks.TaskRevokedError):
        result.get(timeout=ctx.wait)


def test_revoked_task_does_not_run(ctx: Impl) -> None:
    key = ctx.key("revoked-run")
    result = ctx.tasks.count.apply_async((key,), countdown=0.5)
    result.revoke()
    with pytest.raises(ctx.tasks.TaskRevokedError):
        result.get(timeout=ctx.wait)
    time.sleep(0.3)
    assert ctx.redis.get(key) is None


# === Request context (user guide: Tasks > Task Request) ===========================================

def test_request_has_id_task_args_kwargs(ctx: Impl) -> None:
    result = ctx.tasks.request_fields.delay()
    fields = result.get(timeout=ctx.wait)
    assert fields["id"] == result.id
    assert fields["task"] == "compat_tasks.request_fields"
    assert (fields["args"], fields["kwargs"], fields["retries"]) == ([], {}, 0)


def test_request_hostname_is_the_workers_node_name(ctx: Impl) -> None:
    fields = ctx.tasks.request_fields.delay().get(timeout=ctx.wait)
    assert isinstance(fields["hostname"], str) and "@" in fields["hostname"]


def test_request_delivery_info_names_the_queue(ctx: Impl) -> None:
    fields = ctx.tasks.request_fields.delay().get(timeout=ctx.wait)
    assert fields["routing_key"] == ctx.tasks.QUEUE


def test_request_reply_to_is_set(ctx: Impl) -> None:
    fields = ctx.tasks.request_fields.delay().get(timeout=ctx.wait)
    assert isinstance(fields["reply_to"], str) and fields["reply_to"]


def test_bound_task_sees_its_app(ctx: Impl) -> None:
    assert ctx.tasks.request_fields.delay().get(timeout=ctx.wait)["app_main"] == "compat_tasks"


def test_root_id_and_parent_id_of_a_single_task(ctx: Impl) -> None:
    result = ctx.tasks.ids.delay(1)
    value = result.get(timeout=ctx.wait)
    assert value["root_id"] == result.id
    assert value["parent_id"] is None


def test_request_group_is_the_group_id(ctx: Impl) -> None:
    result = ctx.tasks.group(ctx.tasks.group_id.si(), ctx.tasks.group_id.si()).delay()
    assert result.get(timeout=ctx.wait) == [result.id, result.id]


# === Task objects and registry ====================================================================

def test_task_name_is_module_dot_function(ctx: Impl) -> None:
    assert ctx.tasks.add.name == "compat_tasks.add"


def test_registry_holds_the_task_by_name(ctx: Impl) -> None:
    assert ctx.tasks.app.tasks["compat_tasks.add"].name == "compat_tasks.add"


def test_unknown_task_name_raises_not_registered(ctx: Impl) -> None:
    with pytest.raises(ctx.tasks.NotRegistered):
        ctx.tasks.app.tasks["compat_tasks.nope"]


def test_not_registered_is_a_key_error(ctx: Impl) -> None:
    assert issubclass(ctx.tasks.NotRegistered, KeyError)


def test_task_default_attributes(ctx: Impl) -> None:
    add = ctx.tasks.add
    assert (add.max_retries, add.default_retry_delay) == (3, 180)
    assert (add.ignore_result, add.acks_late, add.typing) == (False, False, True)


def test_task_option_becomes_an_attribute(ctx: Impl) -> None:
    assert ctx.tasks.divide_autoretry.max_retries == 2
    assert ctx.tasks.ignored.ignore_result is True


def test_shared_task_runs_on_the_current_app(ctx: Impl) -> None:
    assert ctx.tasks.shared_add.delay(2, 3).get(timeout=ctx.wait) == 5


def test_current_app_is_the_app(ctx: Impl) -> None:
    assert ctx.tasks.current_app.main == "compat_tasks"


def test_current_app_sends_tasks(ctx: Impl) -> None:
    result = ctx.tasks.current_app.send_task("compat_tasks.add", (2, 2))
    assert result.get(timeout=ctx.wait) == 4


def test_current_app_current_task_inside_a_task(ctx: Impl) -> None:
    result = ctx.tasks.current_task_name.delay()
    assert result.get(timeout=ctx.wait) == "compat_tasks.current_task_name"


def test_get_task_logger_logs_under_the_task_name(ctx: Impl) -> None:
    logger = ctx.tasks.get_task_logger("compat_tasks.add")
    assert logger.name == "compat_tasks.add"


# === Custom task classes (user guide: Tasks > Custom task classes, Handlers) ======================

def test_app_task_subclass_attributes_are_inherited(ctx: Impl) -> None:
    assert ctx.tasks.hooked_add.max_retries == 7


def test_base_class_on_success_hook_runs(ctx: Impl) -> None:
    result = ctx.tasks.hooked_add.delay(2, 2)
    assert result.get(timeout=ctx.wait) == 4
    wait_until(lambda: ["on_success", 4] in hooks_of(ctx, result.id), ctx.wait, "on_success")


def test_base_class_before_start_hook_runs(ctx: Impl) -> None:
    result = ctx.tasks.hooked_add.delay(1, 2)
    result.get(timeout=ctx.wait)
    assert wait_until(lambda: hooks_of(ctx, result.id), ctx.wait)[0] == "before_start"


def test_base_class_after_return_hook_gets_the_state(ctx: Impl) -> None:
    result = ctx.tasks.hooked_add.delay(1, 1)
    result.get(timeout=ctx.wait)
    wait_until(lambda: ["after_return", "SUCCESS"] in hooks_of(ctx, result.id), ctx.wait)


def test_base_class_on_failure_hook_runs(ctx: Impl) -> None:
    result = ctx.tasks.hooked_fail.delay()
    with pytest.raises(ctx.tasks.ExpectedException):
        result.get(timeout=ctx.wait)
    wait_until(lambda: ["on_failure", "ExpectedException"] in hooks_of(ctx, result.id),
               ctx.wait, "on_failure")


def test_base_class_on_retry_hook_runs(ctx: Impl) -> None:
    result = ctx.tasks.hooked_retry.delay()
    assert result.get(timeout=ctx.wait) == 1
    wait_until(lambda: ["on_retry", "ExpectedException"] in hooks_of(ctx, result.id),
               ctx.wait, "on_retry")


def test_base_from_the_package_task_class(ctx: Impl) -> None:
    result = ctx.tasks.plain_based.delay(5)
    assert result.get(timeout=ctx.wait) == 5
    assert ctx.tasks.plain_based.max_retries == 9
    wait_until(lambda: ["plain_on_success", 5] in hooks_of(ctx, result.id), ctx.wait)


# === Signatures (user guide: Canvas > Signatures) =================================================

def test_signature_delay(ctx: Impl) -> None:
    assert ctx.tasks.add.s(2, 2).delay().get(timeout=ctx.wait) == 4


def test_signature_by_name_without_app(ctx: Impl) -> None:
    sig = ctx.tasks.signature("compat_tasks.add", args=(2, 3))
    assert sig.delay().get(timeout=ctx.wait) == 5


def test_task_signature_method_and_subtask_alias(ctx: Impl) -> None:
    assert ctx.tasks.add.signature((1, 1)).delay().get(timeout=ctx.wait) == 2
    assert ctx.tasks.add.subtask((2, 1)).delay().get(timeout=ctx.wait) == 3


def test_partial_arguments_are_prepended(ctx: Impl) -> None:
    assert ctx.tasks.pair.s("x").delay("y").get(timeout=ctx.wait) == ["y", "x"]


def test_partial_kwargs_are_merged_call_wins(ctx: Impl) -> None:
    sig = ctx.tasks.echo_kwargs.s(a=1, b=1)
    assert sig.delay(b=2).get(timeout=ctx.wait) == {"a": 1, "b": 2}


def test_immutable_signature_ignores_call_arguments(ctx: Impl) -> None:
    assert ctx.tasks.add.si(1, 1).delay(5).get(timeout=ctx.wait) == 2


def test_signature_options_via_set(ctx: Impl) -> None:
    sig = ctx.tasks.add.s(1, 1).set(countdown=1)
    assert sig.options["countdown"] == 1


def test_signature_is_a_dict_that_round_trips(ctx: Impl) -> None:
    as_dict = dict(ctx.tasks.add.s(1, 2))
    assert as_dict["task"] == "compat_tasks.add"
    assert list(as_dict["args"]) == [1, 2]
    assert ctx.tasks.signature(as_dict).delay().get(timeout=ctx.wait) == 3


def test_signature_clone_with_new_args(ctx: Impl) -> None:
    sig = ctx.tasks.add.s(1).clone(args=(5,))
    assert list(sig.args) == [5, 1]


def test_calling_a_signature_runs_it_in_process(ctx: Impl) -> None:
    assert ctx.tasks.add.s(2, 2)() == 4


def test_invert_operator_delays_and_waits(ctx: Impl) -> None:
    assert ~ctx.tasks.add.s(3, 3) == 6


def test_freeze_gives_the_id_the_call_uses(ctx: Impl) -> None:
    sig = ctx.tasks.add.s(1, 1)
    frozen = sig.freeze()
    result = sig.apply_async()
    assert result.id == frozen.id == sig.id
    assert result.get(timeout=ctx.wait) == 2


def test_signature_id_is_none_until_frozen(ctx: Impl) -> None:
    assert ctx.tasks.add.s(1, 1).id is None


# === Chains (user guide: Canvas > Chains) =========================================================

def test_chain_passes_each_result_on(ctx: Impl) -> None:
    chain = ctx.tasks.chain(ctx.tasks.add.s(1, 1), ctx.tasks.add.s(2), ctx.tasks.add.s(3))
    assert chain.delay().get(timeout=ctx.wait) == 7


def test_pipe_operator_builds_a_chain(ctx: Impl) -> None:
    t = ctx.tasks
    assert (t.add.s(1, 1) | t.mul.s(10)).delay().get(timeout=ctx.wait) == 20


def test_chain_partial_argument_goes_to_the_first_task(ctx: Impl) -> None:
    t = ctx.tasks
    assert (t.add.s(1) | t.mul.s(2)).delay(4).get(timeout=ctx.wait) == 10


def test_chain_of_immutable_signatures_returns_the_last(ctx: Impl) -> None:
    t = ctx.tasks
    assert t.chain(t.add.si(1, 1), t.add.si(2, 2)).delay().get(timeout=ctx.wait) == 4


def test_chain_parent_results_walk_back_to_the_first_task(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.chain(t.add.s(1, 1), t.add.s(2), t.add.s(3)).delay()
    assert result.get(timeout=ctx.wait) == 7
    assert result.parent.get(timeout=ctx.wait) == 4
    assert result.parent.parent.get(timeout=ctx.wait) == 2
    assert result.parent.parent.parent is None


def test_chain_of_immutable_signatures_has_parents(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.chain(t.add.si(1, 1), t.add.si(2, 2), t.add.si(3, 3)).delay()
    assert result.get(timeout=ctx.wait) == 6
    assert result.parent.get(timeout=ctx.wait) == 4
    assert result.parent.parent.get(timeout=ctx.wait) == 2


def test_chain_failure_raises_and_stops_the_chain(ctx: Impl) -> None:
    t = ctx.tasks
    key = ctx.key("after-fail")
    result = t.chain(t.add.s(1, 1), t.fail.si(), t.count.si(key)).delay()
    with pytest.raises(t.ExpectedException):
        result.get(timeout=ctx.wait)
    time.sleep(0.2)
    assert ctx.redis.get(key) is None


def test_chain_link_error_runs_on_a_failing_step(ctx: Impl) -> None:
    t = ctx.tasks
    key = ctx.key("chain-errback")
    result = t.chain(t.add.s(1, 1), t.fail.si()).apply_async(link_error=t.count.si(key))
    with pytest.raises(t.ExpectedException):
        result.get(timeout=ctx.wait)
    assert wait_until(lambda: ctx.redis.get(key), ctx.wait, "the errback") == "1"


def test_bound_tasks_in_a_chain(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.chain(t.ids.s(1), t.ids.si(2)).delay()
    value = result.get(timeout=ctx.wait)
    assert value["i"] == 2


def test_chain_sets_root_and_parent_ids(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.chain(t.ids.si(1), t.ids.si(2)).delay()
    second = result.get(timeout=ctx.wait)
    first = result.parent.get(timeout=ctx.wait)
    assert first["root_id"] == first["id"] == second["root_id"]
    assert second["parent_id"] == first["id"]


def test_chain_ending_in_a_group_returns_the_group_results(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.chain(t.add.s(1, 1), t.group(t.add.s(10), t.add.s(20))).delay()
    assert result.get(timeout=ctx.wait) == [12, 22]


def test_group_then_task_in_a_chain_becomes_a_chord(ctx: Impl) -> None:
    t = ctx.tasks
    result = (t.group(t.add.s(i, i) for i in range(4)) | t.tsum.s()).delay()
    assert result.get(timeout=ctx.wait) == 12


def test_chain_of_two_groups_returns_the_second_groups_results(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.chain(t.group(t.add.si(1, 1), t.add.si(2, 2)),
                     t.group(t.add.si(3, 3), t.add.si(4, 4))).delay()
    assert result.get(timeout=ctx.wait) == [6, 8]


def test_single_member_group_at_the_end_of_a_chain_is_unrolled(ctx: Impl) -> None:
    t = ctx.tasks
    assert t.chain(t.add.s(1, 1), t.group(t.add.s(10))).delay().get(timeout=ctx.wait) == 12


def test_single_member_group_inside_a_chain_is_unrolled(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.chain(t.group(t.add.si(1, 1)), t.add.s(10)).delay()
    assert result.get(timeout=ctx.wait) == 12


def test_chain_freeze_id_is_the_last_tasks_id(ctx: Impl) -> None:
    t = ctx.tasks
    chain = t.chain(t.add.s(1, 1), t.add.s(1))
    frozen = chain.freeze()
    result = chain.apply_async()
    assert result.id == frozen.id
    assert result.get(timeout=ctx.wait) == 3


def test_chain_with_a_chord_in_the_middle(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.chain(t.add.s(1, 1), t.chord([t.add.s(1), t.add.s(2)], t.tsum.s()),
                     t.add.s(100)).delay()
    assert result.get(timeout=ctx.wait) == 107


def test_replace_with_a_signature(ctx: Impl) -> None:
    assert ctx.tasks.replaced_by_add.delay(2, 3).get(timeout=ctx.wait) == 5


def test_replace_with_a_chain(ctx: Impl) -> None:
    assert ctx.tasks.replaced_by_chain.delay().get(timeout=ctx.wait) == 4


def test_replaced_task_inside_a_chain_passes_its_result_on(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.chain(t.replaced_by_add.s(1, 1), t.add.s(10)).delay()
    assert result.get(timeout=ctx.wait) == 12


def test_chain_with_a_failing_group_member_raises_its_error(ctx: Impl) -> None:
    """celery issue 8786: a chain through a group with a failing member raises that failure
    (the group and the next step form a chord, so see ``assert_header_failure``)."""
    t = ctx.tasks
    result = t.chain(t.identity.si("start"), t.group(t.identity.si("a"), t.fail.si()),
                     t.identity.si("break"), t.identity.si("end")).delay()
    assert_header_failure(ctx, result)


# === Groups (user guide: Canvas > Groups) =========================================================

def test_group_returns_results_in_order(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.group(t.add.s(i, i) for i in range(6)).delay()
    assert result.get(timeout=ctx.wait) == [0, 2, 4, 6, 8, 10]


def test_group_from_a_list(ctx: Impl) -> None:
    t = ctx.tasks
    assert t.group([t.add.s(1, 1), t.add.s(2, 2)]).delay().get(timeout=ctx.wait) == [2, 4]


def test_group_partial_argument_goes_to_every_member(ctx: Impl) -> None:
    t = ctx.tasks
    assert t.group(t.add.s(1), t.add.s(2)).delay(10).get(timeout=ctx.wait) == [11, 12]


def test_group_result_counts_and_states(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.group(t.add.s(1, 1), t.add.s(2, 2)).delay()
    result.get(timeout=ctx.wait)
    assert result.completed_count() == 2
    assert result.ready() and result.successful() and not result.failed()
    assert not result.waiting()


def test_group_result_children_are_async_results(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.group(t.add.s(1, 1), t.add.s(2, 2)).delay()
    assert [child.get(timeout=ctx.wait) for child in result.children] == [2, 4]
    assert len(result) == 2
    assert result[1].get(timeout=ctx.wait) == 4


def test_group_result_join(ctx: Impl) -> None:
    t = ctx.tasks
    assert t.group(t.add.s(1, 1), t.add.s(2, 2)).delay().join(timeout=ctx.wait) == [2, 4]


def test_group_with_a_failure_raises_it(ctx: Impl) -> None:
    t = ctx.tasks
    with pytest.raises(t.ExpectedException):
        t.group(t.add.s(1, 1), t.fail.s()).delay().get(timeout=ctx.wait)


def test_group_with_a_failure_propagate_false_returns_it(ctx: Impl) -> None:
    t = ctx.tasks
    values = t.group(t.add.s(1, 1), t.fail.s()).delay().get(timeout=ctx.wait, propagate=False)
    assert values[0] == 2
    assert isinstance(values[1], t.ExpectedException)


def test_empty_group_returns_an_empty_list(ctx: Impl) -> None:
    assert ctx.tasks.group([]).delay().get(timeout=ctx.wait) == []


def test_group_of_chains_returns_each_last_result(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.group(t.chain(t.add.s(i, 0), t.add.s(1), t.add.s(1)) for i in range(3)).delay()
    assert result.get(timeout=ctx.wait) == [2, 3, 4]


def test_nested_groups_are_flattened(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.group(t.group(t.add.si(1, 1), t.add.si(2, 2)), t.add.si(3, 3)).delay()
    assert result.get(timeout=ctx.wait) == [2, 4, 6]


def test_group_of_groups_all_flatten(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.group(t.group(t.add.si(1, 1), t.add.si(2, 2)),
                     t.group([t.add.si(1, 1), t.add.si(2, 2)])).delay()
    assert result.get(timeout=ctx.wait) == [2, 4, 2, 4]


def test_group_link_callback_runs_once_immutably(ctx: Impl) -> None:
    """Celery links a group's callback to its first task, made immutable."""
    t = ctx.tasks
    key = ctx.key("group-link")
    group = t.group(t.add.si(1, 1), t.add.si(2, 2))
    group.link(t.echo_args.s(key=key))
    group.delay().get(timeout=ctx.wait)
    assert wait_until(lambda: t.recorded(key), ctx.wait) == [[]]


def test_group_freeze_id_is_the_group_result_id(ctx: Impl) -> None:
    t = ctx.tasks
    group = t.group(t.add.s(1, 1), t.add.s(2, 2))
    frozen = group.freeze()
    result = group.apply_async()
    assert result.id == frozen.id
    assert [r.id for r in result.results] == [r.id for r in frozen.results]


def test_group_result_save_and_restore(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.group(t.add.s(1, 1), t.add.s(2, 2)).delay()
    result.save()
    restored = t.GroupResult.restore(result.id, app=t.app)
    assert restored.get(timeout=ctx.wait) == [2, 4]


def test_group_result_restore_of_unknown_id_is_none(ctx: Impl) -> None:
    assert ctx.tasks.GroupResult.restore("no-such-group", app=ctx.tasks.app) is None


def test_group_revoke_revokes_every_member(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.group(t.add.s(1, 1).set(countdown=0.5), t.add.s(2, 2).set(countdown=0.5)).delay()
    result.revoke()
    for child in result.results:
        with pytest.raises(t.TaskRevokedError):
            child.get(timeout=ctx.wait)


def test_group_of_chords_all_fire(ctx: Impl) -> None:
    """celery issue 2922: chords nested in a group never fired."""
    t = ctx.tasks
    result = t.group(t.chord([t.add.s(i, j) for j in range(3)], t.tsum.s())
                     for i in range(3)).delay()
    assert result.get(timeout=ctx.wait) == [3, 6, 9]


def test_bound_tasks_in_a_group(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.group(t.ids.s(1), t.ids.s(2)).delay()
    assert [v["i"] for v in result.get(timeout=ctx.wait)] == [1, 2]


# === Chords (user guide: Canvas > Chords) =========================================================

def test_chord_body_receives_the_header_results(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.chord([t.add.s(i, i) for i in range(5)], t.tsum.s()).delay()
    assert result.get(timeout=ctx.wait) == 20


def test_chord_called_with_its_body(ctx: Impl) -> None:
    t = ctx.tasks
    assert t.chord([t.add.s(1, 1), t.add.s(2, 2)])(t.tsum.s()).get(timeout=ctx.wait) == 6


def test_chord_body_gets_results_in_header_order(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.chord([t.add.s(i, 0) for i in range(5)], t.identity.s()).delay()
    assert result.get(timeout=ctx.wait) == [0, 1, 2, 3, 4]


def test_chord_with_an_immutable_body(ctx: Impl) -> None:
    t = ctx.tasks
    assert t.chord([t.add.s(1, 1)], t.add.si(5, 5)).delay().get(timeout=ctx.wait) == 10


def test_chord_with_a_single_task_header_gives_a_list(ctx: Impl) -> None:
    t = ctx.tasks
    assert t.chord([t.add.s(1, 1)], t.identity.s()).delay().get(timeout=ctx.wait) == [2]


def test_chord_body_can_be_a_chain(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.chord([t.add.s(1, 1), t.add.s(2, 2)], t.tsum.s() | t.add.s(1)).delay()
    assert result.get(timeout=ctx.wait) == 7


def test_chord_header_of_chains(ctx: Impl) -> None:
    t = ctx.tasks
    header = [t.add.s(1, 1) | t.add.s(1), t.add.s(2, 2) | t.add.s(2)]
    assert t.chord(header, t.tsum.s()).delay().get(timeout=ctx.wait) == 9


def test_chord_in_a_chord_header(ctx: Impl) -> None:
    t = ctx.tasks
    inner = t.chord([t.add.s(1, 1), t.add.s(2, 2)], t.tsum.s())
    assert t.chord([inner, t.add.s(10, 10)], t.tsum.s()).delay().get(timeout=ctx.wait) == 26


def test_nested_group_in_a_chord_header_is_flattened(ctx: Impl) -> None:
    t = ctx.tasks
    header = [t.group(t.add.si(1, 1), t.add.si(2, 2)), t.add.si(3, 3)]
    assert sorted(t.chord(header, t.identity.s()).delay().get(timeout=ctx.wait)) == [2, 4, 6]


def test_chord_with_a_failing_header_fails_its_body_with_chord_error(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.chord([t.add.s(1, 1), t.fail.s()], t.tsum.s()).delay()
    value = result.get(timeout=ctx.wait, propagate=False)
    assert isinstance(value, t.ChordError)
    assert result.state == "FAILURE"


def test_nested_group_in_a_chord_header_keeps_header_order(ctx: Impl) -> None:
    """Ten chords: an order that is right only by chance (half the time) does not pass."""
    t = ctx.tasks
    results = [t.chord([t.group(t.add.si(1, 1), t.add.si(2, 2)), t.add.si(3, 3)],
                       t.identity.s()).delay() for _ in range(10)]
    assert [r.get(timeout=ctx.wait) for r in results] == [[2, 4, 6]] * 10


def test_chord_error_names_the_header_exception(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.chord([t.fail.s()], t.tsum.s()).delay()
    assert "ExpectedException" in str(result.get(timeout=ctx.wait, propagate=False))


def test_chord_get_raises_when_a_header_task_failed(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.chord([t.add.s(1, 1), t.fail.s()], t.tsum.s()).delay()
    assert_header_failure(ctx, result)


def test_chord_body_errback_runs_when_the_header_fails(ctx: Impl) -> None:
    t = ctx.tasks
    key = ctx.key("chord-errback")
    body = t.tsum.s().on_error(t.count.si(key))
    result = t.chord([t.add.s(1, 1), t.fail.s()], body).delay()
    with pytest.raises(Exception):  # noqa: B017 - ChordError under Celery, checked above
        result.get(timeout=ctx.wait)
    assert wait_until(lambda: ctx.redis.get(key), ctx.wait, "the errback") == "1"


def test_chord_body_not_run_when_the_header_fails(ctx: Impl) -> None:
    t = ctx.tasks
    key = ctx.key("chord-body")
    result = t.chord([t.fail.s()], t.count.si(key)).delay()
    with pytest.raises(Exception):  # noqa: B017 - ChordError under Celery, checked above
        result.get(timeout=ctx.wait)
    time.sleep(0.2)
    assert ctx.redis.get(key) is None


def test_empty_chord_runs_its_body_with_an_empty_list(ctx: Impl) -> None:
    t = ctx.tasks
    assert t.chord([], t.tsum.s()).delay().get(timeout=ctx.wait) == 0


def test_chord_freeze_id_is_the_body_result_id(ctx: Impl) -> None:
    t = ctx.tasks
    chord = t.chord([t.add.s(1, 1), t.add.s(2, 2)], t.tsum.s())
    frozen = chord.freeze()
    result = chord.apply_async()
    assert result.id == frozen.id
    assert result.get(timeout=ctx.wait) == 6


def test_chord_result_parent_is_the_header_group(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.chord([t.add.s(1, 1), t.add.s(2, 2)], t.tsum.s()).delay()
    assert result.get(timeout=ctx.wait) == 6
    assert result.parent.get(timeout=ctx.wait) == [2, 4]


def test_add_to_chord_extends_the_header(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.chord([t.adds_to_chord.s(5), t.add.si(1, 1)], t.tsum.s()).delay()
    assert result.get(timeout=ctx.wait) == 17


def test_bound_tasks_in_a_chord(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.chord([t.ids.s(1), t.ids.s(2)], t.identity.s()).delay()
    assert [v["i"] for v in result.get(timeout=ctx.wait)] == [1, 2]


# === Failures inside canvases (Canvas > Error handling; Celery's t/integration/test_canvas.py) ===
# In Celery every member of a group or chord header is its own task: a failure stops only what
# comes after it in its own chain, the other branches go on, and errbacks run per failed task.

def failed_before(ctx: Impl, result: Any) -> None:
    """Wait until ``result`` (a task expected to fail) has failed."""
    with pytest.raises(ctx.tasks.ExpectedException):
        result.get(timeout=ctx.wait)


def test_group_branch_goes_on_after_a_sibling_failed(ctx: Impl) -> None:
    t = ctx.tasks
    gate, key = ctx.key("gate"), ctx.key("after")
    result = t.group(t.chain(t.wait_for.si(gate), t.count.si(key)), t.fail.si()).delay()
    failed_before(ctx, result.results[1])
    ctx.redis.set(gate, 1)
    assert wait_until(lambda: ctx.redis.get(key), ctx.wait, "the branch's next step") == "1"


def test_group_with_a_failed_branch_returns_both_outcomes(ctx: Impl) -> None:
    t = ctx.tasks
    gate = ctx.key("gate")
    result = t.group(t.chain(t.wait_for.si(gate), t.add.si(1, 1)), t.fail.si()).delay()
    failed_before(ctx, result.results[1])
    ctx.redis.set(gate, 1)
    values = result.get(timeout=ctx.wait, propagate=False)
    assert values[0] == 2
    assert isinstance(values[1], t.ExpectedException)


def test_group_result_counts_after_a_branch_failed(ctx: Impl) -> None:
    t = ctx.tasks
    gate = ctx.key("gate")
    result = t.group(t.chain(t.wait_for.si(gate), t.add.si(1, 1)), t.fail.si()).delay()
    failed_before(ctx, result.results[1])
    ctx.redis.set(gate, 1)
    assert result.results[0].get(timeout=ctx.wait) == 2
    assert result.completed_count() == 1
    assert result.ready() and result.failed() and not result.successful()


def test_group_result_is_waiting_while_a_branch_still_runs_after_a_failure(ctx: Impl) -> None:
    t = ctx.tasks
    gate = ctx.key("gate")
    result = t.group(t.chain(t.wait_for.si(gate), t.add.si(1, 1)), t.fail.si()).delay()
    try:
        failed_before(ctx, result.results[1])
        assert result.failed() and result.waiting() and not result.ready()
    finally:
        ctx.redis.set(gate, 1)
    assert result.results[0].get(timeout=ctx.wait) == 2


def test_group_of_chains_one_failing_midway_the_other_completes(ctx: Impl) -> None:
    t = ctx.tasks
    gate = ctx.key("gate")
    result = t.group(t.chain(t.add.si(1, 1), t.fail.s(), t.add.s(1)),
                     t.chain(t.wait_for.si(gate), t.add.si(2, 2), t.add.s(1))).delay()
    failed_before(ctx, result.results[0].parent)
    ctx.redis.set(gate, 1)
    assert result.results[1].get(timeout=ctx.wait) == 5


def test_group_result_counts_and_states_with_a_failed_member(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.group(t.add.si(1, 1), t.fail.si(), t.add.si(2, 2)).delay()
    values = result.get(timeout=ctx.wait, propagate=False)
    assert values[0] == 2 and values[2] == 4 and isinstance(values[1], t.ExpectedException)
    assert result.completed_count() == 2
    assert result.ready() and result.failed() and not result.successful()
    assert [r.state for r in result.results] == ["SUCCESS", "FAILURE", "SUCCESS"]


def test_chord_header_branch_goes_on_after_a_sibling_failed(ctx: Impl) -> None:
    t = ctx.tasks
    gate, key = ctx.key("gate"), ctx.key("after")
    failing = t.fail.si()
    failing_id = failing.freeze().id
    t.chord([t.chain(t.wait_for.si(gate), t.count.si(key)), failing], t.tsum.s()).delay()
    failed_before(ctx, t.app.AsyncResult(failing_id))
    ctx.redis.set(gate, 1)
    assert wait_until(lambda: ctx.redis.get(key), ctx.wait, "the branch's next step") == "1"


def test_chord_body_never_runs_after_the_header_branches_finish(ctx: Impl) -> None:
    t = ctx.tasks
    gate, key = ctx.key("gate"), ctx.key("body")
    result = t.chord([t.chain(t.wait_for.si(gate), t.add.si(1, 1)), t.fail.si()],
                     t.echo_args.s(key=key)).delay()
    ctx.redis.set(gate, 1)
    assert isinstance(result.get(timeout=ctx.wait, propagate=False), t.ChordError)
    time.sleep(0.2)
    assert t.recorded(key) == []


def test_immutable_chord_body_of_a_failed_header_fails_with_chord_error(ctx: Impl) -> None:
    t = ctx.tasks
    key = ctx.key("body")
    result = t.chord([t.add.si(1, 1), t.fail.si(), t.add.si(2, 2)], t.count.si(key)).delay()
    assert isinstance(result.get(timeout=ctx.wait, propagate=False), t.ChordError)
    assert ctx.redis.get(key) is None


def test_failure_in_a_nested_group_of_a_chord_header_fails_the_body(ctx: Impl) -> None:
    t = ctx.tasks
    header = [t.group(t.add.si(1, 1), t.fail.si()), t.add.si(3, 3)]
    result = t.chord(header, t.tsum.s()).delay()
    assert_header_failure(ctx, result)
    assert isinstance(result.get(timeout=ctx.wait, propagate=False), t.ChordError)


def test_failure_in_a_nested_group_of_a_chord_header_leaves_its_sibling_running(
        ctx: Impl) -> None:
    t = ctx.tasks
    gate, key = ctx.key("gate"), ctx.key("after")
    failing = t.fail.si()
    failing_id = failing.freeze().id
    header = [t.group(t.chain(t.wait_for.si(gate), t.count.si(key)), failing), t.add.si(3, 3)]
    t.chord(header, t.tsum.s()).delay()
    failed_before(ctx, t.app.AsyncResult(failing_id))
    ctx.redis.set(gate, 1)
    assert wait_until(lambda: ctx.redis.get(key), ctx.wait, "the branch's next step") == "1"


def test_chain_steps_after_a_failed_step_are_marked_failed_too(ctx: Impl) -> None:
    """Celery 5 (Backend.mark_as_failure) stores the failure for the rest of the chain: the
    later steps never run, and their results are FAILURE with the failed step's exception."""
    t = ctx.tasks
    key = ctx.key("after-fail")
    result = t.chain(t.add.si(1, 1), t.fail.s(), t.count.si(key), t.add.s(2)).delay()
    failed_before(ctx, result.parent.parent)
    # Celery stores the later steps' failures one by one after the failed step's own
    wait_until(lambda: result.state == result.parent.state == "FAILURE", ctx.wait,
               "the later steps' FAILURE")
    assert isinstance(result.parent.get(timeout=ctx.wait, propagate=False), t.ExpectedException)
    assert ctx.redis.get(key) is None


def test_chain_get_of_every_step_after_the_failure_raises_it(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.chain(t.add.si(1, 1), t.fail.s(), t.add.s(3)).delay()
    with pytest.raises(t.ExpectedException):
        result.get(timeout=ctx.wait)
    with pytest.raises(t.ExpectedException):
        result.parent.get(timeout=ctx.wait)
    assert result.parent.parent.get(timeout=ctx.wait) == 2


def test_chain_failed_step_get_propagate_false_returns_the_exception(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.chain(t.add.si(1, 1), t.fail.s(), t.add.s(1)).delay()
    failed = result.parent
    value = failed.get(timeout=ctx.wait, propagate=False)
    assert isinstance(value, t.ExpectedException)
    assert value.args == ("Task expected to fail", 2)
    assert failed.state == "FAILURE" and failed.failed()


def test_chain_link_error_runs_once_for_a_failing_middle_step(ctx: Impl) -> None:
    t = ctx.tasks
    key = ctx.key("chain-errback")
    result = t.chain(t.add.si(1, 1), t.fail.s(), t.add.s(1)).apply_async(
        link_error=t.count.si(key))
    failed_before(ctx, result.parent)
    assert wait_until(lambda: ctx.redis.get(key), ctx.wait, "the errback") == "1"
    time.sleep(0.2)
    assert ctx.redis.get(key) == "1"


def test_chain_link_error_old_style_gets_the_failed_steps_id(ctx: Impl) -> None:
    t = ctx.tasks
    result = t.chain(t.add.si(1, 1), t.fail.s(), t.add.s(1)).apply_async(
        link_error=t.record_id.s())
    ids = {result.id, result.parent.id, result.parent.parent.id}
    failed_before(ctx, result.parent)
    wait_until(lambda: result.parent.id in t.recorded(t.PREFIX + "errback-ids"), ctx.wait,
               "the errback")
    time.sleep(0.2)
    assert [i for i in t.recorded(t.PREFIX + "errback-ids") if i in ids] == [result.parent.id]


def test_chain_link_error_new_style_gets_request_and_exception(ctx: Impl) -> None:
    t = ctx.tasks
    key = ctx.key("chain-errback")
    result = t.chain(t.add.si(1, 1), t.fail.s()).apply_async(link_error=t.log_error.s(key))
    failed_before(ctx, result)
    assert wait_until(lambda: t.recorded(key), ctx.wait, "the errback") == [
        [result.id, "ExpectedException"]]


def test_errback_on_a_chain_member_runs_when_it_fails(ctx: Impl) -> None:
    t = ctx.tasks
    key = ctx.key("member-errback")
    result = t.chain(t.add.si(1, 1), t.fail.s().on_error(t.count.si(key)), t.add.s(1)).delay()
    failed_before(ctx, result)
    assert wait_until(lambda: ctx.redis.get(key), ctx.wait, "the errback") == "1"


def test_errback_on_a_chain_member_that_never_ran_is_not_called(ctx: Impl) -> None:
    t = ctx.tasks
    key = ctx.key("never-errback")
    result = t.chain(t.fail.si(), t.add.s(1).on_error(t.count.si(key))).delay()
    failed_before(ctx, result)
    time.sleep(0.2)
    assert ctx.redis.get(key) is None


def test_group_link_error_runs_once_per_failed_member(ctx: Impl) -> None:
    t = ctx.tasks
    key = ctx.key("group-errback")
    sig = t.group(t.fail.si(), t.add.si(1, 1), t.fail.si())
    sig.link_error(t.count.si(key))
    result = sig.delay()
    failed_before(ctx, result)
    assert wait_until(lambda: ctx.redis.get(key) == "2", ctx.wait, "both errbacks")
    time.sleep(0.2)
    assert ctx.redis.get(key) == "2"


def test_errback_on_a_group_member_runs_once(ctx: Impl) -> None:
    t = ctx.tasks
    key = ctx.key("member-errback")
    result = t.group(t.add.si(1, 1), t.fail.si().on_error(t.count.si(key))).delay()
    assert result.get(timeout=ctx.wait, propagate=False)[0] == 2
    assert wait_until(lambda: ctx.redis.get(key), ctx.wait, "the errback") == "1"
    time.sleep(0.2)
    assert ctx.redis.get(key) == "1"


def test_mutable_errback_on_a_group_member_gets_that_members_id(ctx: Impl) -> None:
    t = ctx.tasks
    failing = t.fail.si()
    failing_id = failing.freeze().id
    t.group(failing.on_error(t.record_id.s()), t.add.si(1, 1)).delay()
    wait_until(lambda: failing_id in t.recorded(t.PREFIX + "errback-ids"), ctx.wait,
               "the errback")


def test_chord_link_error_runs_once_when_several_header_tasks_fail(ctx: Impl) -> None:
    t = ctx.tasks
    key = ctx.key("chord-errback")
    sig = t.chord([t.fail.si(), t.fail.si(), t.add.si(1, 1)], t.identity.s())
    sig.link_error(t.count.si(key))
    result = sig.delay()
    assert isinstance(result.get(timeout=ctx.wait, propagate=False), t.ChordError)
    assert wait_until(lambda: ctx.redis.get(key), ctx.wait, "the errback") == "1"
    time.sleep(0.2)
    assert ctx.redis.get(key) == "1"


def test_chord_link_error_with_the_header_flag_also_runs_per_failed_header_task(
        ctx: Impl) -> None:
    """task_allow_error_cb_on_chord_header (read by chord.link_error in the caller): an
    immutable clone per header task, besides the body's errback."""
    t = ctx.tasks
    key = ctx.key("chord-errback")
    t.app.conf.task_allow_error_cb_on_chord_header = True
    try:
        sig = t.chord([t.fail.si(), t.fail.si(), t.add.si(1, 1)], t.identity.s())
        sig.link_error(t.count.si(key))
    finally:
        t.app.conf.task_allow_error_cb_on_chord_header = False
    result = sig.delay()
    assert isinstance(result.get(timeout=ctx.wait, propagate=False), t.ChordError)
    assert wait_until(lambda: ctx.redis.get(key) == "3", ctx.wait, "three errbacks")
    time.sleep(0.2)
    assert ctx.redis.get(key) == "3"


def test_chord_mutable_errback_gets_the_body_id(ctx: Impl) -> None:
    """Celery runs a chord's errback as the body's: the header task's failure is reported
    with the body's id (t/integration: test_mutable_errback_called_by_chord_from_simple)."""
    t = ctx.tasks
    sig = t.chord([t.fail.si()], t.identity.s())
    body_id = sig.body.freeze().id
    sig.link_error(t.record_id.s())
    sig.delay()
    wait_until(lambda: body_id in t.recorded(t.PREFIX + "errback-ids"), ctx.wait, "the errback")


def test_chord_new_style_errback_gets_a_chord_error(ctx: Impl) -> None:
    t = ctx.tasks
    key = ctx.key("chord-errback")
    sig = t.chord([t.add.si(1, 1), t.fail.si()], t.identity.s())
    body_id = sig.body.freeze().id
    sig.link_error(t.log_error.s(key))
    sig.delay()
    assert wait_until(lambda: t.recorded(key), ctx.wait, "the errback") == [
        [body_id, "ChordError"]]


def test_chord_errback_runs_when_the_body_fails(ctx: Impl) -> None:
    t = ctx.tasks
    key = ctx.key("chord-errback")
    sig = t.chord([t.add.si(1, 1)], t.fail.s())
    sig.link_error(t.count.si(key))
    result = sig.delay()
    with pytest.raises(t.ExpectedException):
        result.get(timeout=ctx.wait)
    assert wait_until(lambda: ctx.redis.get(key), ctx.wait, "the errback") == "1"


def test_errbacks_of_a_header_member_and_of_the_body_both_run(ctx: Impl) -> None:
    t = ctx.tasks
    member_key, body_key = ctx.key("member-errback"), ctx.key("body-errback")
    result = t.chord([t.fail.si().on_error(t.count.si(member_key)), t.add.si(1, 1)],
                     t.identity.s().on_error(t.count.si(body_key))).delay()
    assert isinstance(result.get(timeout=ctx.wait, propagate=False), t.ChordError)
    assert wait_until(lambda: ctx.redis.get(member_key), ctx.wait, "the member's") == "1"
    assert wait_until(lambda: ctx.redis.get(body_key), ctx.wait, "the body's") == "1"


def test_result_set_join_propagate_false_returns_the_failure(ctx: Impl) -> None:
    t = ctx.tasks
    results = t.ResultSet([t.fail.delay(), t.add.delay(1, 1)])
    values = results.join(timeout=ctx.wait, propagate=False)
    assert isinstance(values[0], t.ExpectedException) and values[1] == 2
    assert results.results[0].failed() and results.results[1].successful()
    assert results.completed_count() == 1 and results.failed() and not results.successful()


def test_result_set_join_raises_the_failure(ctx: Impl) -> None:
    t = ctx.tasks
    with pytest.raises(t.ExpectedException):
        t.ResultSet([t.add.delay(1, 1), t.fail.delay()]).join(timeout=ctx.wait)


# === Map, starmap, chunks (user guide: Canvas > Map & Starmap, Chunks) ============================

def test_task_map(ctx: Impl) -> None:
    assert ctx.tasks.tsum.map([[1, 2], [3, 4]]).delay().get(timeout=ctx.wait) == [3, 7]


def test_task_starmap(ctx: Impl) -> None:
    assert ctx.tasks.add.starmap([(1, 1), (2, 2)]).delay().get(timeout=ctx.wait) == [2, 4]


def test_task_chunks(ctx: Impl) -> None:
    result = ctx.tasks.add.chunks(zip(range(4), range(4), strict=True), 2).delay()
    assert result.get(timeout=ctx.wait) == [[0, 2], [4, 6]]


# === Signals (user guide: Signals) ================================================================

def test_task_prerun_and_postrun_fire_in_the_worker(ctx: Impl) -> None:
    result = ctx.tasks.add.delay(1, 1)
    result.get(timeout=ctx.wait)
    wait_until(lambda: signal_records(ctx, "task_prerun", result.id), ctx.wait, "task_prerun")
    wait_until(lambda: signal_records(ctx, "task_postrun", result.id), ctx.wait, "task_postrun")


def test_task_success_fires(ctx: Impl) -> None:
    result = ctx.tasks.add.delay(2, 1)
    result.get(timeout=ctx.wait)
    wait_until(lambda: signal_records(ctx, "task_success", result.id), ctx.wait, "task_success")


def test_task_failure_fires(ctx: Impl) -> None:
    result = ctx.tasks.fail.delay()
    result.get(timeout=ctx.wait, propagate=False)
    wait_until(lambda: signal_records(ctx, "task_failure", result.id), ctx.wait, "task_failure")


def test_task_retry_fires(ctx: Impl) -> None:
    result = ctx.tasks.retry_once.delay(ctx.key("retry-signal"))
    result.get(timeout=WAIT_S)  # the result comes either way: only the signal is checked
    wait_until(lambda: signal_records(ctx, "task_retry", result.id), ctx.wait, "task_retry")


def test_task_revoked_fires(ctx: Impl) -> None:
    result = ctx.tasks.add.apply_async((1, 1), countdown=0.3)
    result.revoke()
    with pytest.raises(ctx.tasks.TaskRevokedError):
        result.get(timeout=ctx.wait)
    wait_until(lambda: signal_records(ctx, "task_revoked", result.id), ctx.wait, "task_revoked")


def test_before_and_after_task_publish_fire_in_the_client(ctx: Impl) -> None:
    result = ctx.tasks.add.delay(1, 2)
    assert [r[2] for r in signal_records(ctx, "before_task_publish", result.id)] == [
        "compat_tasks.add"]
    assert [r[2] for r in signal_records(ctx, "after_task_publish", result.id)] == [
        "compat_tasks.add"]
    result.get(timeout=ctx.wait)


def test_worker_ready_fired_when_the_worker_started(ctx: Impl) -> None:
    assert ctx.redis.get(ctx.tasks.PREFIX + "worker_ready") == "1"


@pytest.mark.parametrize("case", [
    "task_prerun", "task_postrun", "task_success", "task_failure", "task_retry", "task_revoked",
    "before_task_publish", "after_task_publish", "worker_ready", "worker_shutdown",
    "worker_process_init", "beat_init", "setup_logging"])
def test_signal_connect_and_send_reach_the_receiver(ctx: Impl, case: str) -> None:
    signal = ctx.tasks.signals[case]
    seen: list[Any] = []

    def receiver(sender: Any = None, **kwargs: Any) -> None:
        seen.append(sender)

    signal.connect(receiver)
    try:
        signal.send(sender="compat-sender")
    finally:
        signal.disconnect(receiver)
    assert seen == ["compat-sender"]


# === Import paths a ported app uses ===============================================================

@pytest.mark.parametrize("case", [
    "celery:Celery", "celery:Task", "celery:shared_task", "celery:current_app", "celery:states",
    "celery:chain", "celery:chord", "celery:group", "celery:signature", "celery:chunks",
    "celery:xmap", "celery:xstarmap", "celery:uuid",
    "celery.result:AsyncResult", "celery.result:GroupResult", "celery.result:ResultSet",
    "celery.result:EagerResult",
    "celery.exceptions:Reject", "celery.exceptions:Retry", "celery.exceptions:Ignore",
    "celery.exceptions:MaxRetriesExceededError", "celery.exceptions:TaskRevokedError",
    "celery.exceptions:TimeoutError", "celery.exceptions:ChordError",
    "celery.exceptions:SoftTimeLimitExceeded", "celery.exceptions:NotRegistered",
    "celery.signals:task_prerun", "celery.schedules:crontab", "celery.schedules:schedule",
    "celery.app.task:Task", "celery.beat:Scheduler", "celery.utils.log:get_task_logger",
    "celery.canvas:Signature", "celery.states:SUCCESS"])
def test_import_path_exists(ctx: Impl, case: str) -> None:
    module, name = case.split(":")
    found = ctx.tasks.imp(module, name)
    assert not isinstance(found, ctx.tasks.Missing), found


# === Configuration (user guide: Configuration, First steps) =======================================

@pytest.fixture
def fresh_app(ctx: Impl) -> Any:
    """A new app with no broker use, the module's app current again afterwards."""
    application = ctx.tasks.Celery("compat_conf")
    yield application
    set_current = getattr(ctx.tasks.app, "set_current", None)
    if callable(set_current):
        set_current()


def test_conf_get_with_default(fresh_app: Any) -> None:
    assert fresh_app.conf.get("task_default_queue") == "celery"
    assert fresh_app.conf.get("not_a_setting_at_all", "fallback") == "fallback"


def test_conf_item_access(fresh_app: Any) -> None:
    assert fresh_app.conf["task_serializer"] == "json"


def test_conf_item_assignment(fresh_app: Any) -> None:
    fresh_app.conf["task_default_queue"] = "by_item"
    assert fresh_app.conf.task_default_queue == "by_item"


def test_conf_update(fresh_app: Any) -> None:
    fresh_app.conf.update(task_default_queue="updated", task_acks_late=True)
    assert (fresh_app.conf.task_default_queue, fresh_app.conf.task_acks_late) == ("updated", True)


def test_conf_result_expires_default_is_one_day(fresh_app: Any) -> None:
    assert fresh_app.conf.result_expires == timedelta(days=1)


def test_config_from_object_class(ctx: Impl, fresh_app: Any) -> None:
    fresh_app.config_from_object(ctx.tasks.PlainConfig)
    assert fresh_app.conf.task_default_queue == "from_object"


def test_config_from_object_with_namespace(ctx: Impl, fresh_app: Any) -> None:
    fresh_app.config_from_object(ctx.tasks.NamespacedConfig, namespace="CELERY")
    assert fresh_app.conf.task_default_queue == "from_namespace"
    assert fresh_app.conf.task_acks_late is True


def test_config_from_object_by_module_attribute_path(fresh_app: Any) -> None:
    fresh_app.config_from_object("compat_tasks:PlainConfig")
    assert fresh_app.conf.task_default_queue == "from_object"


def test_config_from_object_by_module_name(fresh_app: Any) -> None:
    fresh_app.config_from_object("compat_config")
    assert fresh_app.conf.task_default_queue == "from_envvar"


def test_config_from_envvar(fresh_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPAT_CONFIG_MODULE", "compat_config")
    fresh_app.config_from_envvar("COMPAT_CONFIG_MODULE")
    assert fresh_app.conf.task_acks_late is True


def test_celery_only_settings_are_accepted(fresh_app: Any) -> None:
    fresh_app.conf.update(worker_max_tasks_per_child=10, broker_pool_limit=5)
    assert fresh_app.conf.broker_pool_limit == 5


def test_task_always_eager_runs_delay_in_process(fresh_app: Any) -> None:
    fresh_app.conf.task_always_eager = True

    @fresh_app.task
    def double(x: int) -> int:
        return x * 2

    assert double.delay(21).get() == 42


def test_on_after_configure_adds_periodic_tasks(ctx: Impl, fresh_app: Any) -> None:
    @fresh_app.on_after_configure.connect
    def setup_periodic_tasks(sender: Any, **kwargs: Any) -> None:
        sender.add_periodic_task(10.0, ctx.tasks.add.s(1, 1), name="add every 10")

    entry = fresh_app.conf.beat_schedule["add every 10"]
    assert (entry["task"], entry["schedule"]) == ("compat_tasks.add", 10.0)


def test_beat_schedule_setting_accepts_schedule_objects(ctx: Impl, fresh_app: Any) -> None:
    fresh_app.conf.beat_schedule = {"nightly": {
        "task": "compat_tasks.add", "schedule": ctx.tasks.crontab(minute=0, hour=3),
        "args": (1, 2)}}
    assert fresh_app.conf.beat_schedule["nightly"]["args"] == (1, 2)


def test_main_name_of_the_app(fresh_app: Any) -> None:
    assert fresh_app.main == "compat_conf"


# === Remote control from Python (user guide: Workers > Remote control) ============================

def test_control_revoke_accepts_a_list_of_ids(ctx: Impl) -> None:
    # 2 s: the broadcast must reach the worker before the ETA (0.5 s was too short for Celery's
    # worker on the loaded machine: the task ran before its revocation arrived)
    first = ctx.tasks.add.apply_async((1, 1), countdown=2)
    second = ctx.tasks.add.apply_async((2, 2), countdown=2)
    ctx.tasks.app.control.revoke([first.id, second.id])
    for result in (first, second):
        with pytest.raises(ctx.tasks.TaskRevokedError):
            result.get(timeout=ctx.wait)


def test_control_ping_gets_a_pong(ctx: Impl) -> None:
    replies = ctx.tasks.app.control.ping(timeout=1)
    assert any(reply == {"ok": "pong"} for entry in replies for reply in entry.values())


def test_inspect_registered_lists_the_tasks(ctx: Impl) -> None:
    registered = ctx.tasks.app.control.inspect(timeout=1).registered()
    assert any("compat_tasks.add" in names for names in registered.values())


def test_inspect_active_is_a_dict_per_worker(ctx: Impl) -> None:
    active = ctx.tasks.app.control.inspect(timeout=1).active()
    assert isinstance(active, dict) and all(isinstance(v, list) for v in active.values())


def test_control_rate_limit_is_acknowledged(ctx: Impl) -> None:
    replies = ctx.tasks.app.control.rate_limit("compat_tasks.mul", "1000/s", reply=True,
                                               timeout=1)
    assert replies and all("ok" in reply for entry in replies for reply in entry.values())


# === Periodic task schedules (user guide: Periodic Tasks) =========================================

NOW = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)  # a Monday


def test_schedule_run_every_is_due_after_its_interval(ctx: Impl) -> None:
    every = ctx.tasks.schedule(run_every=timedelta(seconds=10), nowfun=lambda: NOW)
    is_due, next_in = every.is_due(NOW - timedelta(seconds=11))
    assert is_due is True
    assert next_in == 10


def test_schedule_not_due_reports_the_remaining_seconds(ctx: Impl) -> None:
    every = ctx.tasks.schedule(run_every=timedelta(seconds=10), nowfun=lambda: NOW)
    is_due, next_in = every.is_due(NOW - timedelta(seconds=4))
    assert is_due is False
    assert next_in == pytest.approx(6, abs=0.01)


def test_schedule_remaining_estimate(ctx: Impl) -> None:
    every = ctx.tasks.schedule(run_every=timedelta(seconds=10), nowfun=lambda: NOW)
    remaining = every.remaining_estimate(NOW - timedelta(seconds=4))
    assert remaining == timedelta(seconds=6)


def test_crontab_fields_expand_to_sets(ctx: Impl) -> None:
    cron = ctx.tasks.crontab(minute="*/15", hour="9-10", day_of_week="mon-fri")
    assert cron.minute == {0, 15, 30, 45}
    assert cron.hour == {9, 10}
    assert cron.day_of_week == {1, 2, 3, 4, 5}


def test_crontab_remaining_estimate_uses_nowfun(ctx: Impl) -> None:
    cron = ctx.tasks.crontab(minute=30, hour=12, nowfun=lambda: NOW)
    assert cron.remaining_estimate(NOW - timedelta(minutes=1)) == timedelta(minutes=30)


def test_crontab_is_due_when_a_run_was_missed(ctx: Impl) -> None:
    cron = ctx.tasks.crontab(minute=0, hour=12, nowfun=lambda: NOW)
    is_due, next_in = cron.is_due(NOW - timedelta(days=1))
    assert is_due is True
    assert next_in == 24 * 3600


def test_crontab_equality(ctx: Impl) -> None:
    assert ctx.tasks.crontab(minute=0, hour=7) == ctx.tasks.crontab(minute=0, hour=7)


def test_schedule_entry_is_due(ctx: Impl) -> None:
    entry = ctx.tasks.ScheduleEntry(name="every10", task="compat_tasks.add", args=(1, 1),
                                    schedule=timedelta(seconds=10), app=ctx.tasks.app,
                                    last_run_at=NOW - timedelta(hours=1))
    assert entry.is_due()[0] is True


def test_custom_scheduler_subclass_can_be_defined(ctx: Impl) -> None:
    class MyScheduler(ctx.tasks.Scheduler):  # type: ignore[misc,name-defined]
        def setup_schedule(self) -> None:
            super().setup_schedule()

    assert issubclass(MyScheduler, ctx.tasks.Scheduler)
    assert hasattr(ctx.tasks.Scheduler, "tick")

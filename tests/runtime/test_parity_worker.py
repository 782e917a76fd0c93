"""Celery task behaviours in a real worker (issue 20): base-class hooks, signals, request
fields, custom states, STARTED meta, Reject and MaxRetriesExceededError as Celery 5 has them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from flowc.runtime.app import App

from tests.runtime.parity_support import parity_app
from tests.waiting import WorkerProcess, wait_until

Start = Callable[..., WorkerProcess]


def events(client: redis.Redis, kind: str | None = None) -> list[dict[str, Any]]:
    """What the worker recorded so far, optionally of one kind."""
    found = [json.loads(raw) for raw in client.lrange(parity_app.EVENTS, 0, -1)]
    return [e for e in found if kind is None or e["kind"] == kind]


def wait_for(client: redis.Redis, kind: str, count: int = 1,
             timeout: float = 15.0) -> list[dict[str, Any]]:
    """Block until ``count`` events of ``kind`` were recorded."""
    deadline = time.monotonic() + timeout
    while True:
        found = events(client, kind)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        client.blpop(["parity:never"], timeout=0.05)


def wait_state(result: Any, state: str, timeout: float = 15.0) -> None:
    """Block until the result reports ``state``."""
    wait_until(lambda: result.state == state, timeout, f"the {state} state",
               lambda: f"still {result.state}")


def start(start_worker: Start, *args: str) -> WorkerProcess:
    return start_worker("-P", "solo", *args, module="parity_app")


def test_success_hooks_run_in_the_worker_in_celerys_order(
        start_worker: Start, papp: App, redis_client: redis.Redis) -> None:
    start(start_worker)
    result = parity_app.hooked_add.delay(2, 3)
    assert result.get(timeout=10) == 5
    wait_for(redis_client, "after_return")
    wait_for(redis_client, "task_postrun")
    order = [e["kind"] for e in events(redis_client)
             if e.get("id") == result.id or e["kind"] == "task_success"]
    assert order == ["task_prerun", "before_start", "on_success", "task_success",
                     "after_return", "task_postrun"]
    mine = [e for e in events(redis_client) if e.get("id") == result.id]
    assert mine[1] == {"kind": "before_start", "id": result.id, "args": [2, 3], "kwargs": {}}
    assert mine[2]["retval"] == 5
    assert mine[3]["status"] == "SUCCESS" and mine[3]["einfo"] is None


def test_failure_hooks_get_the_exception_and_an_exception_info(
        start_worker: Start, papp: App, redis_client: redis.Redis) -> None:
    start(start_worker)
    result = parity_app.hooked_fail.delay()
    with pytest.raises(ValueError):
        result.get(timeout=10)
    wait_for(redis_client, "after_return")
    failure = wait_for(redis_client, "on_failure")[0]
    assert failure == {"kind": "on_failure", "id": result.id, "exc": "ValueError",
                       "einfo_type": "ValueError", "in_traceback": True}
    assert events(redis_client, "after_return")[0]["status"] == "FAILURE"
    assert events(redis_client, "task_failure")[0]["id"] == result.id


def test_class_attribute_options_drive_autoretry_and_on_retry(
        start_worker: Start, papp: App, redis_client: redis.Redis) -> None:
    start(start_worker)
    assert parity_app.flaky.delay().get(timeout=10) == 1
    retry = wait_for(redis_client, "on_retry")[0]
    assert retry["exc"] == "ConnectionError" and retry["retries"] == 0
    assert wait_for(redis_client, "task_retry")[0]["sender"] == "parity_app.flaky"


def test_class_attribute_max_retries_limits_autoretry(
        start_worker: Start, papp: App, redis_client: redis.Redis) -> None:
    start(start_worker)
    with pytest.raises(ConnectionError):
        parity_app.always_down.delay().get(timeout=10)
    assert len(events(redis_client, "on_retry")) == 1  # max_retries = 1 on the class


def test_signal_with_a_sender_only_hears_that_task(
        start_worker: Start, papp: App, redis_client: redis.Redis) -> None:
    start(start_worker)
    parity_app.square.delay(3).get(timeout=10)
    added = parity_app.hooked_add.delay(1, 1)
    added.get(timeout=10)
    wait_for(redis_client, "task_postrun")
    prerun = events(redis_client, "task_prerun")
    assert [e["id"] for e in prerun] == [added.id]
    assert prerun[0]["sender"] == prerun[0]["task"] == "parity_app.hooked_add"
    assert events(redis_client, "task_postrun")[0] == {
        "kind": "task_postrun", "id": added.id, "retval": 2, "state": "SUCCESS"}
    assert events(redis_client, "task_success")[0]["result"] == 2


def test_class_based_and_shared_tasks_run_in_the_worker(start_worker: Start, papp: App) -> None:
    start(start_worker)
    assert parity_app.square.delay(7).get(timeout=10) == 49
    assert parity_app.shared_mul.delay(6, 7).get(timeout=10) == 42


def test_request_carries_celerys_fields(start_worker: Start, papp: App) -> None:
    start(start_worker, "-n", "alpha@%h")
    result = parity_app.request_fields.apply_async(headers={"tenant": "t1"}, queue="celery")
    fields = result.get(timeout=10)
    assert fields["id"] == result.id
    assert fields["args"] == [] and fields["kwargs"] == {}
    assert fields["hostname"].startswith("alpha@")
    assert fields["delivery_info"]["routing_key"] == "celery"
    assert fields["delivery_info"]["priority"] == 0
    assert fields["reply_to"] == f"flowc:result:{result.id}"  # where the result goes
    assert fields["retries"] == 0
    assert fields["called_directly"] is False and fields["is_eager"] is False
    assert fields["headers"] == {"tenant": "t1"}


def test_a_header_added_by_before_task_publish_reaches_the_task(
        start_worker: Start, papp: App) -> None:
    from flowc.signals import before_task_publish

    seen: list[dict[str, Any]] = []

    def add_header(sender: Any = None, headers: Any = None, routing_key: str = "",
                   **_: Any) -> None:
        seen.append({"sender": sender, "id": headers["id"], "routing_key": routing_key})
        headers["tenant"] = "from-signal"

    before_task_publish.connect(add_header)
    try:
        start(start_worker)
        result = parity_app.request_fields.delay()
        assert result.get(timeout=10)["headers"] == {"tenant": "from-signal"}
    finally:
        before_task_publish.disconnect(add_header)
    assert seen == [{"sender": "parity_app.request_fields", "id": result.id,
                     "routing_key": "celery"}]


def test_custom_state_and_meta_are_visible_and_streamed_to_on_message(
        start_worker: Start, papp: App, redis_client: redis.Redis) -> None:
    start(start_worker)
    result = parity_app.progress.delay(2)
    wait_state(result, "PROGRESS")
    assert result.info == {"done": 1, "of": 2}
    messages: list[dict[str, Any]] = []

    def on_message(meta: dict[str, Any]) -> None:
        messages.append(meta)
        if meta["status"] == "PROGRESS":
            redis_client.rpush(f"parity:go:{result.id}", 1)

    assert result.get(timeout=15, on_message=on_message, interval=0.02) == "finished"
    assert [m["status"] for m in messages] == ["PROGRESS", "PROGRESS", "SUCCESS"]
    assert [m["result"] for m in messages[:2]] == [{"done": 1, "of": 2}, {"done": 2, "of": 2}]
    assert all(m["task_id"] == result.id for m in messages)


def test_started_state_carries_the_pid_and_hostname(start_worker: Start, papp: App,
                                                    redis_client: redis.Redis) -> None:
    start(start_worker, "-n", "beta@%h")
    result = parity_app.hold.delay()
    wait_state(result, "STARTED")
    info = result.info
    redis_client.rpush(f"parity:go:{result.id}", 1)
    pid = result.get(timeout=10)
    assert info == {"pid": pid, "hostname": info["hostname"]}
    assert info["hostname"].startswith("beta@")


def test_reject_without_requeue_records_failure_and_dead_letters(
        start_worker: Start, papp: App, redis_client: redis.Redis) -> None:
    from flowc.exceptions import Reject

    start(start_worker)
    result = parity_app.rejects.delay()
    with pytest.raises(Reject):
        result.get(timeout=10)
    assert result.state == "FAILURE"
    assert wait_for(redis_client, "task_failure")[0]["exception"] == "Reject"
    wait_until(lambda: redis_client.xlen("flowc:dlq") >= 1, 10,
               "the rejected message to be dead-lettered")


def test_max_retries_exceeded_error_carries_the_task_arguments(
        start_worker: Start, papp: App, redis_client: redis.Redis) -> None:
    from flowc.exceptions import MaxRetriesExceededError

    start(start_worker)
    with pytest.raises(MaxRetriesExceededError):
        parity_app.gives_up.delay(5, b="y").get(timeout=10)
    gave_up = wait_for(redis_client, "gave_up")[0]
    assert gave_up["task_args"] == [5] and gave_up["task_kwargs"] == {"b": "y"}


def test_task_revoked_signal_fires_when_a_revoked_task_is_skipped(
        start_worker: Start, papp: App, redis_client: redis.Redis) -> None:
    result = parity_app.hooked_add.apply_async((1, 2), countdown=1.0)
    result.revoke()
    start(start_worker)
    revoked = wait_for(redis_client, "task_revoked")
    assert revoked and revoked[0]["id"] == result.id
    assert revoked[0]["sender"] == "parity_app.hooked_add" and revoked[0]["expired"] is False


@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_worker_lifecycle_signals(start_worker: Start, papp: App, redis_client: redis.Redis,
                                  pool: str) -> None:
    worker = start_worker("-P", pool, "-c", "2", module="parity_app",
                          expect=2 if pool == "prefork" else 1)
    assert len(wait_for(redis_client, "worker_ready")) == 1
    assert worker.stop() == 0
    assert len(events(redis_client, "worker_shutdown")) == 1
    inits = events(redis_client, "worker_process_init")
    assert len(inits) == (2 if pool == "prefork" else 0)


def test_inspect_from_python_answers_per_node(start_worker: Start, papp: App,
                                              redis_client: redis.Redis) -> None:
    start_worker("-P", "prefork", "-c", "2", "-n", "gamma@%h", module="parity_app", expect=2)
    held = parity_app.hold.delay()
    wait_state(held, "STARTED")
    inspect = papp.control.inspect(timeout=3)
    active = inspect.active()
    assert active is not None and len(active) == 1
    (node, running), = active.items()
    assert node.startswith("gamma@") and "." not in node.split("@")[0]
    assert [t["id"] for t in running] == [held.id]
    assert "parity_app.hooked_add" in inspect.registered()[node]
    stats = inspect.stats()[node]
    assert stats["pool"] == {"implementation": "prefork", "max-concurrency": 2}
    assert len(stats["processes"]) == 2
    assert inspect.ping() == {node: {"ok": "pong"}}
    assert papp.control.ping(timeout=3) == [{node: {"ok": "pong"}}]
    redis_client.rpush(f"parity:go:{held.id}", 1)
    held.get(timeout=10)


def test_inspect_without_workers_returns_none(papp: App) -> None:
    assert papp.control.inspect(timeout=0.2).active() is None
    assert papp.control.ping(timeout=0.2) == []


def test_rate_limit_from_python_reaches_each_worker_process(start_worker: Start,
                                                            papp: App) -> None:
    start(start_worker)
    replies = papp.control.rate_limit("parity_app.hooked_add", "5/m", reply=True, timeout=3)
    assert replies is not None and len(replies) == 1
    (node, answer), = replies[0].items()
    assert node == f"flowc@{socket.gethostname()}"  # the node, not the process
    assert "ok" in answer and "5/m" in str(answer["ok"])
    from flowc.exceptions import InvalidTaskOptions

    with pytest.raises(InvalidTaskOptions):
        papp.control.rate_limit("parity_app.hooked_add", "five a minute")


def test_celery_redis_priority_order_runs_zero_first(start_worker: Start, papp: App,
                                                    redis_client: redis.Redis) -> None:
    papp.conf.flowc_most_urgent_priority = 0
    try:
        order = [parity_app.hooked_add.apply_async((p, 0), priority=p) for p in (9, 5)]
        order.append(parity_app.hooked_add.apply_async((-1, 0)))  # none given: Celery's 0
        order.append(parity_app.hooked_add.apply_async((0, 0), priority=0))
        start(start_worker)
        for result in order:
            result.get(timeout=10)
    finally:
        papp.conf.flowc_most_urgent_priority = 9
    ran = [e["args"][0] for e in events(redis_client, "before_start")]
    assert ran[2:] == [5, 9]  # the two urgent ones (no priority and 0, equal) before 5 and 9
    assert sorted(ran[:2]) == [-1, 0]


def flowc_cli(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``flowc ARGS`` against the test database."""
    env = {**os.environ, "FLOWC_BROKER_URL": redis_url}
    return subprocess.run([sys.executable, "-m", "flowc", *args], env=env, capture_output=True,
                          text=True, timeout=60)


def test_flowc_call_then_flowc_result(start_worker: Start, papp: App, redis_url: str) -> None:
    start(start_worker)
    sent = flowc_cli(redis_url, "call", "parity_app.hooked_add", "--args", "[2, 3]")
    assert sent.returncode == 0, sent.stderr
    task_id = sent.stdout.strip()
    shown = flowc_cli(redis_url, "result", task_id, "--timeout", "10")
    assert (shown.returncode, shown.stdout.strip()) == (0, "5")


def test_flowc_result_of_a_failure_prints_the_exception_or_traceback(
        start_worker: Start, papp: App, redis_url: str) -> None:
    start(start_worker)
    failed = parity_app.hooked_fail.delay()
    with pytest.raises(ValueError):
        failed.get(timeout=10)
    shown = flowc_cli(redis_url, "result", failed.id)
    assert shown.returncode == 1 and shown.stderr.strip() == "ValueError: boom"
    traced = flowc_cli(redis_url, "result", failed.id, "--traceback")
    assert traced.returncode == 0 and 'raise ValueError("boom")' in traced.stdout


def test_flowc_call_with_bad_json_says_what_to_write(redis_url: str) -> None:
    sent = flowc_cli(redis_url, "call", "parity_app.hooked_add", "--args", "[2,")
    assert sent.returncode == 2
    assert "--args" in sent.stderr and "e.g. '[2, 3]'" in sent.stderr
    assert "Traceback" not in sent.stderr

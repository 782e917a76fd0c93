"""Tasks the prefork supervisor settles (hard time limit, revoke with terminate) send events.

The pool process running such a task is killed, so it cannot report the outcome; the
supervisor settles the task for it and sends the event under the pool process's name. Real
``flowc worker -P prefork -E`` subprocesses on the test Redis.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from flowc.runtime.app import App
from flowc.runtime.redis.events_stream import iter_range

from flowc.exceptions import TaskRevokedError, TimeLimitExceeded
from tests.waiting import WorkerProcess, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "apps"))
import sample_app

Start = Callable[..., WorkerProcess]


def _events_of(client: redis.Redis, task_id: str) -> list[dict[str, Any]]:
    return [e for _, batch in iter_range(client, "flowc:events") for e in batch
            if e.get("uuid") == task_id]


def _wait_for_event(client: redis.Redis, task_id: str, kind: str,
                    timeout: float = 15.0) -> dict[str, Any]:
    found = wait_until(lambda: [e for e in _events_of(client, task_id) if e["type"] == kind],
                       timeout, f"a {kind} event for {task_id}",
                       lambda: str(_events_of(client, task_id)))
    return found[0]


def test_a_task_killed_for_its_hard_time_limit_sends_task_failed(
        start_worker: Start, client_app: App, redis_client: redis.Redis) -> None:
    # Given a prefork worker with events on, and a task that outlives its hard time limit
    worker = start_worker("-P", "prefork", "-c", "2", "-E", expect=2)
    result = sample_app.sleep_then.apply_async((30.0,), time_limit=1)
    with pytest.raises(TimeLimitExceeded):
        result.get(timeout=20)
    # Then the supervisor's settlement is reported as task-failed with TimeLimitExceeded
    failed = _wait_for_event(redis_client, result.id, "task-failed")
    assert "TimeLimitExceeded" in failed["exception"]
    assert "exceeded its time limit" in failed["exception"]
    events = _events_of(redis_client, result.id)
    assert [e["type"] for e in events] == ["task-received", "task-started", "task-failed"]
    assert failed["hostname"] == events[1]["hostname"]  # under the killed process's name
    assert worker.stop() == 0


def test_revoke_with_terminate_sends_task_revoked(
        start_worker: Start, client_app: App, redis_client: redis.Redis) -> None:
    # Given a prefork worker with events on, running a long task
    worker = start_worker("-P", "prefork", "-c", "2", "-E", expect=2)
    result = sample_app.sleep_then.delay(30.0)
    _wait_for_event(redis_client, result.id, "task-started")
    # When it is revoked with terminate=True
    result.revoke(terminate=True)
    with pytest.raises(TaskRevokedError):
        result.get(timeout=20)
    # Then a task-revoked event says it was terminated
    revoked = _wait_for_event(redis_client, result.id, "task-revoked")
    assert revoked["terminated"] is True and revoked["reason"] == "terminated"
    assert revoked["name"] == sample_app.sleep_then.name
    events = _events_of(redis_client, result.id)
    assert [e["type"] for e in events] == ["task-received", "task-started", "task-revoked"]
    assert revoked["hostname"] == events[1]["hostname"]
    assert worker.stop() == 0

"""Work no worker here can run is never lost in silence: a worker leaves a task it lacks to a
live worker that has it, and a message nobody can run fails its result and its workflow run."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from flowc.compiler.canvas.primitives import chain
from flowc.runtime.app import App
from flowc.runtime.monitoring.dlq import DeadLetters

pytestmark = [pytest.mark.process, pytest.mark.redis]


def test_a_worker_leaves_a_task_it_lacks_to_a_live_worker_that_has_it(
        start_worker: Any, client_app: App, redis_client: redis.Redis) -> None:
    start_worker("-P", "solo", module="reliability_app")  # the same queue, other tasks
    start_worker("-P", "solo")
    add = client_app.tasks["sample_app.add"]
    results = [add.delay(i, i) for i in range(30)]
    assert [r.get(timeout=30) for r in results] == [2 * i for i in range(30)]
    assert DeadLetters(client_app).count() == 0


def test_a_task_no_live_worker_registers_fails_its_result_with_the_reason(
        start_worker: Any, client_app: App) -> None:
    start_worker("-P", "solo", module="reliability_app")
    result = client_app.send_task("sample_app.add", (1, 2))
    with pytest.raises(Exception, match="unknown task 'sample_app.add' on worker"):
        result.get(timeout=30)
    [letter] = DeadLetters(client_app).newest()
    assert "no live worker on queue 'celery' registers it" in letter.reason


def test_a_dead_lettered_workflow_step_fails_its_run_with_the_reason(
        start_worker: Any, client_app: App) -> None:
    start_worker("-P", "solo", module="reliability_app")
    add = client_app.tasks["sample_app.add"]
    result = chain(add.s(1, 2), add.s(3)).delay()
    with pytest.raises(Exception, match="unknown task 'sample_app.add'"):
        result.get(timeout=30)
    run = client_app.workflow(result.workflow_id)
    assert run.status() == "FAILURE"
    assert "unknown task 'sample_app.add'" in run.meta()["exc"]
    assert {n: s["state"] for n, s in run.nodes().items()} == {"n0": "FAILURE",
                                                             "n1": "SKIPPED"}

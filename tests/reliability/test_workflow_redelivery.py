"""A workflow survives a worker SIGKILLed in the middle of it (acks_late redelivery + join)."""

from __future__ import annotations

import reliability_app as ra
from flowc.compiler.canvas.primitives import chain, chord
from flowc.runtime.app import App

from tests.reliability.conftest import Cluster
from tests.waiting import wait_until


def test_a_chain_finishes_after_the_worker_running_a_step_is_killed(
        cluster: Cluster, rel_app: App) -> None:
    # Given two solo workers and a chain whose second step runs for a while
    cluster.start("-P", "solo")
    cluster.start("-P", "solo")
    result = chain(ra.step.s(0, 1), ra.step.s(10, 1.5), ra.step.s(100),
                   chord([ra.step.s(1000, 0.05) for _ in range(6)], ra.total.s())).delay()
    # When the worker that claimed the slow step is SIGKILLed while it runs
    wait_until(lambda: any(s.startswith("10:") for s in cluster.logged("steps")), 10,
             "the slow step to start", cluster.logs)
    runner = next(s for s in cluster.logged("steps") if s.startswith("10:")).split(":")[1]
    next(w for w in cluster.workers if str(w.proc.pid) == runner).proc.kill()
    # Then the step is redelivered to the survivor and the whole workflow completes
    assert result.get(timeout=30) == 6 * (111 + 1000), cluster.logs()
    starts = [s for s in cluster.logged("steps") if s.startswith("10:")]
    assert len(starts) == 2  # the killed run and the redelivered one
    run = rel_app.workflow(result.workflow_id)
    assert run.status() == "SUCCESS"
    assert all(n["state"] == "SUCCESS" for n in run.nodes().values())

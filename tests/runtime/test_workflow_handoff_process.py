"""The chain handoff in real worker processes: a finished step's successor runs in the same
process (claimed inside the join, no other process woken), only where that process consumes
the successor's queue, and a process killed holding a successor it claimed that way loses
nothing: the reaper returns it and the chain completes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flowc.compiler.canvas.primitives import chain
from flowc.runtime.app import App

pytestmark = [pytest.mark.process, pytest.mark.redis]


def test_every_step_of_a_chain_runs_in_the_process_that_ran_the_first(
        start_worker: Any, client_app: App) -> None:
    worker = start_worker("-c", "2", expect=2)  # two idle processes either could wake
    trail = client_app.tasks["sample_app.pid_trail"]
    for _ in range(2):
        pids = chain(trail.s([]), *[trail.s() for _ in range(19)]).delay().get(timeout=30)
        assert len(pids) == 20
        assert len(set(pids)) == 1, f"the chain moved between processes: {pids}"
        assert pids[0] in {p.pid for p in worker.children()}


def test_a_step_on_a_queue_the_process_does_not_consume_runs_where_it_is_consumed(
        start_worker: Any, client_app: App) -> None:
    default = start_worker("-P", "solo")
    other = start_worker("-P", "solo", "-Q", "other")
    trail = client_app.tasks["sample_app.pid_trail"]
    pids = chain(trail.s([]), trail.s().set(queue="other"), trail.s()).delay().get(timeout=30)
    assert pids == [default.proc.pid, other.proc.pid, default.proc.pid]


def test_a_process_killed_holding_the_step_its_join_claimed_still_completes_the_chain(
        start_worker: Any, client_app: App, tmp_path: Path) -> None:
    # Given late acks, so a claimed step stays pending until it has run
    worker = start_worker("-c", "2", expect=2, env={"SAMPLE_ACKS_LATE": "1"})
    children = {p.pid for p in worker.children()}
    trail = client_app.tasks["sample_app.pid_trail"]
    die_once = client_app.tasks["sample_app.die_once"]
    marker = tmp_path / "died"
    # When the step claimed inside its predecessor's join kills its process the first time
    result = chain(trail.s([]), die_once.s(str(marker)), trail.s()).delay()
    # Then the reaper returns it, another process runs it, and the chain finishes once
    first, second, third = result.get(timeout=60)
    assert marker.exists()
    assert first in children and second != first and third == second

"""flowc on a Redis Cluster of three primaries: tasks, retries, countdowns and workflows run
with every script on one slot (a run's join in its run's slot, its ready steps published by
the worker to their queues' slots)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flowc.compiler.canvas.primitives import chain, chord, group
from flowc.runtime.app import App

from tests.conftest import ProcessReaper
from tests.topology.servers import ClusterSet

pytestmark = [pytest.mark.process, pytest.mark.redis]

APPS = Path(__file__).resolve().parent.parent / "apps"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterSet]:
    reaper = ProcessReaper()
    try:
        yield ClusterSet(tmp_path_factory.mktemp("cluster"), reaper).start()
    finally:
        reaper.reap()


@pytest.fixture(scope="module")
def cluster_worker(cluster: ClusterSet, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[Any]:
    """One prefork worker (2 processes) on the cluster, queues celery and other."""
    reaper = ProcessReaper()
    log_path = tmp_path_factory.mktemp("cluster-worker") / "worker.log"
    with open(log_path, "wb") as log:
        proc = reaper.spawn(
            [sys.executable, "-m", "flowc", "worker", "-A", "sample_app", "-c", "2",
             "-Q", "celery,other"], cwd=str(APPS),
            env={**os.environ, "FLOWC_BROKER_URL": cluster.url, "PYTHONUNBUFFERED": "1"},
            stdout=log, stderr=subprocess.STDOUT)
    yield proc
    reaper.reap()


@pytest.fixture
def capp(cluster: ClusterSet, cluster_worker: Any) -> Iterator[App]:
    if str(APPS) not in sys.path:
        sys.path.insert(0, str(APPS))
    import sample_app

    app = App("sample_app", broker=cluster.url)
    for name, task in sample_app.app.tasks.items():
        app.task(name=name)(task.run)
    yield app
    app.close()


def test_a_task_runs_and_its_result_comes_back(capp: App) -> None:
    assert capp.tasks["sample_app.add"].delay(2, 3).get(timeout=30) == 5


def test_many_tasks_spread_over_the_slots_of_their_ids(capp: App) -> None:
    add = capp.tasks["sample_app.add"]
    results = [add.delay(i, i) for i in range(200)]
    assert [r.get(timeout=60) for r in results] == [2 * i for i in range(200)]


def test_a_second_queue_in_another_slot_is_served(capp: App) -> None:
    assert capp.tasks["sample_app.add"].apply_async((1, 2), queue="other").get(timeout=30) == 3


def test_a_countdown_waits_on_the_cluster(capp: App) -> None:
    assert capp.tasks["sample_app.add"].apply_async((4, 4), countdown=0.5).get(timeout=30) == 8


def test_a_chain_a_group_and_a_chord_run_with_joins_in_their_runs_slots(capp: App) -> None:
    add, identity = capp.tasks["sample_app.add"], capp.tasks["sample_app.identity"]
    assert chain(add.s(1, 1), add.s(2), add.s(3)).delay().get(timeout=30) == 7
    assert group(add.s(i, i) for i in range(10)).delay().get(timeout=30) == \
        [2 * i for i in range(10)]
    assert chord([add.s(i, 1) for i in range(20)], identity.s()).delay().get(timeout=30) == \
        [i + 1 for i in range(20)]


def test_a_failed_step_fails_its_run(capp: App) -> None:
    fail, add = capp.tasks["sample_app.fail_custom"], capp.tasks["sample_app.add"]
    result = chain(add.s(1, 1), fail.si("boom"), add.s(1)).delay()
    with pytest.raises(Exception, match="boom"):
        result.get(timeout=30)
    assert capp.workflow(result.workflow_id).status() == "FAILURE"


def test_beat_publishes_each_due_time_on_the_cluster(cluster: ClusterSet, tmp_path: Path,
                                                     capp: App) -> None:
    """Beat's lease, fence and state share {beat}; each publish touches one queue's slot."""
    from tests.topology.servers import wait_until

    reaper = ProcessReaper()
    try:
        with open(tmp_path / "beat.log", "wb") as log:
            reaper.spawn([sys.executable, "-m", "flowc", "beat", "-A", "beat_app"],
                         cwd=str(APPS), env={**os.environ, "FLOWC_BROKER_URL": cluster.url,
                                             "PYTHONUNBUFFERED": "1"},
                         stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: capp.broker.depth("beat_other")["ready"] >= 2, 30,
                   "two due times published to a queue nobody consumes")
    finally:
        reaper.reap()
    log_text = (tmp_path / "beat.log").read_text()
    assert log_text.count("published every-second due") >= 2
    assert "Traceback" not in log_text

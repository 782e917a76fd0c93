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
from tests.topology.servers import ClusterSet, wait_until

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
    """One prefork worker (2 processes) on the cluster, queues celery and other, sending
    events (for the dashboard)."""
    reaper = ProcessReaper()
    log_path = tmp_path_factory.mktemp("cluster-worker") / "worker.log"
    with open(log_path, "wb") as log:
        proc = reaper.spawn(
            [sys.executable, "-m", "flowc", "worker", "-A", "sample_app", "-c", "2",
             "-Q", "celery,other", "-E"], cwd=str(APPS),
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
        app.task(name=name, bind=task.bind)(task.run)
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


def test_a_retry_is_recorded_and_runs_again_on_the_cluster(capp: App) -> None:
    """The RETRY state rides the settle pipeline (SPUBLISH: a cluster pipeline refuses
    PUBLISH); the retry waits in its queue's delayed set."""
    assert capp.tasks["sample_app.retries_once"].delay().get(timeout=30) == 1


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


def test_two_beats_publish_each_due_time_once_on_the_cluster(cluster: ClusterSet,
                                                             tmp_path: Path, capp: App) -> None:
    """Beat's lease, fence and state share {beat}; each publish touches one queue's slot."""
    from tests.runtime.beat_support import sent

    def every_second_too() -> list[Any]:
        return [m.due for m in sent(capp.broker_client, "beat_other")
                if m.entry == "every-second-too"]

    reaper = ProcessReaper()
    try:
        for i in range(2):
            with open(tmp_path / f"beat{i}.log", "wb") as log:
                reaper.spawn([sys.executable, "-m", "flowc", "beat", "-A", "beat_app"],
                             cwd=str(APPS), env={**os.environ, "FLOWC_BROKER_URL": cluster.url,
                                                 "PYTHONUNBUFFERED": "1"},
                             stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: len(every_second_too()) >= 2, 30,
                   "two due times published to a queue nobody consumes")
    finally:
        reaper.reap()
    logs = "".join(p.read_text() for p in sorted(tmp_path.glob("beat*.log")))
    due = every_second_too()
    assert len(due) == len(set(due)), f"a due time was published twice: {due}"
    assert "Traceback" not in logs


def test_a_rate_limit_holds_across_the_worker_processes(capp: App) -> None:
    """The limit's key (``{<task>}``) is one slot; parked messages wait in their queue's."""
    limited = capp.tasks["sample_app.limited"]
    starts = sorted(r.get(timeout=30) for r in [limited.delay(i) for i in range(10)])
    # 5/s: slots 0.2 s apart (plus a guard), so any second holds at most 5 starts
    windows = [later - first for first, later in zip(starts[:-5], starts[5:], strict=True)]
    assert min(windows) >= 0.95, starts


def test_state_updates_reach_a_waiter_on_the_cluster(capp: App) -> None:
    """STARTED is SET and published in the settle pipeline: on a cluster by sharded pub/sub
    (a cluster pipeline refuses PUBLISH), to the channel's slot where the waiter listens."""
    seen: list[str] = []
    result = capp.tasks["sample_app.sleep_started"].delay(0.5, "done")
    assert result.get(timeout=30, on_message=lambda meta: seen.append(meta["status"])) == "done"
    assert seen[0] == "STARTED" and seen[-1] == "SUCCESS"


def test_revoke_with_terminate_stops_a_running_task_on_the_cluster(capp: App) -> None:
    from flowc.exceptions import TaskRevokedError

    result = capp.tasks["sample_app.sleep_started"].delay(30)
    wait_until(lambda: result.state == "STARTED", 15, "the task to start")
    result.revoke(terminate=True)
    with pytest.raises(TaskRevokedError):
        result.get(timeout=10)
    # the pool process it ran in was replaced: work goes on
    assert capp.tasks["sample_app.add"].delay(1, 1).get(timeout=30) == 2


def test_revoked_queued_tasks_never_run_on_the_cluster(capp: App) -> None:
    from flowc.exceptions import TaskRevokedError

    add = capp.tasks["sample_app.add"]
    by_result = add.apply_async((1, 1), countdown=1)
    by_id = add.apply_async((2, 2), countdown=1, queue="other")
    by_result.revoke()
    capp.control.revoke(by_id.id)
    for r in (by_result, by_id):
        with pytest.raises(TaskRevokedError):
            r.get(timeout=15)
        assert r.state == "REVOKED"


def test_flowc_status_reports_the_cluster_queues_and_worker(cluster: ClusterSet,
                                                            capp: App) -> None:
    import orjson
    from click.testing import CliRunner

    from flowc.cli import main

    assert capp.tasks["sample_app.add"].delay(1, 2).get(timeout=30) == 3  # the worker is up

    def report() -> dict[str, Any]:
        out = CliRunner().invoke(main, ["status", "--json", "--broker", cluster.url])
        assert out.exit_code == 0, out.output
        return dict(orjson.loads(out.output))

    def both_queues_served() -> bool:
        queues = {q["name"]: q for q in report()["queues"]}
        return all(queues.get(name, {}).get("workers", 0) >= 1 for name in ("celery", "other"))

    wait_until(both_queues_served, 10, f"both queues listed with their worker: {report()}")
    assert report()["workers"]


def test_the_dashboard_api_shows_workers_tasks_and_runs_of_the_cluster(
        capp: App, serve_dashboard: Any) -> None:
    import httpx
    from flowc.runtime.dashboard.security import AuthConfig

    token = "cluster-token-0123"
    server = serve_dashboard(capp, AuthConfig.build("127.0.0.1", token=token))
    add = capp.tasks["sample_app.add"]
    task = add.delay(20, 22)
    run = chain(add.s(1, 1), add.s(1)).delay()
    assert task.get(timeout=30) == 42 and run.get(timeout=30) == 3
    with httpx.Client(base_url=server.url, timeout=10,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        status = client.get("/api/status").json()
        assert status["workers"] and {"celery", "other"} <= {q["name"] for q in
                                                            status["queues"]}
        wait_until(lambda: any(t["uuid"] == task.id for t in
                               client.get("/api/tasks").json()["tasks"]), 15,
                   "the task in the dashboard's index")
        assert client.get(f"/api/task/{task.id}").json()["stored"]
        runs = client.get("/api/workflows").json()["runs"]
        assert any(r["id"] == run.workflow_id for r in runs), runs
        assert client.get(f"/api/workflow/{run.workflow_id}").json()["status"] == "SUCCESS"
        assert "online" in client.get("/workers").text


def test_wait_replicas_on_a_cluster_is_refused_with_the_fix(cluster: ClusterSet) -> None:
    """WAIT reaches one node; a publish or a settle pipeline writes to several shards."""
    from flowc.runtime.exceptions import ImproperlyConfigured

    app = App("waits", broker=cluster.url, flowc_wait_replicas=1)
    try:
        with pytest.raises(ImproperlyConfigured, match="flowc_wait_replicas=0.*Sentinel"):
            app.broker  # noqa: B018
    finally:
        app.close()

"""A RabbitMQ + PostgreSQL deployment with no Redis at all (docs/transports.md, "Running
without Redis"): real ``flowc worker``, ``flowc beat``, ``flowc status``/``inspect``/``events``.

No Redis is reachable: ``$FLOWC_EMBEDDED_URL`` names a dead address, so anything that would
fall back to the embedded server fails loudly instead, and ``$FLOWC_COORDINATION_URL`` is unset.
Coordination (heartbeats, revocations, rate limits, events, control, beat) lives in the
PostgreSQL schema of the run.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from flowc.compiler.canvas.primitives import chain, chord
from flowc.runtime.exceptions import TaskRevokedError
from flowc.runtime.monitoring.views import Monitor

from tests.transports import empty_schema, empty_vhost
from tests.waiting import wait_until

APPS_DIR = Path(__file__).resolve().parent.parent / "apps"
sys.path.insert(0, str(APPS_DIR))
import noredis_app  # noqa: E402

pytestmark = [pytest.mark.amqp, pytest.mark.postgresql, pytest.mark.process]

NO_REDIS = "redis://127.0.0.1:1/0"
"""Where the embedded server would be: nothing listens there."""

Start = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def deployment(amqp_url: str, pg_url: str, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The environment of a no-Redis deployment, with emptied queues and tables."""
    empty_vhost(amqp_url, ["celery"])
    empty_schema(pg_url)
    env = {"FLOWC_BROKER_URL": amqp_url, "FLOWC_RESULT_BACKEND": pg_url,
           "FLOWC_EMBEDDED_URL": NO_REDIS, "MARK_FILE": str(tmp_path / "marks")}
    monkeypatch.delenv("FLOWC_COORDINATION_URL", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = noredis_app.app
    app.close()
    for name in ("broker_url", "backend_url", "coordination_url"):
        app.__dict__.pop(name, None)
    yield env
    app.close()


def _live_workers() -> int:
    return sum(1 for w in noredis_app.app.coordination.workers(300) if w.alive)


@pytest.fixture
def spawn(deployment: dict[str, str], process_reaper: Any, tmp_path: Path
          ) -> Callable[..., subprocess.Popen[bytes]]:
    """Start a ``flowc`` command in tests/apps with the deployment's environment."""
    def run(*args: str) -> subprocess.Popen[bytes]:
        with open(tmp_path / f"{args[0]}-{time.monotonic_ns()}.log", "wb") as log:
            return process_reaper.spawn(
                [sys.executable, "-m", "flowc", *args], cwd=str(APPS_DIR),
                env={**os.environ, **deployment, "PYTHONUNBUFFERED": "1"},
                stdout=log, stderr=subprocess.STDOUT)
    return run


@pytest.fixture
def worker(spawn: Callable[..., subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    """A prefork worker with events on, beating in PostgreSQL."""
    proc = spawn("worker", "-A", "noredis_app", "-P", "prefork", "-c", "2", "-E")
    wait_until(lambda: _live_workers() >= 2 or proc.poll() is not None, 30,
               "the worker's two processes beat in PostgreSQL")
    assert proc.poll() is None
    return proc


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flowc", *args], cwd=str(APPS_DIR),
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


def test_nothing_falls_back_to_redis(deployment: dict[str, str]) -> None:
    app = noredis_app.app
    assert app.coordination_url == ""
    assert type(app.coordination).__name__ == "PgCoordination"
    with pytest.raises(Exception, match="no Redis"):
        _ = app.broker_client


def test_tasks_chains_and_chords_run(worker: Any) -> None:
    assert noredis_app.add.delay(2, 3).get(timeout=20) == 5
    steps = chain(noredis_app.add.s(1, 2), *[noredis_app.add.s(10) for _ in range(3)])
    assert steps.apply_async().get(timeout=30) == 33
    run = chord([noredis_app.add.s(i, i) for i in range(5)], noredis_app.identity.s())
    assert run.apply_async().get(timeout=30) == [0, 2, 4, 6, 8]
    monitor = Monitor(noredis_app.app)  # the dashboard's run list, from PostgreSQL
    listed = monitor.workflow_summaries([wid for wid, _ in monitor.workflow_ids()])
    assert [r["status"] for r in listed] == ["SUCCESS", "SUCCESS"]


def test_a_revoked_task_never_runs(worker: Any, deployment: dict[str, str]) -> None:
    revoked_id = "revoked-before-it-was-due"
    doomed = noredis_app.mark.apply_async(("revoked",), task_id=revoked_id, countdown=3.0)
    # workers refresh their revoked set every 0.25-0.5 s: they know long before it is due
    noredis_app.app.control.revoke(revoked_id)
    noredis_app.mark.apply_async(("after",), countdown=4.0).get(timeout=20)
    with pytest.raises(TaskRevokedError):
        doomed.get(timeout=5)
    assert "revoked" not in Path(deployment["MARK_FILE"]).read_text()


def test_a_rate_limit_spaces_the_starts_across_the_cluster(worker: Any) -> None:
    results = [noredis_app.paced.delay(i) for i in range(4)]
    starts = sorted(r.get(timeout=30) for r in results)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.4, gaps  # 2/s: one start per ~0.5 s, on both pool processes


def test_status_inspect_and_events_answer(worker: Any, deployment: dict[str, str]) -> None:
    assert noredis_app.add.delay(1, 1).get(timeout=20) == 2
    status = _cli("status", "-A", "noredis_app", "--json", env=deployment)
    assert status.returncode == 0, status.stderr
    assert sum(w["alive"] for w in orjson.loads(status.stdout)["workers"]) == 2
    stats = _cli("inspect", "stats", "-A", "noredis_app", "--json", "-t", "3", env=deployment)
    assert stats.returncode == 0, stats.stderr
    assert len(orjson.loads(stats.stdout)) == 2  # each pool process answers
    assert noredis_app.app.control.ping(timeout=3)
    events = _cli("events", "-A", "noredis_app", "--since", "all", "--json", "-n", "3",
                  env=deployment)
    assert events.returncode == 0, events.stderr
    assert {"task-received", "task-succeeded", "worker-online"} & {
        orjson.loads(line)["type"] for line in events.stdout.splitlines()}


def test_two_beats_publish_each_due_time_once(
        worker: Any, spawn: Callable[..., subprocess.Popen[bytes]],
        deployment: dict[str, str]) -> None:
    beats = [spawn("beat", "-A", "noredis_app") for _ in range(2)]
    marks = Path(deployment["MARK_FILE"])

    def beat_runs() -> list[str]:
        text = marks.read_text() if marks.exists() else ""
        return [line.split()[1] for line in text.splitlines() if line.startswith("beat ")]

    wait_until(lambda: len(beat_runs()) >= 3, 30, "beat's every-second entry ran three times")
    assert all(b.poll() is None for b in beats)
    runs = beat_runs()
    assert len(runs) == len(set(runs)), runs  # no due time was published twice

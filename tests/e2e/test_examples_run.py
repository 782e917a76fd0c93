"""Every example runs end to end with ``flowc run``: real Redis, real worker processes.

Most tests share one ``flowc worker`` (started here) and pass ``--broker``; one runs
``examples/etl.flow`` exactly as a newcomer would, with no broker configured at all, so
``flowc run`` starts the embedded server and its own workers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.runtime.support import clients_in
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
QUEUES = "celery,default,media_heavy"
RUN_TIMEOUT_S = 60


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FLOWC_") or k == "FLOWC_EMBEDDED_HOME"}  # the session's own
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def worker(redis_url: str) -> Iterator[str]:
    """One prefork worker on the examples' queues for the whole module; yields the broker URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowc", "worker", "-A", "examples.tasks", "-P", "prefork",
         "-c", "4", "-Q", QUEUES, "--quiet"],
        cwd=ROOT, env=_env(FLOWC_BROKER_URL=redis_url, EXAMPLES_VIDEO_SECONDS="0.01"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        yield redis_url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def flowc_run(*args: str, broker: str | None = None, **kw: Any) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "flowc", "run", *args]
    if broker:
        argv += ["--broker", broker]
    return subprocess.run(argv, cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S, **kw)


def run_json(*args: str, broker: str) -> dict[str, Any]:
    done = flowc_run(*args, "--json", broker=broker)
    assert done.returncode == 0, done.stderr + done.stdout
    doc: dict[str, Any] = json.loads(done.stdout)
    assert doc["status"] == "SUCCESS"
    assert all(n["state"] == "SUCCESS" for n in doc["nodes"].values()), doc["nodes"]
    return doc


def test_etl_runs_on_a_fresh_install_with_no_broker_configured() -> None:
    started = time.monotonic()
    done = flowc_run("examples/etl.flow")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["title"] == "Summary"
    assert time.monotonic() - started < 30


def test_first_example_alphabetically_is_the_etl_flow() -> None:
    assert sorted(EXAMPLES.glob("*.flow"))[0].name == "etl.flow"


def test_etl_with_a_parameter(worker: str) -> None:
    doc = run_json("examples/etl.flow", "-p", "path=data/other.csv", broker=worker)
    assert doc["result"]["items"][0]["mode"] == "deep"


def test_json_reports_each_nodes_seconds_from_ready_to_done(worker: str) -> None:
    doc = run_json("examples/report.flow", "--params-json", '{"title": "Q3"}', broker=worker)
    seconds = {node: info["seconds"] for node, info in doc["nodes"].items()}
    assert seconds and all(isinstance(s, float) and 0 <= s < RUN_TIMEOUT_S
                           for s in seconds.values()), seconds


def test_metrics_chord_collects_every_chunk_in_order(worker: str) -> None:
    doc = run_json("examples/metrics.flow", "-p", "chunks=4", broker=worker)
    assert [i["chunk_id"] for i in doc["result"]["items"]] == [0, 1, 2, 3]


def test_report_dataflow_joins_both_branches(worker: str) -> None:
    doc = run_json("examples/report.flow", "--params-json", '{"title": "Q3"}', broker=worker)
    assert doc["result"] == {"title": "Q3", "rows": 4, "count": 4, "total": 26}


def test_fanout_maps_over_the_list_made_at_run_time(worker: str) -> None:
    doc = run_json("examples/fanout.flow", "-p", "stores=5", broker=worker)
    assert doc["result"]["items"] == [f"synced eu-{i}" for i in range(5)]


def test_media_runs_on_its_queue_after_its_countdown(worker: str) -> None:
    started = time.monotonic()
    doc = run_json("examples/media.flow", "-p", "video_id=9", broker=worker)
    assert doc["result"] == "notified owner of video 9"
    assert time.monotonic() - started >= 1.0  # countdown = 1s


def test_nightly_runs_both_sub_flows_then_maintenance(worker: str) -> None:
    assert run_json("examples/nightly.flow", broker=worker)["result"] == "vacuumed"


@pytest.mark.parametrize(("target", "expected"), [
    ("metrics", "Hourly metrics"), ("cleanup", "vacuumed"), ("inventory", "synced store-1"),
    ("partner_ping", {"sent": {"source": "flowc"}}),
])
def test_every_schedule_target_runs_once_on_demand(worker: str, target: str,
                                                   expected: Any) -> None:
    result = run_json("examples/schedules.flow", target, broker=worker)["result"]
    assert (result["title"] if isinstance(result, dict) and "title" in result
            else result) == expected


def test_yaml_example_runs_like_its_flow_file(worker: str) -> None:
    doc = run_json("examples/metrics.yaml", broker=worker)
    assert doc["result"]["title"] == "Metrics"


def test_a_failing_flow_exits_one_with_the_tasks_error(worker: str, tmp_path: Path) -> None:
    path = tmp_path / "boom.flow"
    path.write_text('use "examples.tasks"\n\nflow boom {\n    clean_rows({})\n'
                    "    on error -> report_failure()\n}\n")
    done = flowc_run(str(path), "--json", broker=worker)
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    assert doc["status"] == "FAILURE" and doc["error"].startswith("KeyError")


def test_detach_prints_the_workflow_id_and_returns(worker: str) -> None:
    done = flowc_run("examples/etl.flow", "--detach", broker=worker)
    assert done.returncode == 0
    workflow_id = done.stdout.strip()
    from flowc.runtime.app import App

    app = App("check", broker=worker)
    try:
        assert app.workflow(workflow_id).get(timeout=30)["title"] == "Summary"
    finally:
        app.close()


def _as_foreground_job() -> None:
    """In the child, before exec: SIGINT's default action, as for a terminal's foreground job.

    A process inherits an ignored SIGINT (a shell starts background jobs so, e.g. a suite run
    with ``&``), and Python then never raises KeyboardInterrupt: Ctrl-C would not reach it.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_revokes_the_run(redis_url: str, redis_client: Any, process_reaper: Any,
                                tmp_path: Path) -> None:
    # Given a run whose step waits on a queue no worker consumes
    path = tmp_path / "stuck.flow"
    path.write_text('use "examples.tasks"\n\nflow stuck {\n'
                    '    execute_db_maintenance() with queue = "nobody_listens"\n}\n')
    proc = process_reaper.spawn(
        [sys.executable, "-m", "flowc", "run", str(path), "--broker", redis_url, "--json",
         "--workers", "0"],  # wait for a worker of our own: none comes
        cwd=ROOT, env=_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, preexec_fn=_as_foreground_job)
    # wait until the run is submitted and `flowc run` watches it, however slow start-up is
    wait_until(lambda: redis_client.zcard("flowc:workflows"), 30, "the run to be submitted")
    wait_until(lambda: clients_in(redis_client, "hgetall"), 10, "flowc run to read the run")
    # When Ctrl-C arrives (stdin is not a terminal: revoke without asking)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    # Then the run is revoked and the exit status says it was interrupted
    assert proc.returncode == 130, err
    assert "revoked" in err

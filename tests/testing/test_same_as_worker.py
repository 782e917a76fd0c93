"""The harness and a real worker agree: every example (and the examples' tasks failing in each
way a run can fail) runs in-process and on a `flowc worker` on the test Redis, and both report
the same run status, node states, node results, failures and error-handler results.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import redis
from flowc.compiler.ir import Workflow
from flowc.runtime.app import App

from flowc.testing import FlowHarness
from flowc.testing.harness import FlowRun
from tests.testing.conftest import FLOWS, ROOT
from tests.waiting import wait_until

FAILING = FLOWS / "examples_failing.flow"
RETRIES = FLOWS / "retries.flow"
RUN_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Case:
    path: Path
    flow: str | None
    params: dict[str, Any]
    status: str
    states: dict[str, str]
    worker: str = "examples"
    """Which worker runs it: ``examples`` (examples.tasks) or ``flowtests`` (flowtasks)."""

    @property
    def id(self) -> str:
        return f"{self.path.name}:{self.flow or 'default'}" + "".join(
            f":{k}={v}" for k, v in self.params.items())


OK = "SUCCESS"


def ok(n: int) -> dict[str, str]:
    """States of an n-step run that succeeded."""
    return {f"n{i}": OK for i in range(n)}


CASES = [
    Case(ROOT / "examples/etl.flow", None, {"path": "data.csv"}, OK, ok(3)),
    Case(ROOT / "examples/report.flow", None, {"title": "Q3"}, OK, ok(4)),
    Case(ROOT / "examples/fanout.flow", None, {"stores": 5}, OK, ok(3)),
    Case(ROOT / "examples/metrics.flow", None, {"chunks": 4}, OK, ok(5)),
    Case(ROOT / "examples/nightly.flow", None, {}, OK, ok(6)),
    Case(ROOT / "examples/media.flow", None, {"video_id": 9}, OK, {"n0": OK, "n1": OK}),
    Case(ROOT / "examples/schedules.flow", "metrics", {}, OK, ok(4)),
    Case(ROOT / "examples/etl.yaml", None, {}, OK, ok(3)),
    Case(ROOT / "examples/metrics.yaml", None, {}, OK, ok(4)),
    Case(ROOT / "examples/schedules.flow", "partner_ping", {}, OK, {"n0": OK}),
    Case(FAILING, "boom", {}, "FAILURE", {"n0": "FAILURE", "n1": "SKIPPED"}),
    Case(FAILING, "partial", {}, "FAILURE",
         {"n0": "FAILURE", "n1": OK, "n2": OK, "n3": "SKIPPED"}),
    Case(FAILING, "rejected", {}, "FAILURE", {"n0": OK, "n1": "FAILURE", "n2": "SKIPPED"}),
    Case(FAILING, "chord_body_handler", {}, "FAILURE",
         {"n0": "FAILURE", "n1": OK, "n2": "SKIPPED"}),
    # a retry after 1 s of backoff, then success (the result counts the attempts)
    Case(RETRIES, "quick_backoff", {"fail_times": 1}, OK, {"n0": OK, "n1": OK}, "flowtests"),
    # retries exhausted (after 1 s, then 2 s): the run fails, its dependent is skipped, the
    # handler runs
    Case(RETRIES, "quick_backoff", {"fail_times": 9}, "FAILURE",
         {"n0": "FAILURE", "n1": "SKIPPED"}, "flowtests"),
    Case(RETRIES, "branches", {}, "FAILURE",
         {"n0": "FAILURE", "n1": OK, "n2": OK, "n3": "SKIPPED"}, "flowtests"),
    Case(RETRIES, "mapped", {"n": 3}, "FAILURE", {"n0": OK, "n1": "FAILURE", "n2": "SKIPPED"},
         "flowtests"),
    Case(RETRIES, "tupled", {}, OK, {"n0": OK, "n1": OK}, "flowtests"),
]


@dataclass
class Observed:
    """What a run reports, with task ids (random in each run) taken out of handler results."""

    status: str
    states: dict[str, str]
    results: dict[str, Any]
    errors: dict[str, str]
    handlers: list[Any]


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _without_ids(value: Any) -> Any:
    return UUID.sub("<task id>", value) if isinstance(value, str) else value


def in_harness(case: Case) -> tuple[Observed, Workflow]:
    run: FlowRun = FlowHarness().run(case.path, case.flow, case.params)
    return Observed(
        run.status, run.states(), run.results(),
        {n.id: type(n.exception).__name__ for n in run.nodes if n.state == "FAILURE"},
        [_without_ids(h.result) for h in run.handlers]), run.workflow


def on_worker(app: App, wf: Workflow) -> Observed:
    plan = app.workflows.submit(wf)
    run = app.workflow(plan.workflow_id)
    errbacks = [plan.task_ids[e.id] for e in wf.errbacks]

    def settled() -> bool:
        """Finished, or failed with nothing left queued and every handler it fires run."""
        if run.status() == "RUNNING":
            return False
        if any(s in ("QUEUED", "RUNNING") for s in app.workflows.node_states(run.id).values()):
            return False
        return run.status() == "SUCCESS" or all(
            app.AsyncResult(t).state != "PENDING" for t in errbacks)

    wait_until(settled, RUN_TIMEOUT_S, f"run {run.id} to settle")
    states = dict(sorted(app.workflows.node_states(run.id).items()))
    results, errors = {}, {}
    for node_id, state in states.items():
        handle = app.AsyncResult(plan.task_ids[node_id])
        if state == "SUCCESS":
            results[node_id] = handle.result
        elif state == "FAILURE":
            errors[node_id] = type(handle.result).__name__
    handlers = [_without_ids(app.AsyncResult(t).result) for t in errbacks
                if app.AsyncResult(t).state == "SUCCESS"]
    return Observed(run.status(), states, results, errors, handlers)


WORKERS = {"examples": ("examples.tasks", "celery,default,media_heavy"),
           "flowtests": ("tests.testing.flowtasks", "flowtests")}
"""Worker app and queues per kind of case."""


@pytest.fixture(scope="module")
def worker_apps(redis_url: str) -> Iterator[dict[str, App]]:
    """A producer App per kind of case, each served by one solo `flowc worker` on the test
    Redis (in order, one task at a time: the runs are then as deterministic as the
    harness's)."""
    client = redis.Redis.from_url(redis_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWC_")}
    env.update(PYTHONPATH=str(ROOT), FLOWC_BROKER_URL=redis_url, EXAMPLES_VIDEO_SECONDS="0.01")
    procs: list[subprocess.Popen[bytes]] = []
    apps: dict[str, App] = {}
    try:
        for kind, (module, queues) in WORKERS.items():
            before = client.zcard("flowc:workers")
            proc = subprocess.Popen(
                [sys.executable, "-m", "flowc", "worker", "-A", module, "-P", "solo",
                 "-Q", queues, "--quiet"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True)
            procs.append(proc)
            wait_until(lambda p=proc, n=before: p.poll() is not None  # type: ignore[misc]
                       or client.zcard("flowc:workers") > n, 30, f"the {kind} worker to start")
            assert proc.poll() is None, f"the {kind} worker exited while starting"
            apps[kind] = App(f"harness-check-{kind}", broker=redis_url, set_as_current=False)
            apps[kind].conf.task_default_queue = queues.split(",")[0]  # as the worker's app
        yield apps
    finally:
        for app in apps.values():
            app.close()
        client.close()
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_harness_and_a_worker_report_the_same_run(case: Case, worker_apps: dict[str, App],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    if "fail_times" in case.params:  # a key of its own: each process counts its calls per key
        case = replace(case, params={**case.params, "key": str(uuid.uuid4())})
    harness, wf = in_harness(case)
    assert (harness.status, harness.states) == (case.status, case.states)
    worker = on_worker(worker_apps[case.worker], wf)
    assert worker == harness, (worker, harness)

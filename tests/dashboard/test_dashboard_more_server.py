"""The dashboard's statistics, worker control, run history and resume APIs over HTTP, against a
real worker (with -E) and Redis (issue 19, item 11)."""

from __future__ import annotations

import httpx
import pytest
from flowc.runtime.dashboard.security import AuthConfig

from tests.dashboard.conftest import APPS_DIR, TOKEN, wait_until

BEARER = {"Authorization": f"Bearer {TOKEN}"}


def _client(base: str, auth: bool = True) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=15, headers=BEARER if auth else {})
    client.cookies.set("flowc_csrf", "csrf-value")
    client.headers["X-Flowc-CSRF"] = "csrf-value"
    return client


def _dashboard(monitor_app, serve_dashboard):
    return serve_dashboard(monitor_app, AuthConfig.build("127.0.0.1", token=TOKEN),
                           flow_dir=str(APPS_DIR))


def test_task_statistics_count_outcomes_and_runtime_percentiles(monitor_app,
                                                                start_monitored_worker,
                                                                serve_dashboard):
    import monitor_app as m

    start_monitored_worker("-P", "threads", "-c", "2")
    server = _dashboard(monitor_app, serve_dashboard)
    for r in [m.add.delay(i, i) for i in range(5)]:
        r.get(timeout=10)
    with pytest.raises(ValueError):
        m.boom.delay("no").get(timeout=10)
    assert m.flaky.delay("once").get(timeout=10) == "fine after a retry"
    wait_until(lambda: server.dashboard.feed.stats.by_name.get("monitor_app.flaky") and
             server.dashboard.feed.stats.by_name["monitor_app.flaky"].succeeded == 1,
             what="the events")
    with _client(server.url) as client:
        rows = {r["name"]: r for r in client.get("/api/stats/tasks").json()["tasks"]}
        add = rows["monitor_app.add"]
        assert (add["count"], add["succeeded"], add["failed"]) == (5, 5, 0)
        assert add["runtime"]["samples"] == 5
        assert 0 <= add["runtime"]["p50"] <= add["runtime"]["p95"] <= add["runtime"]["p99"]
        assert rows["monitor_app.boom"]["failed"] == 1
        assert rows["monitor_app.boom"]["failure_rate"] == 1.0
        flaky = rows["monitor_app.flaky"]
        assert (flaky["retried"], flaky["succeeded"], flaky["failed"]) == (1, 1, 0)
        only = client.get("/api/stats/tasks", params={"name": "boom"}).json()["tasks"]
        assert [r["name"] for r in only] == ["monitor_app.boom"]
        page = client.get("/stats").text
        assert 'data-task-name="monitor_app.add"' in page and 'id="chart-runtime"' in page


def test_run_history_filters_by_flow_name_and_parameters(monitor_app, start_monitored_worker,
                                                         serve_dashboard):
    start_monitored_worker("-P", "threads", "-c", "2")
    server = _dashboard(monitor_app, serve_dashboard)
    source = (APPS_DIR / "demo.flow").read_text()
    with _client(server.url) as client:
        ids = {}
        for a in (40, 7):
            sent = client.post("/api/submit/flow", json={"source": source, "params": {"a": a}})
            assert sent.status_code == 200, sent.text
            ids[a] = sent.json()["workflow_id"]
        client.post("/api/submit/canvas", json={"canvas": {"task": "add", "args": [1, 1]}})
        history = client.get("/api/workflows", params={"name": "demo"}).json()["runs"]
        assert {r["id"] for r in history} == set(ids.values())
        assert {r["params"]["a"] for r in history} == {40, 7}
        assert all(r["params"]["b"] == 2 for r in history)  # defaults are kept too
        one = client.get("/api/workflows", params={"name": "demo", "params": "a=40"}).json()
        assert [r["id"] for r in one["runs"]] == [ids[40]]
        assert client.get("/api/workflows", params={"params": "a=41"}).json()["runs"] == []
        page = client.get("/workflows", params={"name": "demo", "params": "a=40"}).text
        assert ids[40] in page and ids[7] not in page


def test_a_failed_run_is_resumed_from_its_failed_step(monitor_app, start_monitored_worker,
                                                      serve_dashboard, redis_client):
    import monitor_app as m

    from flowc import chain

    start_monitored_worker("-P", "threads", "-c", "2")
    server = _dashboard(monitor_app, serve_dashboard)
    run = chain(m.add.s(1, 1), m.needs_flag.si("resume-flag")).apply_async()
    handle = monitor_app.workflow(run.workflow_id)
    wait_until(lambda: handle.status() == "FAILURE", 15, "the failure")
    with _client(server.url) as client:
        redis_client.set("resume-flag", "1")
        answer = client.post(f"/api/workflow/{run.workflow_id}/retry")
        assert answer.status_code == 200, answer.text
        assert run.get(timeout=15) == "flag found"
        assert handle.status() == "SUCCESS"
        again = client.post(f"/api/workflow/{run.workflow_id}/retry")
        assert again.status_code == 400 and "only a failed or revoked" in again.json()["error"]
    with _client(server.url, auth=False) as anonymous:
        assert anonymous.post(f"/api/workflow/{run.workflow_id}/retry").status_code == 401


def test_worker_controls_need_the_dashboards_auth_and_change_the_worker(
        monitor_app, start_monitored_worker, serve_dashboard):
    from flowc.runtime.monitoring.views import Monitor

    start_monitored_worker("-P", "threads", "-c", "2")
    server = _dashboard(monitor_app, serve_dashboard)
    node = Monitor(monitor_app).workers()[0].node
    body = {"destination": node, "queue": "extra"}
    with _client(server.url, auth=False) as anonymous:
        assert anonymous.post("/api/control/add_consumer", json=body).status_code == 401
    with _client(server.url) as client:
        page = client.get(f"/worker/{node}").text
        assert "monitor_app.add" in page and 'id="processes-table"' in page
        added = client.post("/api/control/add_consumer", json=body).json()["replies"]
        assert [r["ok"] for r in added] == ["now consuming from extra"]
        grown = client.post("/api/control/pool_grow", json={"destination": node, "n": 1})
        assert grown.json()["replies"][0]["ok"] == 3
        page = client.get(f"/worker/{node}").text
        assert 'id="w-concurrency">3<' in page and ">extra" in page
        cancelled = client.post("/api/control/cancel_consumer", json=body).json()["replies"]
        assert [r["ok"] for r in cancelled] == ["no longer consuming from extra"]
        assert client.get("/worker/nobody@nowhere").status_code == 404

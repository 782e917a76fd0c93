"""The dashboard over HTTP against a real worker (with -E) and Redis: pages, actions, security."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from click.testing import CliRunner
from flowc.runtime.dashboard.security import AuthConfig, InsecureBind
from flowc.runtime.monitoring.views import Monitor

from flowc.cli import main
from tests.dashboard.conftest import TOKEN
from tests.waiting import wait_until

BEARER = {"Authorization": f"Bearer {TOKEN}"}


def _csrf_client(base: str, auth: bool = True) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=10, headers=BEARER if auth else {})
    client.cookies.set("flowc_csrf", "csrf-value")
    client.headers["X-Flowc-CSRF"] = "csrf-value"
    return client


def test_every_page_renders_live_cluster_state(monitor_app, start_monitored_worker,
                                               serve_dashboard):
    import monitor_app as m

    # Given a worker sending events and a few finished, failed and delayed tasks
    start_monitored_worker("-P", "threads", "-c", "2")
    ok = m.add.delay(2, 3)
    bad = m.boom.delay("broken <b>on purpose</b>")
    m.slow.apply_async((1,), countdown=600)
    ok.get(timeout=10)
    with pytest.raises(ValueError):
        bad.get(timeout=10)
    server = serve_dashboard(monitor_app, AuthConfig.build("127.0.0.1", token=TOKEN))
    wait_until(lambda: server.dashboard.index.get(bad.id) and
             server.dashboard.index.get(bad.id).state == "FAILURE", what="failure event")
    with httpx.Client(base_url=server.url, headers=BEARER, timeout=10) as client:
        # When each page is loaded, Then it answers with the cluster's state
        workers = client.get("/workers").text
        assert "online" in workers and "threads" in workers
        queues = client.get("/queues").text
        assert "celery" in queues and 'id="chart-depth"' in queues
        tasks = client.get("/tasks").text
        assert ok.id in tasks and bad.id in tasks
        failed = client.get("/tasks", params={"state": "FAILURE"}).text
        assert bad.id in failed and ok.id not in failed
        assert ok.id in client.get("/tasks", params={"q": "[2, 3]"}).text
        detail = client.get(f"/task/{bad.id}").text
        assert "Traceback" in detail and "ValueError" in detail
        # arguments are rendered escaped, never as markup
        assert "<b>on purpose</b>" not in detail and "&lt;b&gt;on purpose&lt;/b&gt;" in detail
        assert client.get("/schedules").text.count('data-entry-name="nightly-cleanup"') == 1
        assert "monitor_app.add" in client.get("/submit").text
        assert client.get("/dead-letters").status_code == 200
        assert client.get("/workflows").status_code == 200
        unknown = client.get("/task/no-such-task")
        assert unknown.status_code == 200 and "PENDING" in unknown.text
        live = client.get("/api/live", params={"page": "tasks", "once": "1"}).text
        assert "event: fragment" in live and ok.id in live


def test_reads_need_the_configured_credentials(monitor_app, serve_dashboard):
    server = serve_dashboard(monitor_app, AuthConfig.build("127.0.0.1", token=TOKEN))
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/workers").status_code == 303  # to the login page
        assert client.get("/api/status").status_code == 401
        assert client.get("/metrics").status_code == 401
        assert client.get("/static/app.js").status_code == 200
        # logging in with the token sets an HttpOnly, SameSite=Strict session cookie
        login = client.post("/login", data={"token": TOKEN, "next": "/queues"})
        assert login.status_code == 303 and login.headers["location"] == "/queues"
        cookie = next(v for k, v in login.headers.multi_items() if k == "set-cookie"
                  and v.startswith("flowc_session="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert client.get("/workers").status_code == 200
        assert client.post("/login", data={"token": "wrong"}).status_code == 401


def test_actions_are_refused_without_credentials_or_csrf_token(monitor_app, serve_dashboard):
    server = serve_dashboard(monitor_app, AuthConfig.build("127.0.0.1"))  # generated token
    body = {"task": "monitor_app.add", "args": [1, 2]}
    with httpx.Client(base_url=server.url, timeout=10) as anonymous:
        assert anonymous.get("/workers").status_code == 200  # loopback: reads are open
        refused = anonymous.post("/api/submit/task", json=body)
        assert refused.status_code == 401 and "authentication" in refused.json()["error"]
    token = server.dashboard.auth.token
    with httpx.Client(base_url=server.url, timeout=10,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        assert client.post("/api/submit/task", json=body).status_code == 403  # no CSRF token
        client.cookies.set("flowc_csrf", "x")
        assert client.post("/api/submit/task", json=body,
                           headers={"X-Flowc-CSRF": "y"}).status_code == 403
        assert client.post("/api/submit/task", json=body, headers={
            "X-Flowc-CSRF": "x", "Origin": "http://evil.example"}).status_code == 403
        sent = client.post("/api/submit/task", json=body, headers={"X-Flowc-CSRF": "x"})
        assert sent.status_code == 200 and sent.json()["task"] == "monitor_app.add"
    assert Monitor(monitor_app).queues(["celery"])[0].ready == 1


def test_read_only_dashboard_refuses_every_action(monitor_app, serve_dashboard):
    server = serve_dashboard(monitor_app, AuthConfig.build("127.0.0.1", read_only=True))
    with _csrf_client(server.url) as client:
        answer = client.post("/api/submit/task", json={"task": "monitor_app.add"})
        assert answer.status_code == 403 and "read-only" in answer.json()["error"]


def test_refuses_to_serve_actions_on_a_public_interface_without_auth():
    with pytest.raises(InsecureBind, match="without authentication"):
        AuthConfig.build("0.0.0.0")
    assert AuthConfig.build("0.0.0.0", token="long-enough-token").mode == "token"
    assert AuthConfig.build("0.0.0.0", read_only=True).read_only
    assert AuthConfig.build("::1").mode == "generated"
    result = CliRunner().invoke(main, ["dashboard", "--broker", "redis://127.0.0.1:1/0",
                                       "--host", "0.0.0.0"], env={"FLOWC_DASHBOARD_TOKEN": ""})
    assert result.exit_code == 2 and "without authentication" in result.output


def test_basic_auth_protects_pages_and_actions(monitor_app, serve_dashboard):
    server = serve_dashboard(monitor_app, AuthConfig.build("127.0.0.1", basic_auth="ops:s3cret"))
    with httpx.Client(base_url=server.url, timeout=10) as client:
        page = client.get("/workers")
        assert page.status_code == 401 and "Basic" in page.headers["www-authenticate"]
        assert client.get("/workers", auth=("ops", "s3cret")).status_code == 200
        assert client.get("/workers", auth=("ops", "wrong")).status_code == 401


def test_submitted_canvas_runs_and_its_nodes_succeed(monitor_app, start_monitored_worker,
                                                     serve_dashboard):
    start_monitored_worker("-P", "threads", "-c", "2")
    server = serve_dashboard(monitor_app, AuthConfig.build("127.0.0.1", token=TOKEN))
    canvas = {"chord": [{"task": "add", "args": [1, 2]}, {"task": "add", "args": [3, 4]}],
              "body": {"task": "total"}}
    with _csrf_client(server.url) as client:
        answer = client.post("/api/submit/canvas", json={"canvas": canvas})
        assert answer.status_code == 200, answer.text
        wid = answer.json()["workflow_id"]
        run = monitor_app.workflow(wid)
        assert run.get(timeout=10) == 10
        states = client.get(f"/api/workflow/{wid}").json()["states"]
        assert set(states.values()) == {"SUCCESS"} and len(states) == 3
        page = client.get(f"/workflow/{wid}").text
        assert 'id="wf-graph"' in page and "/static/vendor/dagre-" in page  # drawn in the page
        assert re.search(r'"id":\s*"n\d+"', page)
        bad = client.post("/api/submit/canvas", json={"canvas": {"task": "nope"}})
        assert bad.status_code == 400 and "unknown task" in bad.json()["error"]


def test_revoke_from_the_dashboard_stops_a_queued_task(monitor_app, serve_dashboard):
    import monitor_app as m

    server = serve_dashboard(monitor_app, AuthConfig.build("127.0.0.1", token=TOKEN))
    queued = m.add.apply_async((1, 1), countdown=60)
    with _csrf_client(server.url) as client:
        assert client.post(f"/api/task/{queued.id}/revoke", json={}).status_code == 200
    assert queued.state == "REVOKED"


def test_requeued_dead_letter_goes_back_to_its_stream(monitor_app, start_monitored_worker,
                                                      serve_dashboard):
    import monitor_app as m

    start_monitored_worker("-P", "threads", "-c", "1")
    monitor = Monitor(monitor_app)
    m.refuse.delay("not today")
    wait_until(lambda: monitor.dead_letter_count() == 1, what="a dead letter")
    letter = monitor.dead_letters()[0]
    assert letter.task == "monitor_app.refuse" and "not today" in letter.reason
    server = serve_dashboard(monitor_app, AuthConfig.build("127.0.0.1", token=TOKEN))
    with _csrf_client(server.url) as client:
        assert "not today" in client.get("/dead-letters").text
        answer = client.post(f"/api/dead-letters/{letter.entry_id}/requeue", json={})
        assert answer.status_code == 200, answer.text
        again = client.post(f"/api/dead-letters/{letter.entry_id}/requeue", json={})
        assert again.status_code == 400  # already requeued
    # the worker runs it again, and it is rejected again: a new dead letter, same task id
    wait_until(lambda: monitor.dead_letters() and
             monitor.dead_letters()[0].entry_id != letter.entry_id, what="redelivery")
    assert monitor.dead_letters()[0].task_id == letter.task_id


def test_metrics_expose_task_counts_runtimes_queues_and_workers(monitor_app,
                                                                start_monitored_worker,
                                                                serve_dashboard):
    import monitor_app as m

    start_monitored_worker("-P", "threads", "-c", "1")
    server = serve_dashboard(monitor_app, AuthConfig.build("127.0.0.1", token=TOKEN))
    for i in range(3):
        m.add.delay(i, i).get(timeout=10)
    m.slow.apply_async((1,), countdown=600)
    wait_until(lambda: server.dashboard.index.counts()["SUCCESS"] == 3, what="events")
    with httpx.Client(base_url=server.url, headers=BEARER, timeout=10) as client:
        text = client.get("/metrics").text
    assert 'flowc_tasks_total{name="monitor_app.add",state="SUCCESS"} 3.0' in text
    assert 'flowc_task_runtime_seconds_count{name="monitor_app.add"} 3.0' in text
    assert 'flowc_queue_messages{kind="delayed",queue="celery"} 1.0' in text
    assert 'flowc_workers{state="alive"} 1.0' in text


def test_broker_password_is_masked_on_every_page(monitor_app, serve_dashboard, redis_url):
    server = serve_dashboard(monitor_app, AuthConfig.build("127.0.0.1", token=TOKEN))
    if redis_url.startswith("redis://"):
        secret_url = redis_url.replace("redis://", "redis://:hunter2@")
    else:  # the embedded server's unix socket: the password goes in the query
        secret_url = redis_url + ("&" if "?" in redis_url else "?") + "password=hunter2"
    monitor_app.__dict__["broker_url"] = secret_url
    try:
        with httpx.Client(base_url=server.url, headers=BEARER, timeout=10) as client:
            page = client.get("/queues").text
    finally:
        monitor_app.__dict__["broker_url"] = redis_url
    assert "hunter2" not in page and "****" in page


def test_task_pages_filter_and_search_many_indexed_tasks(monitor_app, serve_dashboard):
    server = serve_dashboard(monitor_app, AuthConfig.build("127.0.0.1", token=TOKEN))
    index = server.dashboard.index
    now = time.time()
    for i in range(20_000):
        index.apply({"type": "task-received", "uuid": f"id-{i}", "name": f"t.n{i % 7}",
                     "args": f"[{i}]", "kwargs": "{}", "ts": now, "hostname": "w@h"})
    with httpx.Client(base_url=server.url, headers=BEARER, timeout=10) as client:
        page = client.get("/tasks", params={"name": "t.n3", "q": "[1234"}).text  # timed in
        # benchmarks/dashboard_bench.py, not here
    assert "id-12345" in page or "id-1234<" in page or "id-1234" in page

"""The dashboard in headless Chromium (Playwright driving Debian's ``chromium``) against a live
worker and Redis: every page loads, a workflow submitted from the page turns green, a task is
revoked, a dead letter is requeued, and an action without credentials is refused.

Screenshots go to ``$FLOWC_DASHBOARD_SCREENSHOTS`` when set (``docs/pictures`` holds the
committed ones), else to a temporary directory.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flowc.runtime.dashboard.security import AuthConfig
from flowc.runtime.monitoring.views import Monitor
from flowc.runtime.redis.connection import connect

from tests.conftest import ProcessReaper
from tests.dashboard.conftest import APPS_DIR, Server, control_channel
from tests.waiting import wait_until

CHROMIUM = os.environ.get("FLOWC_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run"]
TIMEOUT_MS = 10_000

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists(),
                                reason="chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def cluster(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One worker (threads, -E) and one dashboard for the whole module."""
    import subprocess
    import sys

    import uvicorn
    from flowc.runtime.dashboard.app import create_app

    client = connect(redis_url)
    client.flushdb()
    os.environ["FLOWC_BROKER_URL"] = redis_url
    sys.path.insert(0, str(APPS_DIR))
    import monitor_app

    app = monitor_app.app
    app.close()
    for name in ("broker_url", "backend_url", "keys"):
        app.__dict__.pop(name, None)
    reaper = ProcessReaper()
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    with open(log, "wb") as out:
        reaper.spawn([sys.executable, "-m", "flowc", "worker", "-A", "monitor_app", "-q", "-E",
                      "-P", "threads", "-c", "4"], cwd=str(APPS_DIR),
                     env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=out,
                     stderr=subprocess.STDOUT)
    wait_until(lambda: client.pubsub_numsub(control_channel(client))[0][1] >= 1, 20, "the worker")
    auth = AuthConfig.build("127.0.0.1", token="browser-test-token")
    from tests.dashboard.conftest import _free_port

    web = create_app(app, auth, flow_dir=str(APPS_DIR))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(web, host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    import threading

    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 10, "the dashboard")
    yield monitor_app, Server(f"http://127.0.0.1:{port}", web, server, thread)
    server.should_exit = True
    thread.join(10)
    reaper.reap()
    os.environ.pop("FLOWC_BROKER_URL", None)
    sys.path.remove(str(APPS_DIR))
    app.close()
    client.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, cluster: Any) -> Iterator[Any]:
    """A logged-in page."""
    _, server = cluster
    context = browser.new_context(viewport={"width": 1360, "height": 860})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    tab.goto(f"{server.url}/login?token=browser-test-token&next=/workers")
    yield tab
    context.close()


def shots_dir(tmp_path: Path) -> Path:
    """Where screenshots go."""
    target = os.environ.get("FLOWC_DASHBOARD_SCREENSHOTS")
    path = Path(target) if target else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_each_page_loads_with_live_data(page, cluster, tmp_path):
    app_module, server = cluster
    done = [app_module.add.delay(i, i) for i in range(6)]
    failed = app_module.boom.delay("disk full on /var/data")
    app_module.slow.apply_async((2,), countdown=900)
    app_module.refuse.delay("payload schema v1 is no longer accepted")
    chord_run = app_module.app.workflow(_chord(app_module).workflow_id)
    for r in done:
        r.get(timeout=10)
    chord_run.get(timeout=10)
    wait_until(lambda: server.dashboard.index.get(failed.id) is not None and
             server.dashboard.index.get(failed.id).state == "FAILURE", what="events")
    wait_until(lambda: len(server.dashboard.feed.depths) >= 1, what="a depth sample")
    shots = shots_dir(tmp_path)
    checks = {
        "workers": "#workers-table", "queues": "#chart-depth svg", "tasks": "#tasks-table",
        "workflows": "#workflows-table", "dead-letters": "#dlq-table",
        "schedules": "#schedules-table", "submit": "#submit-canvas",
    }
    for name, selector in checks.items():
        page.goto(f"{server.url}/{name}")
        page.wait_for_selector(selector)
        if name == "tasks":
            page.wait_for_selector(f"text={failed.id}")
        page.screenshot(path=str(shots / f"dashboard-{name}.png"), full_page=False)
    page.goto(f"{server.url}/task/{failed.id}")
    page.wait_for_selector("pre.traceback")
    assert "disk full" in page.inner_text("pre.traceback")
    page.screenshot(path=str(shots / "dashboard-task.png"))
    page.goto(f"{server.url}/workflow/{chord_run.id}")
    page.wait_for_selector("svg.dag g.node.state-SUCCESS")
    page.screenshot(path=str(shots / "dashboard-workflow.png"))


def _path_without_dot() -> str:
    """``$PATH`` without the directories that hold Graphviz's ``dot``."""
    return os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep)
                           if d and not os.access(os.path.join(d, "dot"), os.X_OK))


def test_the_dag_draws_in_the_browser_without_graphviz_and_turns_green_live(
        page, cluster, monkeypatch):
    # Given no Graphviz `dot` anywhere on PATH (the dashboard serves from this process)
    monkeypatch.setenv("PATH", _path_without_dot())
    assert shutil.which("dot") is None
    app_module, server = cluster
    from flowc import chord

    # When a chord of two steps is opened while they run (they wait for the test's gates:
    # a page that loads slowly on a busy machine must not find the run finished already)
    gates = [f"test:gate:{uuid.uuid4().hex}" for _ in range(2)]
    run = chord([app_module.gated.s(gates[0], 1), app_module.gated.s(gates[1], 2)],
                app_module.total.s()).apply_async()
    page.goto(f"{server.url}/workflow/{run.workflow_id}")
    # Then the DAG is laid out in the page: three nodes, two edges, the body below the header
    page.wait_for_selector("svg.dag g.node")
    nodes = page.locator("svg.dag g.node")
    assert nodes.count() == 3 and page.locator("svg.dag path.edge").count() == 2
    boxes = {nodes.nth(i).get_attribute("id"): nodes.nth(i).bounding_box() for i in range(3)}
    body = max(boxes, key=lambda k: boxes[k]["y"])
    assert all(boxes[body]["y"] > boxes[k]["y"] + boxes[k]["height"] for k in boxes if k != body)
    assert page.locator(f"svg.dag g#{body}").get_attribute("data-state") != "SUCCESS"
    # ... and the nodes turn green as they finish, without a reload
    for gate in gates:
        app_module.app.broker_client.set(gate, 1, ex=60)
    for node_id in boxes:
        page.wait_for_selector(f"svg.dag g#{node_id}.state-SUCCESS")
    fill = page.eval_on_selector(f"svg.dag g#{body} rect.box",
                                 "r => getComputedStyle(r).fill")
    assert fill == "rgb(201, 238, 217)"  # the SUCCESS colour
    assert run.get(timeout=10) == 3


def _chord(app_module: Any) -> Any:
    from flowc import chord

    return chord([app_module.add.s(i, i) for i in range(3)], app_module.total.s()).apply_async()


def test_workflow_submitted_from_the_page_turns_green(page, cluster, tmp_path):
    _, server = cluster
    page.goto(f"{server.url}/submit")
    # a .flow with a mistake: the compiler's diagnostic is shown, nothing runs
    page.fill("#submit-flow textarea[name=source]", 'use "monitor_app"\nflow x() { ad(1) }\n')
    page.click("#submit-flow button[type=submit]")
    assert "did you mean 'add'?" in page.wait_for_selector("#submitted div.bad").inner_text()
    # the demo flow, loaded from --flow-dir, with a parameter
    page.select_option("#flow-file", "demo.flow")
    # Poll from Python: wait_for_function evaluates a string, which the page's CSP forbids.
    textarea = page.locator("#submit-flow textarea")
    wait_until(lambda: "flow demo" in textarea.input_value(), 10, "the demo flow to load")
    page.fill("#submit-flow input[name=params]", '{"a": 40}')
    page.click("#submit-flow button[type=submit]")
    link = page.wait_for_selector("#submitted a[href^='/workflow/']")
    page.wait_for_selector("#log span:has-text('workflow-submitted')")
    page.wait_for_selector("#log span.ev-task-succeeded:has-text('result=84')")
    page.screenshot(path=str(shots_dir(tmp_path) / "dashboard-demo.png"))
    link.click()
    page.wait_for_selector("svg.dag")
    for node in ("n0", "n1", "n2"):
        page.wait_for_selector(f"svg.dag g#wf_{node}.state-SUCCESS")
    assert page.inner_text("#wf-status") == "SUCCESS"


def test_revoke_a_task_from_its_page(page, cluster):
    app_module, server = cluster
    waiting = app_module.add.apply_async((5, 5), countdown=600)
    wait_until(lambda: Monitor(app_module.app).scheduled(["celery"]), what="the delayed task")
    page.goto(f"{server.url}/task/{waiting.id}")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#revoke-task")
    page.wait_for_selector("#toast div:has-text('revoked')")
    assert waiting.state == "REVOKED"


def test_requeue_a_dead_letter_from_the_page(page, cluster):
    app_module, server = cluster
    monitor = Monitor(app_module.app)
    sent = app_module.refuse.delay("requeue me")

    def letters_of_sent() -> list[Any]:  # by task id: another test's letter may land late
        return [d for d in monitor.dead_letters() if d.task_id == sent.id]

    [letter] = wait_until(letters_of_sent, what="a dead letter")
    page.goto(f"{server.url}/dead-letters")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click(f"tr[data-entry='{letter.entry_id}'] button.requeue")
    page.wait_for_selector("#toast div:has-text('requeued')")
    # it ran again and was rejected again: a new entry for the same task id
    wait_until(lambda: any(d.entry_id != letter.entry_id for d in letters_of_sent()),
             what="redelivery")


def test_an_action_without_credentials_is_refused(browser, cluster):
    app_module, server = cluster
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    anonymous = context.new_page()
    anonymous.goto(f"{server.url}/submit")
    assert anonymous.url.endswith("/login?next=/submit")  # token auth: reads need it too
    anonymous.goto(f"{server.url}/login?token=wrong-token")
    assert "not right" in anonymous.inner_text("form.login")
    depth = Monitor(app_module.app).queues(["celery"])[0].ready
    status = anonymous.evaluate(
        """async () => (await fetch('/api/submit/task', {method: 'POST',
             headers: {'Content-Type': 'application/json', 'X-Flowc-CSRF': 'x'},
             body: JSON.stringify({task: 'add', args: [1, 1]})})).status""")
    assert status == 401
    assert Monitor(app_module.app).queues(["celery"])[0].ready == depth
    context.close()

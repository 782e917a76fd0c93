"""The dashboard's statistics, worker, run-history and resume pages in headless Chromium against
a live worker (issue 19, item 11). Screenshots go where ``test_dashboard_browser`` puts them
(``$FLOWC_DASHBOARD_SCREENSHOTS`` for docs/pictures)."""

from __future__ import annotations

from flowc.runtime.monitoring.views import Monitor

from tests.dashboard import test_dashboard_browser as base
from tests.dashboard.conftest import APPS_DIR, wait_until

pytestmark = base.pytestmark
browser, cluster, page = base.browser, base.cluster, base.page
"""The browser module's fixtures: a worker, a dashboard and a logged-in tab of Chromium."""


def test_the_stats_page_shows_each_task_type_with_percentiles_and_charts(page, cluster,
                                                                         tmp_path):
    app_module, server = cluster
    for r in [app_module.add.delay(i, 1) for i in range(8)]:
        r.get(timeout=10)
    for r in [app_module.slow.delay(0.05 * i) for i in range(1, 5)]:
        r.get(timeout=10)
    app_module.boom.delay("stats page")
    wait_until(lambda: (s := server.dashboard.feed.stats.by_name.get("monitor_app.boom"))
             and s.failed >= 1, what="the failure event")
    page.goto(f"{server.url}/stats")
    row = page.wait_for_selector("#stats-table tr[data-task-name='monitor_app.slow']")
    assert row.query_selector("td.p95").inner_text() != "—"
    assert int(page.inner_text("tr[data-task-name='monitor_app.add'] td.succeeded")) >= 8
    assert page.inner_text("tr[data-task-name='monitor_app.boom'] td.failed") != "0"
    page.wait_for_selector("#chart-runtime svg circle.dot", state="attached")
    page.wait_for_selector("#chart-throughput svg path", state="attached")
    page.screenshot(path=str(base.shots_dir(tmp_path) / "dashboard-stats.png"))


def test_the_worker_page_shows_a_node_and_its_controls_change_it(page, cluster, tmp_path):
    app_module, server = cluster
    node = Monitor(app_module.app).workers()[0].node
    page.goto(f"{server.url}/workers")
    page.click(f"tr.node-row[data-node='{node}'] a.node-link")
    page.wait_for_selector("#processes-table")
    assert "monitor_app.add" in page.inner_text("#registered")
    assert page.inner_text("#w-pool") == "threads"
    before = int(page.inner_text("#w-concurrency"))
    page.screenshot(path=str(base.shots_dir(tmp_path) / "dashboard-worker.png"))
    page.click("#pool-grow")
    page.wait_for_selector(f"#w-concurrency:text('{before + 1}')")
    page.fill("#add-consumer input[name=queue]", "reports")
    page.click("#add-consumer button")
    page.wait_for_selector("#processes-table td.queues .tag:has-text('reports')")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#processes-table .tag:has-text('reports') button.cancel-consumer")
    page.wait_for_selector("#toast div:has-text('no longer consuming from reports')")
    page.locator("#processes-table .tag:has-text('reports')").wait_for(state="detached")
    page.click("#pool-shrink")
    page.wait_for_selector(f"#w-concurrency:text('{before}')")


def test_a_failed_run_is_resumed_from_its_page(page, cluster):
    app_module, server = cluster
    from flowc import chain

    run = chain(app_module.add.s(2, 2), app_module.needs_flag.si("browser-flag")).apply_async()
    handle = app_module.app.workflow(run.workflow_id)
    wait_until(lambda: handle.status() == "FAILURE", 15, "the failure")
    page.goto(f"{server.url}/workflow/{run.workflow_id}")
    assert page.wait_for_selector("#retry-workflow").is_visible()
    app_module.app.broker_client.set("browser-flag", "1")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#retry-workflow")
    page.wait_for_selector("#wf-status:text('SUCCESS')", timeout=15_000)
    assert not page.locator("#retry-workflow").is_visible()
    assert run.get(timeout=5) == "flag found"


def test_run_history_is_filtered_by_flow_name_and_parameters(page, cluster, tmp_path):
    app_module, server = cluster
    from flowc.runtime.project import compile_source

    source = (APPS_DIR / "demo.flow").read_text()
    ids = {}
    for a in (11, 12, 11):
        wf, problems = compile_source(source, APPS_DIR, None, {"a": a})
        assert wf is not None, problems
        ids.setdefault(a, []).append(app_module.app.submit_workflow(wf).workflow_id)
    page.goto(f"{server.url}/workflows")
    page.click(f"#workflows-table tr[data-run='{ids[12][0]}'] td.params a.tag:has-text('a=12')")
    page.wait_for_selector("#workflow-filters input[name=params][value='a=12']")
    listed = page.locator("#workflows-table tbody tr")
    assert listed.count() == 1 and ids[12][0] in listed.first.inner_text()
    page.fill("#workflow-filters input[name=params]", "a=11")
    page.click("#workflow-filters button[type=submit]")
    page.wait_for_selector(f"#workflows-table tr[data-run='{ids[11][0]}']")
    shown = {page.locator("#workflows-table tbody tr").nth(i).get_attribute("data-run")
             for i in range(page.locator("#workflows-table tbody tr").count())}
    assert shown == set(ids[11])
    page.screenshot(path=str(base.shots_dir(tmp_path) / "dashboard-history.png"))

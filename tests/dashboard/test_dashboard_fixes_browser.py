"""What a person saw wrong on the dashboard (issue 19, item 12), in headless Chromium against a
live worker: each test loads the page and checks what it shows."""

from __future__ import annotations

from typing import Any

from flowc.runtime.beat.entries import entries_from_app
from flowc.runtime.beat.service import Beat

from tests.dashboard import test_dashboard_browser as base
from tests.dashboard.conftest import wait_until

pytestmark = base.pytestmark
browser, cluster, page = base.browser, base.cluster, base.page
"""The browser module's fixtures: a worker, a dashboard and a logged-in tab of Chromium."""

def test_a_task_that_succeeded_on_retry_shows_its_result_not_the_old_error(page, cluster):
    app_module, server = cluster
    result = app_module.flaky.delay("transient glitch 7f3a")
    assert result.get(timeout=15) == "fine after a retry"
    wait_until(lambda: (rec := server.dashboard.index.get(result.id)) is not None
             and rec.state == "SUCCESS", what="the success event")
    page.goto(f"{server.url}/tasks?name=monitor_app.flaky")
    row = page.wait_for_selector(f"#tasks-table tr:has(a[href='/task/{result.id}'])")
    assert "SUCCESS" in row.inner_text()
    outcome = row.query_selector("td:nth-child(4)").inner_text()  # Result / error
    assert outcome == "'fine after a retry'"


def test_the_run_pages_default_flow_compiles_and_runs(page, cluster):
    _, server = cluster
    page.goto(f"{server.url}/submit")
    page.click("#submit-flow button[type=submit]")
    page.wait_for_selector("#submitted a[href^='/workflow/']")
    assert page.locator("#submitted div.bad").count() == 0
    page.wait_for_selector("#log span.ev-task-succeeded")


def test_a_later_success_on_the_run_page_clears_the_error_box(page, cluster):
    _, server = cluster
    page.goto(f"{server.url}/submit")
    source = page.locator("#submit-flow textarea[name=source]")
    source.fill('use "monitor_app"\nflow x() { ad(1) }\n')
    page.click("#submit-flow button[type=submit]")
    page.wait_for_selector("#submitted div.bad")
    source.fill('use "monitor_app"\nflow ok() { add(1, 2) }\n')
    page.click("#submit-flow button[type=submit]")
    page.wait_for_selector("#submitted a[href^='/workflow/']")
    assert page.locator("#submitted div.bad").count() == 0


def _chord(app_module: Any) -> Any:
    from flowc import chord

    return chord([app_module.add.s(i, i) for i in range(3)], app_module.total.s()).apply_async()


def test_revoke_run_is_offered_only_while_the_run_is_running(page, cluster):
    app_module, server = cluster
    from flowc import chain

    running = chain(app_module.slow.s(3, 1), app_module.slow.si(0.1, 2)).apply_async()
    page.goto(f"{server.url}/workflow/{running.workflow_id}")
    assert page.wait_for_selector("#revoke-workflow").is_visible()
    running.get(timeout=15)
    page.wait_for_selector("#wf-status:text('SUCCESS')")
    assert not page.locator("#revoke-workflow").is_visible()
    page.reload()  # rendered on the server for a finished run, too
    page.wait_for_selector("#wf-status:text('SUCCESS')")
    assert not page.locator("#revoke-workflow").is_visible()


def test_the_schedules_page_shows_schedules_in_words_with_next_and_last_run(page, cluster):
    app_module, server = cluster
    # beat has ticked once: it records the entries' state in Redis
    Beat(app_module.app, entries_from_app(app_module.app)).tick()
    page.goto(f"{server.url}/schedules")
    table = page.wait_for_selector("#schedules-table")
    assert "<crontab" not in table.inner_text()
    cron = page.locator("tr[data-entry-name='nightly-report']")
    assert "cron '30 2 * * *'" in cron.locator("td.schedule").inner_text()
    next_run = cron.locator("td.next").inner_text()
    assert ":30:00" in next_run and "in " in next_run
    assert "never" not in page.locator("tr[data-entry-name='nightly-cleanup'] td.last")\
        .inner_text()
    # the .flow file's schedule, from --flow-dir
    flow = page.locator("tr[data-entry-name='nightly_sum_at_3']")
    assert "cron '0 3 * * *'" in flow.locator("td.schedule").inner_text()
    assert "nightly.flow" in flow.inner_text()


def test_a_python_canvas_run_is_listed_with_a_name(page, cluster):
    app_module, server = cluster
    run = _chord(app_module)
    run.get(timeout=15)
    page.goto(f"{server.url}/workflows")
    row = page.wait_for_selector(f"#workflows-table tr:has(a[href='/workflow/{run.workflow_id}'])")
    assert "chord(3× add → total)" in row.inner_text()  # noqa: RUF001

"""FlowHarness: flows run in-process, on a virtual clock, with every step inspectable."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from flowc.compiler.canvas.primitives import chain, chord
from flowc.runtime.app import App
from flowc.runtime.exceptions import TaskRevokedError
from flowc.runtime.workflows.steps import MapWidthExceeded

from flowc.testing import FlowHarness, FlowLoadError
from tests.testing import flowtasks
from tests.testing.conftest import FLOWS, START

RETRIES = FLOWS / "retries.flow"


def seconds_after(start: datetime, times: list[datetime]) -> list[float]:
    return [(t - start).total_seconds() for t in times]


def test_a_flow_runs_with_every_steps_arguments_and_result_readable(harness: FlowHarness) -> None:
    run = harness.run("examples/etl.flow", path="data.csv")
    assert run.status == "SUCCESS"
    assert run.node("extract_record").args == ["data.csv"]
    analysed = run.node("analyze_chunk")
    assert analysed.kwargs == {"mode": "deep"}
    assert analysed.args == [run.node("extract_record").result]
    assert run.result == run.node("generate_summary").result
    assert run.result["items"][0]["mode"] == "deep"


def test_a_named_result_finds_its_step(harness: FlowHarness) -> None:
    run = harness.run("examples/report.flow")
    assert run.node("stats").result == {"count": 4, "total": 26}
    assert run.node("rows").task == "examples.tasks.extract_record"


def test_an_ambiguous_task_name_lists_the_steps_to_choose_from(harness: FlowHarness) -> None:
    run = harness.run("examples/metrics.flow")
    with pytest.raises(LookupError, match=r"3 steps call 'analyze_chunk'.*n0, n1, n2"):
        run.node("analyze_chunk")
    assert [n.kwargs["chunk_id"] for n in run.nodes_of("analyze_chunk")] == [0, 1, 2]


def test_a_countdown_waits_on_the_virtual_clock(harness: FlowHarness) -> None:
    run = harness.start("examples/media.flow", video_id=9)
    harness.clock.advance(0.9)
    assert run.states() == {"n0": "QUEUED", "n1": "PENDING"}
    harness.clock.advance(0.1)
    assert run.states() == {"n0": "SUCCESS", "n1": "SUCCESS"}
    assert run.node("n0").ran_at == [START + timedelta(seconds=1)]


def test_a_countdown_counts_from_when_the_step_becomes_ready(harness: FlowHarness) -> None:
    run = harness.run(RETRIES, "delayed")
    second = run.node("n1")
    assert second.ready_at == START
    assert second.ran_at == [START + timedelta(seconds=90)]
    assert harness.clock.datetime == START + timedelta(seconds=90)


def test_an_eta_runs_the_step_at_that_instant(harness: FlowHarness) -> None:
    run = harness.start(RETRIES, "at_ten")
    harness.clock.advance(timedelta(minutes=59))
    assert run.states() == {"n0": "QUEUED"}
    harness.clock.run_until_idle()
    assert run.node("when").ran_at == [datetime(2026, 3, 2, 10, tzinfo=UTC)]


def test_retries_back_off_exponentially_without_sleeping(harness: FlowHarness) -> None:
    wall = time.monotonic()
    run = harness.run(RETRIES, "backoff", fail_times=2)
    assert time.monotonic() - wall < 1.0
    fetch = run.node("fetch")
    assert run.status == "SUCCESS" and fetch.retries == 2
    assert seconds_after(START, fetch.ran_at) == [0, 2, 6]  # exponential(2s): 2s, then 4s
    assert [a.status for a in fetch.attempts] == ["RETRY", "RETRY", "SUCCESS"]
    assert isinstance(fetch.attempts[0].exc, ConnectionError)
    assert fetch.result == {"key": "orders", "attempts": 3}


def test_retries_exhausted_fail_the_run_skip_dependents_and_call_the_handler_once(
        harness: FlowHarness) -> None:
    run = harness.run(RETRIES, "backoff", fail_times=10)
    assert run.status == "FAILURE"
    assert run.states() == {"n0": "FAILURE", "n1": "SKIPPED"}
    assert run.node("fetch").retries == 3
    assert isinstance(run.node("fetch").exception, ConnectionError)
    [handler] = run.handlers
    assert handler.task == "tests.testing.flowtasks.notify"
    assert handler.args == [run.node("fetch").attempts[-1].task_id]
    assert handler.kwargs == {"channel": "pager"}
    assert handler.result == f"pager: {handler.failed_task_id} failed"
    with pytest.raises(ConnectionError):
        run.result  # noqa: B018 - the property raises the run's failure


def test_a_self_retry_with_a_countdown_runs_a_minute_later(harness: FlowHarness) -> None:
    run = harness.run(RETRIES, "polling")
    assert seconds_after(START, run.node("poll").ran_at) == [0, 60, 120]
    assert run.result == "report-7 ready after 2 retries"


def test_a_step_due_after_it_expires_is_revoked(harness: FlowHarness) -> None:
    run = harness.run(RETRIES, "expiring")
    assert run.status == "FAILURE"
    assert isinstance(run.node("when").exception, TaskRevokedError)
    assert run.node("when").attempts[0].status == "REVOKED"


def test_after_a_failure_branches_it_does_not_reach_run_to_their_end(
        harness: FlowHarness) -> None:
    run = harness.run(RETRIES, "branches")
    # explode fails first; the branch when("a") -> when("b") does not depend on it and runs on
    # (Celery's independent group members); total(), which needs explode, is skipped
    assert run.states() == {"n0": "FAILURE", "n1": "SUCCESS", "n2": "SUCCESS", "n3": "SKIPPED"}
    assert run.failed_node is not None and run.failed_node.id == "n0"
    assert run.done


def test_a_chord_body_skipped_by_its_header_calls_its_handler_as_itself(
        harness: FlowHarness) -> None:
    run = harness.run(FLOWS / "examples_failing.flow", "chord_body_handler")
    [handler] = run.handlers
    assert handler.failed_node == "n2"
    assert handler.failed_task_id == run.node("n2").step.task_id
    assert handler.result == f"task {handler.failed_task_id} failed (video 2)"
    assert run.node("n1").state == "SUCCESS"


def test_a_map_too_wide_fails_where_the_file_says_max(harness: FlowHarness) -> None:
    run = harness.run(RETRIES, "mapped", n=3)
    error = run.node("n1").exception
    assert isinstance(error, MapWidthExceeded)
    assert "retries.flow:" in str(error) and "max 2" in str(error)


def test_a_map_records_each_elements_attempt(harness: FlowHarness) -> None:
    run = harness.run(RETRIES, "mapped", n=2)
    mapped = run.node("n1")
    assert mapped.args == [["k0", "k1"]]
    assert [a.index for a in mapped.attempts] == [0, 1]
    assert mapped.result == [{"key": "k0", "attempts": 1}, {"key": "k1", "attempts": 1}]


def test_results_travel_as_json_between_steps_as_on_the_wire(harness: FlowHarness) -> None:
    run = harness.run(RETRIES, "tupled")
    assert run.node("pair").result == [1, 1]  # a tuple arrives as a list, as from a worker


def test_a_python_canvas_runs_in_the_harness(harness: FlowHarness) -> None:
    fetch, total = flowtasks.fetch, flowtasks.total
    run = harness.run(chain(fetch.s("a", 1).set(max_retries=1, countdown=5,
                                                retry_backoff=3, retry_jitter=False),
                            total.s()))
    assert run.status == "SUCCESS"
    assert seconds_after(START, run.node("fetch").ran_at) == [5, 8]
    assert harness.run(chord([fetch.s(k) for k in "xy"], total.s())).result > 0


def test_a_file_that_does_not_compile_raises_its_diagnostics(harness: FlowHarness,
                                                             tmp_path: object) -> None:
    with pytest.raises(FlowLoadError, match="F202|unknown"):
        harness.run("examples/etl.flow", "no_such_flow")


def test_which_runs_a_cron_schedule_fires_in_the_next_two_days(harness: FlowHarness) -> None:
    fires = harness.fire_times("examples/schedules.flow", "cleanup", within=timedelta(days=2))
    assert fires == [datetime(2026, 3, 3, 2, 30, tzinfo=UTC),
                     datetime(2026, 3, 4, 2, 30, tzinfo=UTC)]


def test_a_schedule_in_a_zone_fires_on_its_local_hours(harness: FlowHarness) -> None:
    # Berlin is UTC+1 in March: "0 * * * mon-fri" fires at 10:00 local = 09:00 UTC... next 10:00 UTC
    fires = harness.fire_times("examples/schedules.flow", "hourly_metrics", within=7200)
    assert fires == [datetime(2026, 3, 2, 10, tzinfo=UTC), datetime(2026, 3, 2, 11, tzinfo=UTC)]


def test_beat_starts_a_run_at_each_fire_time_the_clock_passes(harness: FlowHarness) -> None:
    harness.beat("examples/schedules.flow", "cleanup", "inventory")
    harness.clock.advance(timedelta(days=1))
    [cleanup] = harness.runs_of("cleanup")
    assert cleanup.started_at == datetime(2026, 3, 3, 2, 30, tzinfo=UTC)
    assert cleanup.result == "vacuumed"
    inventory = harness.runs_of("inventory")
    assert len(inventory) == 24 * 60 * 2  # every 30s
    assert all(r.status == "SUCCESS" for r in inventory)


def test_the_pytest_plugin_gives_a_harness_fixture(flow_harness: FlowHarness) -> None:
    assert isinstance(flow_harness, FlowHarness)
    assert abs(flow_harness.clock.now - time.time()) < 60


def test_the_clock_only_moves_forward(harness: FlowHarness) -> None:
    with pytest.raises(ValueError, match="only moves forward"):
        harness.clock.advance_to(START - timedelta(seconds=1))


def test_what_a_task_sends_runs_on_the_virtual_clock_not_the_broker(
        harness: FlowHarness) -> None:
    run = harness.start(RETRIES, "kicking")
    harness.clock.advance(1)
    later, chained, now = harness.runs[1:]
    assert [r.sent for r in harness.runs] == [False, True, True, True]
    assert run.result == now.node("when").attempts[0].task_id  # delay() returned its handle
    assert now.result == "job now" and chained.result == ["job one", "job one"]
    assert later.states() == {"n0": "QUEUED"}  # apply_async(countdown=30)
    harness.clock.advance(29)
    assert later.result == "job later"
    assert later.node("when").ran_at == [START + timedelta(seconds=30)]


def test_a_rate_limit_spaces_the_starts_on_the_virtual_clock(harness: FlowHarness) -> None:
    run = harness.run(RETRIES, "limited")
    starts = [n.ran_at[0] for n in run.nodes_of("call_api")]
    gaps = [(b - a).total_seconds() for a, b in pairwise(starts)]
    assert gaps == [pytest.approx(6.025)] * 2  # 10/m: one start per (60 s + its guard) / 10
    assert run.result == 3


def test_a_runs_timeline_lists_every_attempt_and_handler_in_time_order(
        harness: FlowHarness) -> None:
    run = harness.run(RETRIES, "backoff", fail_times=9)
    assert run.timeline() == [
        "+0.000s n0 fetch RETRY ConnectionError('orders: attempt 1 refused') -> +2.000s",
        "+2.000s n0 fetch RETRY ConnectionError('orders: attempt 2 refused') -> +6.000s",
        "+6.000s n0 fetch RETRY ConnectionError('orders: attempt 3 refused') -> +14.000s",
        "+14.000s n0 fetch FAILURE ConnectionError('orders: attempt 4 refused')",
        "+14.000s on error (n0) notify SUCCESS",
    ]


def test_a_yaml_flow_runs_like_its_flow_file(harness: FlowHarness) -> None:
    assert harness.run("examples/etl.yaml").result == harness.run("examples/etl.flow").result


def test_an_apps_beat_schedule_runs_on_the_virtual_clock(harness: FlowHarness) -> None:
    app = App("beat-under-test", set_as_current=False)

    @app.task(name="tick")
    def tick(n: int) -> int:
        return n

    app.conf.beat_schedule = {"ticker": {"task": "tick", "schedule": 60.0, "args": (7,)}}
    harness.beat_entries(app)
    harness.clock.advance(timedelta(minutes=3))
    runs = harness.runs_of("ticker")
    assert [r.started_at for r in runs] == [START + timedelta(minutes=m) for m in (1, 2, 3)]
    assert [r.result for r in runs] == [7, 7, 7]

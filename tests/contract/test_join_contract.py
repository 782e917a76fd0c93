"""The WorkflowJoin port's contract (runtime/backend.py), for every join adapter, in both ways
a ready step is enqueued (by the join itself, or returned for the worker to publish); an
adapter that cannot hold runs (Memcached) refuses them at submit instead."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from flowc.compiler.canvas.primitives import chain, chord, group
from flowc.compiler.validate import compile_canvas
from flowc.runtime.app import App
from flowc.runtime.exceptions import WorkflowsUnsupported
from flowc.runtime.workflows.join import JoinOp
from flowc.runtime.workflows.plan import RunPlan, plan

pytestmark = [pytest.mark.redis, pytest.mark.amqp, pytest.mark.postgresql,
              pytest.mark.memcached]


@pytest.fixture(params=["join", "worker"])
def japp(join_adapter_app: App, request: pytest.FixtureRequest) -> Iterator[App]:
    adapter_app = join_adapter_app
    adapter_app.conf.flowc_workflow_publish = request.param

    @adapter_app.task(name="inc")
    def inc(x: int) -> int:
        return x + 1

    @adapter_app.task(name="total")
    def total(xs: list[int]) -> int:
        return sum(xs)

    @adapter_app.task(name="report")
    def report(task_id: str) -> str:
        return task_id

    yield adapter_app


def submit(app: App, canvas: Any) -> RunPlan:
    wf = compile_canvas(canvas, app.tasks)
    run = plan(app, wf)
    app.broker.declare(sorted(run.queues))
    reply = app.workflow_join.submit(wf, run)
    assert reply.applied == 1
    app.workflows.publish_ready(reply)
    return run


def queued_bodies(app: App) -> list[dict[str, Any]]:
    got = app.broker.fetch("probe", ["celery"], 100, 0)
    app.broker.ack(got)
    return [orjson.loads(d.body) for d in got]


def fail(app: App, run: RunPlan, node: str) -> Any:
    [reply] = app.workflow_join.join([JoinOp(
        "fail", run.workflow_id, node, exc={"exc_type": "ValueError", "exc_message": ["x"],
                                            "exc_module": "builtins"},
        task_id=run.task_ids[node])])
    app.workflows.publish_ready(reply)
    return reply


def done(app: App, run: RunPlan, node: str, result: Any) -> Any:
    [reply] = app.workflow_join.join(
        [JoinOp("done", run.workflow_id, node, result_json=orjson.dumps(result))])
    app.workflows.publish_ready(reply)
    return reply


class TestWorkflowJoinContract:
    def test_submit_makes_only_the_roots_ready(self, japp: App) -> None:
        run = submit(japp, chain(japp.tasks["inc"].s(1), japp.tasks["inc"].s()))
        [root] = queued_bodies(japp)
        assert (root["id"], root["args"]) == (run.task_ids["n0"], [1])
        assert japp.workflow_join.node_states(run.workflow_id) == {"n0": "QUEUED",
                                                                   "n1": "PENDING"}

    def test_submitting_a_run_id_again_changes_nothing(self, japp: App) -> None:
        canvas = chain(japp.tasks["inc"].s(1), japp.tasks["inc"].s())
        run = submit(japp, canvas)
        wf = compile_canvas(canvas, japp.tasks)
        assert japp.workflow_join.submit(wf, plan(japp, wf, run.workflow_id)).applied == 0

    def test_a_completed_step_readies_its_successor_with_the_result_bound(self,
                                                                          japp: App) -> None:
        run = submit(japp, chain(japp.tasks["inc"].s(1), japp.tasks["inc"].s()))
        queued_bodies(japp)
        reply = done(japp, run, "n0", 2)
        assert reply.applied == 1 and not reply.finished
        [succ] = queued_bodies(japp)
        assert (succ["id"], succ["args"]) == (run.task_ids["n1"], [2])

    def test_a_duplicate_completion_is_a_no_op(self, japp: App) -> None:
        run = submit(japp, chain(japp.tasks["inc"].s(1), japp.tasks["inc"].s()))
        queued_bodies(japp)
        done(japp, run, "n0", 2)
        first = queued_bodies(japp)
        again = done(japp, run, "n0", 99)
        assert again.applied == 0
        # the join that enqueues needs nothing again; the one that leaves publishing to the
        # worker offers the still-QUEUED successor again (its publish may have been lost)
        assert [b["args"] for b in queued_bodies(japp)] == (
            [] if not japp.workflow_join.by_worker else [b["args"] for b in first])

    def test_a_chord_body_is_ready_only_after_every_header_step(self, japp: App) -> None:
        inc = japp.tasks["inc"]
        run = submit(japp, chord([inc.s(1), inc.s(2)], japp.tasks["total"].s()))
        queued_bodies(japp)
        done(japp, run, "n1", 3)
        assert queued_bodies(japp) == []
        done(japp, run, "n0", 2)
        [body] = queued_bodies(japp)
        assert body["args"] == [[2, 3]]

    def test_only_the_step_that_readied_a_chord_body_offers_it_again(self,
                                                                     japp: App) -> None:
        # Given a chord whose body the completion of n0 made ready
        inc = japp.tasks["inc"]
        run = submit(japp, chord([inc.s(1), inc.s(2)], japp.tasks["total"].s()))
        queued_bodies(japp)
        done(japp, run, "n1", 3)
        done(japp, run, "n0", 2)
        [body] = queued_bodies(japp)
        # When both members complete again (redelivered after a failover)
        done(japp, run, "n1", 3)
        assert queued_bodies(japp) == []  # n1 published nothing: it offers nothing
        done(japp, run, "n0", 2)
        # Then only n0's duplicate offers the body again (where the worker publishes: its
        # publish may have died with n0's worker), once
        assert queued_bodies(japp) == ([] if not japp.workflow_join.by_worker else [body])

    def test_the_last_step_finishes_the_run(self, japp: App) -> None:
        run = submit(japp, chain(japp.tasks["inc"].s(1), japp.tasks["inc"].s()))
        done(japp, run, "n0", 2)
        assert done(japp, run, "n1", 3).finished
        assert japp.workflow_join.status(run.workflow_id)["status"] == "SUCCESS"

    def test_a_failure_skips_every_dependent_and_names_them(self, japp: App) -> None:
        inc = japp.tasks["inc"]
        run = submit(japp, chain(inc.s(1), inc.s(), inc.s()))
        [reply] = japp.workflow_join.join([JoinOp("fail", run.workflow_id, "n0", exc={
            "type": "ValueError", "message": "x"}, task_id=run.task_ids["n0"])])
        assert reply.skipped == [run.task_ids["n1"], run.task_ids["n2"]]
        assert reply.finished
        assert japp.workflow_join.node_states(run.workflow_id) == {
            "n0": "FAILURE", "n1": "SKIPPED", "n2": "SKIPPED"}

    def test_a_failure_leaves_the_branches_it_does_not_reach_running(self, japp: App) -> None:
        inc = japp.tasks["inc"]
        run = submit(japp, group(chain(inc.s(1), inc.s()), inc.s(5)))
        queued_bodies(japp)
        fail(japp, run, "n2")
        assert japp.workflow_join.status(run.workflow_id)["status"] == "FAILURE"
        done(japp, run, "n0", 2)
        [succ] = queued_bodies(japp)
        assert (succ["id"], succ["args"]) == (run.task_ids["n1"], [2])
        assert done(japp, run, "n1", 3).finished
        assert japp.workflow_join.status(run.workflow_id)["status"] == "FAILURE"

    def test_a_revoked_run_readies_nothing_new_even_after_a_failure(self, japp: App) -> None:
        inc = japp.tasks["inc"]
        run = submit(japp, group(chain(inc.s(1), inc.s()), inc.s(5)))
        queued_bodies(japp)
        fail(japp, run, "n2")
        japp.workflow_join.mark_revoked(run.workflow_id)
        done(japp, run, "n0", 2)
        assert queued_bodies(japp) == []
        assert japp.workflow_join.status(run.workflow_id)["status"] == "REVOKED"

    def test_a_skipped_chord_body_fires_its_errbacks_as_the_body_once(self, japp: App) -> None:
        inc, report = japp.tasks["inc"], japp.tasks["report"]
        run = submit(japp, chord([inc.s(1), inc.s(2)], japp.tasks["total"].s().on_error(
            report.s())))
        queued_bodies(japp)
        fail(japp, run, "n0")
        [errback] = queued_bodies(japp)
        info = errback["headers"]["errback"]
        assert info["task_id"] == run.task_ids["n2"]
        assert info["exc"]["exc_type"] == "ChordError"
        assert run.task_ids["n0"] in info["exc"]["exc_message"][0]
        fail(japp, run, "n1")
        assert queued_bodies(japp) == []
        # a duplicate of the first failure: the join that leaves publishing to the worker
        # offers the errback again (its publish may have been lost)
        fail(japp, run, "n0")
        assert len(queued_bodies(japp)) == (1 if japp.workflow_join.by_worker else 0)

    def test_resume_resets_failed_nodes_and_readies_them(self, japp: App) -> None:
        inc = japp.tasks["inc"]
        run = submit(japp, chain(inc.s(1), inc.s()))
        queued_bodies(japp)
        japp.workflow_join.join([JoinOp("fail", run.workflow_id, "n0", exc={},
                                        task_id=run.task_ids["n0"])])
        reply = japp.workflow_join.resume(run.workflow_id, {"n0": 0, "n1": 1}, ["n0"])
        japp.workflows.publish_ready(reply)
        assert reply.applied == 2
        assert [b["id"] for b in queued_bodies(japp)] == [run.task_ids["n0"]]
        assert japp.workflow_join.status(run.workflow_id)["status"] == "RUNNING"

    def test_records_hold_every_nodes_successors(self, japp: App) -> None:
        run = submit(japp, chain(japp.tasks["inc"].s(1), japp.tasks["inc"].s()))
        records = japp.workflow_join.records(run.workflow_id)
        assert records["n0"]["succ"] == ["n1"] and records["n1"]["succ"] == []

    def test_runs_are_listed_newest_first_with_their_summaries(self, japp: App) -> None:
        older = submit(japp, chain(japp.tasks["inc"].s(1), japp.tasks["inc"].s()))
        newer = submit(japp, japp.tasks["inc"].s(1) | japp.tasks["inc"].s())
        join = japp.workflow_join
        assert [wid for wid, _ in join.run_ids(10)] == [newer.workflow_id, older.workflow_id]
        assert join.run_count() == 2
        [summary, gone] = join.summaries([older.workflow_id, "no-such-run"])
        assert (summary["status"], summary["nodes"], summary["left"]) == ("RUNNING", 2, 2)
        assert gone["status"] == "EXPIRED"


REFUSAL = ("the Memcached result backend cannot hold workflow runs: use Redis or PostgreSQL "
           "as result_backend")


class TestJoinlessBackendRefusesRuns:
    def test_submitting_a_workflow_fails_with_one_line_saying_what_to_use(
            self, joinless_app: App) -> None:
        @joinless_app.task(name="inc")
        def inc(x: int) -> int:
            return x + 1

        with pytest.raises(WorkflowsUnsupported) as refused:
            chain(inc.s(1), inc.s()).apply_async()
        assert str(refused.value) == REFUSAL

    def test_a_refused_workflow_queues_nothing(self, joinless_app: App) -> None:
        @joinless_app.task(name="inc")
        def inc(x: int) -> int:
            return x + 1

        with pytest.raises(WorkflowsUnsupported):
            chord([inc.s(i) for i in range(3)], inc.s()).apply_async()
        assert joinless_app.broker.depth("celery") == {"ready": 0, "delayed": 0}

    def test_a_plain_task_is_still_sent(self, joinless_app: App) -> None:
        @joinless_app.task(name="inc")
        def inc(x: int) -> int:
            return x + 1

        inc.delay(1)
        assert joinless_app.broker.depth("celery")["ready"] == 1

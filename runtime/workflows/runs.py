"""Workflow runs in Redis: submit an IR ``Workflow``, join node completions, inspect, revoke.

Submitting stores the run records and enqueues the roots in one ``workflow.lua submit`` call.
Workers settle a node's outcome with ``done``/``fail`` in the same pipeline as its ack, so
nothing waits in a worker's memory between "parent finished" and "child enqueued".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson
from flowc.compiler.ir import Workflow
from flowc.runtime import states
from flowc.runtime.outcome import encode_record, now_iso
from flowc.runtime.redis import scripts
from flowc.runtime.redis.replies import bytes_hash
from flowc.runtime.workflows.plan import RunPlan, plan

if TYPE_CHECKING:
    import redis
    from flowc.runtime.app import App

RESULT_JSON_ERROR = "workflow step results must be JSON-serialisable"


class WorkflowStore:
    """The Redis side of workflow runs, for one App."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.script = scripts.load(app.broker_client, "workflow")

    def keys(self, workflow_id: str) -> list[str]:
        """The run's six keys, in workflow.lua's KEYS order."""
        return self.app.keys.workflow(workflow_id)

    def submit(self, wf: Workflow, workflow_id: str | None = None) -> RunPlan:
        """Store the run and enqueue its ready roots, atomically; returns the plan."""
        run = plan(self.app, wf, workflow_id)
        self.store(wf, run)
        return run

    def store(self, wf: Workflow, run: RunPlan) -> None:
        """The ``workflow.lua submit`` call (and bookkeeping) for an already computed plan."""
        extra = {"result_ids": orjson.dumps(_result_ids(wf, run)),
                 "task_ids": orjson.dumps(run.task_ids)}
        if wf.name:
            extra["name"] = wf.name.encode()
        args: list[Any] = ["submit", int(self.app.conf.result_expires or 0),
                           orjson.dumps(run.on_error), len(extra)]
        for field, value in extra.items():
            args += [field, value]
        args.append(len(run.records))
        for node_id, rec in run.records.items():
            args += [node_id, rec]
        args.append(len(run.pending))
        for node_id, count in run.pending.items():
            args += [node_id, count]
        args.append(len(run.roots))
        ready = run.ready
        for root in run.roots:
            stream, body = ready.get(root, ("", b""))
            args += [root, stream, body]
        args.append(len(run.errbacks))
        for eb_id, rec in run.errbacks.items():
            args += [eb_id, rec]
        self.app.broker.declare(sorted(run.queues))
        self.script(keys=self.keys(run.workflow_id), args=args)
        self.app.broker_client.zadd(self.app.keys.workflows(), {run.workflow_id: _now()})
        if self.app.conf.task_send_sent_event:
            self.app.events.workflow_submitted(run.workflow_id, wf.name, len(wf.nodes))
            self.app.events.flush()

    # --- operations queued by workers (see Settler) ------------------------------------------

    def queue_done(self, pipe: redis.client.Pipeline, workflow_id: str, node_id: str,
                   index: int | None, result_json: bytes, claim: list[Any] | None = None) -> None:
        """Record a node's (or map instance's) result and enqueue what became ready; with
        ``claim`` (see ``JoinOp.claim``) also claim the worker's next messages."""
        scripts.queue_call(pipe, self.script, self.keys(workflow_id),
                           ["done", node_id, "" if index is None else index, result_json,
                            *(claim or ())])

    def queue_dones(self, pipe: redis.client.Pipeline, workflow_id: str,
                    results: list[tuple[str, bytes]], claim: list[Any] | None = None) -> None:
        """``queue_done`` for several plain nodes of one run, in one script call."""
        args: list[Any] = ["dones", len(results)]
        for node_id, result_json in results:
            args += [node_id, result_json]
        scripts.queue_call(pipe, self.script, self.keys(workflow_id), [*args, *(claim or ())])

    def queue_fail(self, pipe: redis.client.Pipeline, workflow_id: str, node_id: str,
                   index: int | None, exc: dict[str, Any], traceback: str | None,
                   task_id: str) -> None:
        """Fail a node: skip its dependents and fire its errbacks once."""
        scripts.queue_call(pipe, self.script, self.keys(workflow_id),
                           ["fail", node_id, "" if index is None else index, orjson.dumps(exc),
                            orjson.dumps(traceback or ""), task_id])

    def queue_expand(self, pipe: redis.client.Pipeline, workflow_id: str, node_id: str,
                     bodies: Sequence[bytes]) -> None:
        """Start a map node's instances (or complete it at once when the list is empty)."""
        scripts.queue_call(pipe, self.script, self.keys(workflow_id),
                           ["expand", node_id, len(bodies), *bodies])

    def follow_up_records(self, op: str, reply: Any, exc: dict[str, Any] | None,
                          traceback: str | None, failed_node: str) -> list[tuple[str, bytes]]:
        """Result records the join's reply asks for: map aggregates, skipped dependents."""
        serializer = self.app.conf.result_serializer
        out: list[tuple[str, bytes]] = []
        if op in ("done", "expand") and reply and reply[2]:
            task_id = reply[2].decode() if isinstance(reply[2], bytes) else str(reply[2])
            out.append((task_id, b"j" + b'{"status":"SUCCESS","result":' + bytes(reply[3]) +
                        b',"task_id":' + orjson.dumps(task_id) + b',"date_done":' +
                        orjson.dumps(now_iso()) + b"}"))
        elif op == "fail" and reply:
            for raw in reply[2:]:
                task_id = raw.decode() if isinstance(raw, bytes) else str(raw)
                note = f"not run: workflow step {failed_node} failed"
                out.append((task_id, encode_record(
                    {"status": states.FAILURE, "result": exc, "task_id": task_id,
                     "traceback": f"{note}\n{traceback or ''}", "date_done": now_iso(),
                     "skipped": True}, serializer)))
        return out

    # --- inspection ---------------------------------------------------------------------------

    def status(self, workflow_id: str) -> dict[str, str]:
        """The run's meta hash (status, left, failed_node, ...), decoded."""
        meta = bytes_hash(self.app.broker_client.hgetall(self.keys(workflow_id)[4]))
        return {k.decode(): v.decode() for k, v in meta.items()}

    def node_states(self, workflow_id: str) -> dict[str, str]:
        """State of every node: PENDING, QUEUED, RUNNING, SUCCESS, FAILURE or SKIPPED."""
        raw = bytes_hash(self.app.broker_client.hgetall(self.keys(workflow_id)[3]))
        return {k.decode(): v.decode() for k, v in raw.items()}


def _now() -> float:
    import time

    return time.time()


def _result_ids(wf: Workflow, run: RunPlan) -> Any:
    def fill(shape: Any) -> Any:
        return run.task_ids[shape] if isinstance(shape, str) else [fill(s) for s in shape]

    return None if wf.result is None else fill(wf.result)

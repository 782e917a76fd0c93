"""``app.workflow(id)``: look at and act on a workflow run (status, nodes, revoke, result)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from flowc.runtime.group_result import ResultLike, handle_for

if TYPE_CHECKING:
    from flowc.runtime.app import App


class WorkflowRun:
    """A handle on one run; every method reads or writes the backend (nothing is cached)."""

    def __init__(self, app: App, workflow_id: str) -> None:
        self.app = app
        self.id = workflow_id

    def __repr__(self) -> str:
        return f"<WorkflowRun {self.id}>"

    def meta(self) -> dict[str, str]:
        """The run's meta hash: status, left, created, finished, failed_node, ..."""
        return dict(self.app.workflows.status(self.id))

    def status(self) -> str:
        """RUNNING, SUCCESS, FAILURE or REVOKED (UNKNOWN if the run expired or never existed)."""
        return self.meta().get("status", "UNKNOWN")

    def task_ids(self) -> dict[str, str]:
        """Node id (and errback id) -> task id."""
        raw = self.meta().get("task_ids")
        return dict(orjson.loads(raw)) if raw else {}

    def nodes(self) -> dict[str, dict[str, Any]]:
        """Every node's state and task id (and its task's name when known)."""
        ids = self.task_ids()
        out: dict[str, dict[str, Any]] = {}
        for node_id, state in sorted(self.app.workflows.node_states(self.id).items()):
            out[node_id] = {"state": state, "task_id": ids.get(node_id)}
        return out

    def map_progress(self) -> dict[str, tuple[int, int]]:
        """Map node id -> (instances done, instances in all), for maps that have expanded."""
        return self.app.workflows.map_progress(self.id)

    def result(self) -> ResultLike:
        """Handles shaped like the workflow's result; ``.get()`` waits for it."""
        raw = self.meta().get("result_ids")
        shape = orjson.loads(raw) if raw else []
        handle = handle_for(self.app, shape if shape is not None else [])
        handle.workflow_id = self.id
        return handle

    def get(self, timeout: float | None = None, propagate: bool = True) -> Any:
        """Wait for the final result (raises the failing step's exception)."""
        return self.result().get(timeout=timeout, propagate=propagate)

    def revoke(self, terminate: bool = False) -> None:
        """Stop the run: nothing new is enqueued and unfinished steps are revoked."""
        self.app.workflows.join.mark_revoked(self.id)
        states = self.app.workflows.node_states(self.id)
        ids = self.task_ids()
        open_ids = [ids[n] for n, s in states.items() if s not in ("SUCCESS", "FAILURE")
                    and n in ids]
        if open_ids:
            self.app.control.revoke(open_ids, terminate=terminate)

    def retry(self) -> ResultLike:
        """Resume a failed or revoked run from its failed nodes; what succeeded is not re-run.

        Failed and skipped nodes are reset (their stored results forgotten, so existing
        handles wait for the new attempt) and those whose parents all succeeded are enqueued.
        """
        records = self.app.workflows.join.records(self.id)
        states = self.app.workflows.node_states(self.id)
        parents: dict[str, list[str]] = {n: [] for n in records}
        for node_id, rec in records.items():
            for succ in rec["succ"]:
                parents[succ].append(node_id)
        reset = [n for n, s in states.items() if s not in ("SUCCESS",) and n in records]
        if not reset:
            return self.result()
        left = {n: sum(1 for p in parents[n] if states.get(p) != "SUCCESS") for n in reset}
        ready = [n for n in reset if left[n] == 0]
        for node_id in reset:
            self.app.backend.forget(records[node_id]["t"])
        reply = self.app.workflows.join.resume(self.id, {n: left[n] for n in reset}, ready)
        self.app.workflows.publish_ready(reply)
        return self.result()

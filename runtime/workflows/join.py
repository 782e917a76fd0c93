"""One workflow join operation a worker settles with a finished task (see ``Settler``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis
    from flowc.runtime.workflows.runs import WorkflowStore


@dataclass(slots=True)
class JoinOp:
    """``done`` (result JSON), ``fail`` (exception + traceback) or ``expand`` (instance bodies)."""

    op: str
    workflow_id: str
    node_id: str
    index: int | None = None
    result_json: bytes = b"null"
    exc: dict[str, Any] | None = None
    traceback: str | None = None
    task_id: str = ""
    bodies: list[bytes] = field(default_factory=list)
    more: list[tuple[str, bytes]] = field(default_factory=list)
    """For ``done``: further (node id, result JSON) of the same run settled in the same call
    (``workflow.lua dones``; see ``absorb``)."""
    claim: list[Any] | None = None
    """For ``done``: the finishing worker's next fetch folded into the step (group, consumer,
    count, wake group, stream keys...; see workflow.lua), so a chain's next step is claimed by
    this worker in the step that enqueues it. The reply's fifth item is then the claim."""

    def queue(self, store: WorkflowStore, pipe: redis.client.Pipeline) -> None:
        """Add this operation's EVALSHA to a pipeline."""
        if self.op == "done" and self.more:
            store.queue_dones(pipe, self.workflow_id,
                              [(self.node_id, self.result_json), *self.more], self.claim)
        elif self.op == "done":
            store.queue_done(pipe, self.workflow_id, self.node_id, self.index, self.result_json,
                             self.claim)
        elif self.op == "fail":
            store.queue_fail(pipe, self.workflow_id, self.node_id, self.index, self.exc or {},
                             self.traceback, self.task_id)
        else:
            store.queue_expand(pipe, self.workflow_id, self.node_id, self.bodies)

    def absorb(self, other: JoinOp) -> bool:
        """Take ``other`` into this call if both complete plain nodes of the same run (a
        batch of chord or group members settles in one script call instead of one each)."""
        if self.op != "done" or other.op != "done" or self.index is not None \
                or other.index is not None or other.workflow_id != self.workflow_id:
            return False
        self.more.append((other.node_id, other.result_json))
        return True

    def follow_up(self, store: WorkflowStore, reply: Any) -> list[tuple[str, bytes]]:
        """Result records to store because of the join's reply (map results, skipped nodes)."""
        return store.follow_up_records(self.op, reply, self.exc, self.traceback, self.node_id)

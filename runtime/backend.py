"""The result-backend ports: task outcomes (``ResultBackend``) and workflow joins
(``WorkflowJoin``).

Redis first (``runtime/redis``); PostgreSQL (``runtime/sql``) and Memcached
(``runtime/memcached``, results only: its join refuses runs) plug in behind the same methods
and are held to them by tests/contract. Records are opaque bytes here (see ``outcome`` for their
encoding). A join reports the messages it made ready in ``JoinReply.ready`` when it cannot
enqueue them itself (another broker, another Cluster slot): the worker then publishes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from flowc.runtime.broker import Outgoing

if TYPE_CHECKING:
    from flowc.compiler.ir import Workflow
    from flowc.runtime.workflows.join import JoinOp
    from flowc.runtime.workflows.plan import RunPlan


class ResultBackend(Protocol):
    """Where results live until they expire."""

    def close(self) -> None:
        """Release connections this process holds (they reopen on next use)."""
        ...

    def store(self, items: Sequence[tuple[str, bytes]], ttl_s: float | None) -> None:
        """Store terminal records ``(task_id, record)``; waiters wake at once. Idempotent."""
        ...

    def set_state(self, items: Sequence[tuple[str, bytes]], ttl_s: float | None) -> None:
        """Record non-terminal states (RECEIVED, STARTED, RETRY) for in-flight tasks."""
        ...

    def get(self, task_id: str) -> tuple[bytes | None, bytes | None]:
        """The terminal record and the latest state record, either may be None."""
        ...

    def wait(self, task_id: str, timeout_s: float | None) -> bytes | None:
        """Block until the terminal record exists (woken by the store where it can push:
        Redis, PostgreSQL; Memcached polls with a backoff); None on timeout."""
        ...

    def forget(self, task_id: str) -> None:
        """Delete everything stored for a task."""
        ...

    def claim_key(self, key: str, task_id: str, ttl_s: float) -> str | None:
        """Take an idempotency key for ``task_id`` for ``ttl_s`` seconds unless someone holds it;
        return the holder's task id, or None if the key is now this task's (how a broker with
        no key store of its own, RabbitMQ, keeps ``publish_once``)."""
        ...


@dataclass(slots=True)
class JoinReply:
    """What one join operation did, by name (the Redis script's reply, decoded once)."""

    applied: int = 0
    """1 if the operation changed the run (0 for a duplicate); ``resume``: nodes reset."""
    finished: bool = False
    """The run's last node settled with this operation."""
    map_task_id: str | None = None
    """A map node completed: its task id, whose record is ``map_result`` (JSON)."""
    map_result: bytes | None = None
    claimed: Any = None
    """The finishing worker's next claim folded into the join (Redis fast path only)."""
    skipped: list[str] = field(default_factory=list)
    """Task ids to record as failed: a failed map's own task, then every skipped dependent."""
    ready: list[Outgoing] = field(default_factory=list)
    """Messages made ready that the caller must publish (publish-by-worker mode)."""


class WorkflowJoin(Protocol):
    """The durable state of workflow runs and their atomic join.

    Every operation is idempotent: a duplicate completion changes nothing (and, where the join
    leaves publishing to the worker, offers the messages it made ready again).
    """

    by_worker: bool
    """True when joins return ready messages for the worker to publish (``JoinReply.ready``)."""

    def submit(self, wf: Workflow, run: RunPlan) -> JoinReply:
        """Store a planned run and make its roots ready; ``applied`` 0 if the id exists."""
        ...

    def join(self, ops: Sequence[JoinOp]) -> list[JoinReply]:
        """Apply node completions, failures and map expansions, one reply each, in order."""
        ...

    def resume(self, workflow_id: str, reset: dict[str, int], ready: Sequence[str]) -> JoinReply:
        """Reset failed/skipped nodes (node id -> parents still unfinished), enqueue ``ready``."""
        ...

    def mark_revoked(self, workflow_id: str) -> None:
        """Stop a running run: its status becomes REVOKED and nothing new is made ready."""
        ...

    def status(self, workflow_id: str) -> dict[str, str]:
        """The run's meta: status, left, created, finished, failed_node, name, task_ids, ..."""
        ...

    def node_states(self, workflow_id: str) -> dict[str, str]:
        """State of every node: PENDING, QUEUED, RUNNING, SUCCESS, FAILURE or SKIPPED."""
        ...

    def records(self, workflow_id: str) -> dict[str, dict[str, Any]]:
        """Every node's run record (``workflows/plan.py``), decoded."""
        ...

    def map_progress(self, workflow_id: str) -> dict[str, tuple[int, int]]:
        """Map node id -> (items done, items in all), for every map that has expanded."""
        ...

    def errbacks(self, workflow_id: str) -> dict[str, dict[str, Any]]:
        """Every error handler's run record, by its id, decoded."""
        ...

    def run_ids(self, count: int, offset: int = 0) -> list[tuple[str, float]]:
        """Runs newest first: ``(id, submitted at)`` (the dashboard's and ``Monitor``'s list)."""
        ...

    def run_count(self) -> int:
        """How many runs are listed."""
        ...

    def summaries(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """Per run: ``id``, ``status`` (EXPIRED when gone), ``name``, ``left``, ``nodes``,
        ``failed_node``, ``params``, ``created``, ``finished``."""
        ...


def run_summary(wid: str, status: str | None, name: str | None, left: Any, nodes: int,
            failed: str | None, params: Any, created: Any, finished: Any) -> dict[str, Any]:
    """One run's summary as ``WorkflowJoin.summaries`` returns it (any join's meta fields)."""
    return {"id": wid, "status": status or "EXPIRED", "name": name,
            "left": int(left) if left else 0, "nodes": nodes, "failed_node": failed,
            "params": orjson.loads(params) if params else None,
            "created": float(created) if created else None,
            "finished": float(finished) if finished else None}

"""The ``WorkflowJoin`` of a result backend that cannot hold workflow runs: it refuses them.

A run's join state must outlive every step and change atomically with each completion;
Memcached may evict any item before it expires and has no transaction over several keys, so a
run stored there could lose a step's result or its pending counts and hang or run twice.
Submitting a run fails at once with ``WorkflowsUnsupported`` (nothing is queued); the reading
methods answer as for a run that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flowc.runtime.backend import JoinReply
from flowc.runtime.exceptions import WorkflowsUnsupported

if TYPE_CHECKING:
    from flowc.compiler.ir import Workflow
    from flowc.runtime.workflows.join import JoinOp
    from flowc.runtime.workflows.plan import RunPlan

REFUSAL = ("the Memcached result backend cannot hold workflow runs: use Redis or PostgreSQL "
           "as result_backend")
"""The one-line message of a refused submit."""


class RefusingWorkflowJoin:
    """``WorkflowJoin`` that holds no runs: ``submit`` (and anything that would change a run)
    raises ``WorkflowsUnsupported``."""

    by_worker = True
    refusal = REFUSAL
    """Why runs are refused (``WorkflowRuns.check_supported`` reads it before anything else)."""

    def submit(self, wf: Workflow, run: RunPlan) -> JoinReply:
        """Refuse the run."""
        raise WorkflowsUnsupported(REFUSAL)

    def join(self, ops: Sequence[JoinOp]) -> list[JoinReply]:
        """Refuse (no run can exist, so no step of one can complete)."""
        if not ops:
            return []
        raise WorkflowsUnsupported(REFUSAL)

    def resume(self, workflow_id: str, reset: dict[str, int], ready: Sequence[str]) -> JoinReply:
        """Refuse."""
        raise WorkflowsUnsupported(REFUSAL)

    def mark_revoked(self, workflow_id: str) -> None:
        """Nothing to stop: no run is stored."""

    def status(self, workflow_id: str) -> dict[str, str]:
        """Empty: no run is stored."""
        return {}

    def node_states(self, workflow_id: str) -> dict[str, str]:
        """Empty: no run is stored."""
        return {}

    def records(self, workflow_id: str) -> dict[str, dict[str, Any]]:
        """Empty: no run is stored."""
        return {}

    def map_progress(self, workflow_id: str) -> dict[str, tuple[int, int]]:
        """Empty: no run is stored."""
        return {}

    def errbacks(self, workflow_id: str) -> dict[str, dict[str, Any]]:
        """Empty: no run is stored."""
        return {}

    def run_ids(self, count: int, offset: int = 0) -> list[tuple[str, float]]:
        """Empty: no run is stored."""
        return []

    def run_count(self) -> int:
        """Zero: no run is stored."""
        return 0

    def summaries(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """Empty: no run is stored."""
        return []

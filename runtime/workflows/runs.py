"""Workflow runs through the ports: plan and submit a run, inspect it, publish what it readies.

``WorkflowRuns`` is ``app.workflows``. It plans a validated IR ``Workflow`` into run records
(``plan``), hands them to the backend's ``WorkflowJoin``, and publishes through the ``Broker``
whatever the join made ready but could not enqueue itself (``JoinReply.ready``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowc.runtime.exceptions import WorkflowsUnsupported
from flowc.runtime.workflows.plan import RunPlan, plan

if TYPE_CHECKING:
    from flowc.compiler.ir import Workflow
    from flowc.runtime.app import App
    from flowc.runtime.backend import JoinReply, WorkflowJoin


class WorkflowRuns:
    """Submit and look at workflow runs of one App."""

    def __init__(self, app: App, join: WorkflowJoin) -> None:
        self.app = app
        self.join = join

    def check_supported(self) -> None:
        """Raise ``WorkflowsUnsupported`` if the result backend cannot hold runs (Memcached's
        join says why in ``refusal``), before anything is planned, declared or started."""
        refusal = getattr(self.join, "refusal", None)
        if refusal:
            raise WorkflowsUnsupported(refusal)

    def submit(self, wf: Workflow, workflow_id: str | None = None) -> RunPlan:
        """Store the run and make its roots ready (idempotent for one run id); the plan."""
        self.check_supported()
        run = plan(self.app, wf, workflow_id)
        self.app.broker.declare(sorted(run.queues))
        self.publish_ready(self.join.submit(wf, run))
        if self.app.conf.task_send_sent_event:
            self.app.events.workflow_submitted(run.workflow_id, wf.name, len(wf.nodes))
            self.app.events.flush()
        return run

    def publish_ready(self, *replies: JoinReply) -> None:
        """Publish the messages joins made ready but left to the caller (publish=worker)."""
        ready = [item for reply in replies for item in reply.ready]
        if ready:
            self.app.broker.publish(self.app.wire.sign(ready))

    def status(self, workflow_id: str) -> dict[str, str]:
        """The run's meta (status, left, failed_node, ...)."""
        return self.join.status(workflow_id)

    def node_states(self, workflow_id: str) -> dict[str, str]:
        """State of every node: PENDING, QUEUED, RUNNING, SUCCESS, FAILURE or SKIPPED."""
        return self.join.node_states(workflow_id)

    def map_progress(self, workflow_id: str) -> dict[str, tuple[int, int]]:
        """Map node id -> (items done, items in all), for every map that has expanded."""
        return self.join.map_progress(workflow_id)

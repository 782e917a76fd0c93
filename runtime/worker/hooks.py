"""The points of a consume loop that monitoring observes, as explicit calls.

A ``Consumer`` and its ``Settler`` each hold a ``hooks`` object and call one of its methods,
in one line, where the event happens. The default, ``NO_HOOKS``, does nothing; a worker's
monitoring (``monitor_worker.WorkerMonitor``) subclasses ``ConsumerHooks`` to send task events
and track running tasks, and ``monitor_worker.attach`` installs it on both objects.

Hooks observe: they run before the step they report, cannot change its arguments or result,
and are called on the consume loop's hot path, so an implementation should do little (a dict
insert, a buffered event) and never a round trip of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowc.runtime.broker import Delivery
    from flowc.runtime.execute import Outcome
    from flowc.runtime.message import Message
    from flowc.runtime.task import Task


class ConsumerHooks:
    """Called by ``Consumer`` (task lifecycle) and ``Settler`` (writes); every method a no-op."""

    # --- from the Consumer --------------------------------------------------------------------

    def received(self, message: Message) -> None:
        """A claimed message was vetted and will run (``Consumer.prepare`` accepted it)."""

    def started(self, task: Task, message: Message) -> None:
        """The task is about to run (``Consumer.before_start``, before its early ack)."""

    def finished(self, message: Message, outcome: Outcome) -> None:
        """The task ran, or its pool process was lost; its writes are queued next
        (``Consumer.finish``). A rejection without requeue is then also ``dead_lettered``."""

    def revoked(self, message: Message, why: str) -> None:
        """The message is settled as REVOKED without running: ``why`` is "revoked",
        "expired" or "terminated" (``Consumer._revoked``)."""

    def stopped(self) -> None:
        """The loop has shut down and flushed (end of ``Consumer.shutdown``, even on error)."""

    # --- from the Settler ---------------------------------------------------------------------

    def dead_lettered(self, delivery: Delivery, reason: str) -> None:
        """A message is queued for the dead-letter stream (``Settler.dead_letter``)."""

    def flushing(self, pipe: Any) -> None:
        """``Settler.flush`` is about to send ``pipe``: queue writes to ride on it."""

    def flushed(self) -> None:
        """``Settler.flush`` returned (whether or not it had anything to write)."""

    def workflow_finished(self, workflow_id: str) -> None:
        """A join written by a flush reported the workflow's last node settled."""


NO_HOOKS = ConsumerHooks()
"""The default: a consume loop nobody monitors (stateless, so shared)."""

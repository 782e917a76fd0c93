"""The prefork supervisor's side of time limits, ``revoke(terminate=True)`` and lost children.

Pool processes publish what they run in ``RunningSlots``; the watchdog reads them each tick.
A task past its hard ``time_limit``, or named by a terminate command on the control stream,
gets its process killed; once the process is reaped the watchdog settles its task through the
same ``Consumer.finish`` path a pool process uses (FAILURE ``TimeLimitExceeded``, acknowledged
per ``task_acks_on_failure_or_timeout``) or as REVOKED, and the supervisor starts a replacement.
With events on, that settlement sends the task-failed (``TimeLimitExceeded``) or task-revoked
(``terminated``) event the killed process could not.

The watchdog is also each pool process's heartbeat *pulse* (``heartbeat.py``): every
``flowc_heartbeat_interval`` it renews the heartbeat TTL of every child that is not stopped, from
the supervisor's own process and GIL, so a task holding a child's GIL cannot starve it, while a
frozen child (SIGSTOP) or a frozen worker still looks lost.

A child that died on its own (OOM killer, a crash, SIGKILL) has its heartbeat removed at once,
so the reaper returns its acks-late messages within ``flowc_reap_interval``; a task it had
acknowledged early is recorded as FAILURE ``WorkerLostError`` (Celery's semantics).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from flowc.runtime import states
from flowc.runtime.exceptions import TimeLimitExceeded, WorkerLostError
from flowc.runtime.execute import Outcome
from flowc.runtime.message import Message
from flowc.runtime.monitoring.events import events_enabled
from flowc.runtime.monitoring.worker_side import TaskEventHooks
from flowc.runtime.worker.consumer import Consumer
from flowc.runtime.worker.heartbeat import renew, stopped
from flowc.runtime.worker.timelimits import Running, RunningSlots

if TYPE_CHECKING:
    from flowc.runtime.app import App

logger = logging.getLogger("flowc.worker")

CONTROL_EVERY_S = 0.2
"""How often the supervisor reads the control stream for terminate commands."""
CONTROL_RETRY_S = 2.0
TIME_LIMIT = "time limit"
TERMINATE = "terminated"


class PoolWatchdog:
    """Implements ``prefork.Watchdog`` for one worker's supervisor."""

    def __init__(self, app: App, queues: Sequence[str], slots: RunningSlots,
                 name_of: Callable[[int, int], str]) -> None:
        self.app = app
        self.queues = list(queues)
        self.slots = slots
        self.name_of = name_of
        self.doomed: dict[int, tuple[str, Running]] = {}
        self.next_control = 0.0
        self.control_id: str | None = None
        """Where this supervisor is in the terminate commands (None: from now on)."""
        self.terminate_ids: dict[str, float] = {}
        self.next_pulse = 0.0

    # --- each tick ----------------------------------------------------------------------------

    def check(self, children: dict[int, int]) -> dict[int, str]:
        """Children to kill now: past their hard deadline, or running a terminated task."""
        now = time.monotonic()
        if now >= self.next_pulse:
            self.next_pulse = now + self.app.conf.flowc_heartbeat_interval
            self.pulse(children)
        if now >= self.next_control:
            self.next_control = now + CONTROL_EVERY_S
            try:
                self._read_control()
            except Exception as e:  # Redis away: deadlines are still enforced meanwhile
                self.next_control = now + CONTROL_RETRY_S
                logger.warning("cannot read control commands (%s); retrying in %.0f s", e,
                               CONTROL_RETRY_S)
        kill: dict[int, str] = {}
        for pid, index in children.items():
            if pid in self.doomed:
                continue
            running = self.slots.read(index)
            if running is None:
                continue
            if running.deadline and now > running.deadline:
                kill[pid] = f"task {running.task}[{running.task_id}] exceeded its time limit"
                self.doomed[pid] = (TIME_LIMIT, running)
            elif running.task_id in self.terminate_ids:
                kill[pid] = f"task {running.task}[{running.task_id}] revoked with terminate"
                self.doomed[pid] = (TERMINATE, running)
                del self.terminate_ids[running.task_id]
        return kill

    def pulse(self, children: dict[int, int]) -> None:
        """Renew the heartbeat TTL of every child that is not stopped (see the docstring)."""
        names = [self.name_of(index, pid) for pid, index in children.items()
                 if pid not in self.doomed and not stopped(pid)]
        if not names:
            return
        try:
            renew(self.app, names)
        except Exception as e:  # Redis away: the children's threads log it too
            logger.debug("could not renew the pool processes' heartbeats: %s", e)

    def _read_control(self) -> None:
        self.control_id, ids = self.app.coordination.terminations(self.control_id)
        now = time.monotonic()
        self.terminate_ids = {k: v for k, v in self.terminate_ids.items() if v > now}
        for task_id in ids:
            self.terminate_ids[task_id] = now + 60.0

    # --- a child is gone ----------------------------------------------------------------------

    def child_exited(self, index: int, pid: int, killed_for: str | None) -> None:
        """Clear the child's presence; settle its task if we killed it or it acked early."""
        name = self.name_of(index, pid)
        self.app.coordination.leave(name)
        doomed = self.doomed.pop(pid, None)
        running = doomed[1] if doomed else self.slots.read(index)
        self.slots.reset(index)
        if running is None:
            return
        # Settled through the pool's own code path, reported as the pool process would have
        # (task-failed / task-revoked under its name) when events are on.
        consumer = Consumer(self.app, self.queues, name)
        if events_enabled(self.app):
            consumer.hooks = consumer.settler.hooks = TaskEventHooks(consumer)
        message = self._message(running)
        task = self.app.tasks.get(running.task)
        delivery = running.delivery()
        if doomed is not None and doomed[0] == TERMINATE and message is not None:
            consumer._revoked(delivery, message, "terminated")
        elif message is not None and task is not None:
            if doomed is not None:
                exc: BaseException = TimeLimitExceeded(
                    f"task {running.task}[{running.task_id}] exceeded its time limit; its "
                    "pool process was killed and replaced")
            elif consumer.acks_late(task, message):
                return  # unacknowledged: the reaper returns it to the queue
            else:
                exc = WorkerLostError(f"the pool process running task {running.task_id} died "
                                      "(the message had been acknowledged early)")
            logger.error("Task %s[%s] raised %r", running.task, running.task_id, exc)
            consumer.finish(delivery, task, message,
                            Outcome(states.FAILURE, exc=exc, traceback=repr(exc)))
        consumer.settler.flush(name)

    def _message(self, running: Running) -> Message | None:
        if not running.body:
            return Message(id=running.task_id, task=running.task)
        try:
            return Message.from_envelope(self.app.wire.peek(running.body, running.tag))
        except Exception:
            return Message(id=running.task_id, task=running.task)

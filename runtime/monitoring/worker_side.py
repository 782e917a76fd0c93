"""A worker process's monitoring side: task events, worker events, and control commands.

``attach(consumer, worker, index)`` is the one call a worker makes after building its consume
loop. It installs a ``WorkerMonitor`` as the consumer's and its settler's ``hooks`` (see
``runtime.hooks``; each hook is one explicit call in the consume loop) so that:

* with events on (``worker_send_task_events`` / ``flowc worker -E``) each task sends
  received, started, then succeeded/failed/retried/rejected/revoked events, written as one
  stream entry after each settled batch (a task that succeeded within the batch as one
  compact record, see ``TaskEventHooks``), and the process sends worker-online, a
  worker-heartbeat every ``flowc_heartbeat_interval`` and worker-offline;
* the tasks it runs are known by id (``inspect active``) whether events are on or not;
* a ``ControlListener`` thread answers ``flowc inspect`` / ``flowc control`` commands.

The consume loop holds no monitoring branches, only its hook calls; with events off the cost
is one dict insert and one pop per task (and a few calls that test ``on``).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flowc.runtime import states
from flowc.runtime.message import Message
from flowc.runtime.monitoring.control_channel import ControlListener
from flowc.runtime.monitoring.events import (
    EventSender,
    Received,
    events_enabled,
    received_note,
    short_repr,
)
from flowc.runtime.worker.hooks import ConsumerHooks

if TYPE_CHECKING:
    from flowc.runtime.broker import Delivery
    from flowc.runtime.execute import Outcome
    from flowc.runtime.task import Task
    from flowc.runtime.worker.consumer import Consumer
    from flowc.runtime.worker.main import Worker

logger = logging.getLogger("flowc.worker")


class TaskEventHooks(ConsumerHooks):
    """Task events of one consume loop, and the tasks it runs by id (events on or off).

    A task received, started and succeeded between two flushes costs the hot path one note
    per hook: ``received_note`` at received, the start time (kept for ``inspect active``
    anyway) at started, and at finished one compact record (``EventSender.task_done``) that
    readers expand into the three events. Whatever spans a flush is written as it stands at
    the flush (``_announce``): a task still running has its task-received and task-started
    events written then, and its outcome event later (``_catch_up`` sorts out a finish that
    races a flush from another thread).

    Used alone by the prefork supervisor to report the tasks it settles for pool processes
    it killed (time limit, terminate); ``WorkerMonitor`` adds worker events and control.
    """

    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer
        self.app = consumer.app
        self.name = consumer.name
        self.events = EventSender(self.app, consumer.name, enabled=events_enabled(self.app))
        self.on = self.events.enabled
        """Whether task events are sent (tasks are tracked by id either way)."""
        self.running: dict[str, tuple[str, Message, float]] = {}
        """Task id -> (task name, message, started at) of the tasks running now."""
        self.pending: dict[str, Received] = {}
        """Received tasks whose task-received event is not buffered yet."""
        self.announced: set[str] = set()
        """Tasks whose task-received event a flush wrote, their outcome not yet."""
        self.unstarted: set[str] = set()
        """Announced tasks whose task-started event is not written yet."""
        self.lock = threading.Lock()
        """Taken by ``_announce`` and the finishes that follow one, never by the fast path."""

    # --- ConsumerHooks: called by the consumer and its settler ---------------------------------

    def received(self, message: Message) -> None:
        """Note the task for its task-received event."""
        if self.on:
            self.pending[message.id] = received_note(message)

    def started(self, task: Task, message: Message) -> None:
        """Track the task for ``inspect active`` (the start time is its task-started's)."""
        self.running[message.id] = (task.name, message, time.time())

    def finished(self, message: Message, outcome: Outcome) -> None:
        """Stop tracking the task; task-succeeded, -failed, -retried or -rejected (requeued)."""
        run = self.running.pop(message.id, None)
        if not self.on:
            return
        note = self.pending.pop(message.id, None)
        status = outcome.status
        if note is not None and run is not None and status == states.SUCCESS:
            self.events.task_done(note, run[2], outcome.value, outcome.runtime_s)
            return
        self._catch_up(message.id, note, run)
        events = self.events
        if status == states.SUCCESS:
            events.task_succeeded(message, outcome.value, outcome.runtime_s)
        elif status == states.FAILURE:
            events.task_failed(message, outcome.exc, outcome.traceback, outcome.runtime_s)
        elif status == states.RETRY:
            eta = outcome.retry.eta if outcome.retry is not None else None
            exc = getattr(outcome.exc, "exc", None) or outcome.exc
            events.task_retried(message, exc, eta, outcome.traceback)
        elif status == states.REJECTED and outcome.requeue:
            events.task_rejected(message.id, message.task,
                                 str(getattr(outcome.exc, "reason", "") or "rejected"),
                                 requeue=True)
        # a rejection without requeue is reported by dead_lettered (with its reason)

    def _catch_up(self, task_id: str, note: Received | None,
                  run: tuple[str, Message, float] | None) -> None:
        """Before an outcome event: the task's received and started events not written yet."""
        with self.lock:  # an _announce that took the note has marked the task when we get it
            if note is not None:
                self.events.task_received(note)
                started_sent = False
            elif task_id in self.announced:
                self.announced.discard(task_id)
                started_sent = task_id not in self.unstarted
                self.unstarted.discard(task_id)
            else:  # not received here: settled for a pool process that was lost
                started_sent = True
            if not started_sent and run is not None:
                self.events.task_started(task_id, run[2])

    def _announce(self) -> None:
        """At a flush: the received and started events of tasks that have not finished."""
        if not (self.pending or self.unstarted):
            return
        with self.lock:
            for task_id in list(self.pending):
                note = self.pending.pop(task_id, None)
                if note is not None:  # else it finished meanwhile (a compact record)
                    self.events.task_received(note)
                    self.announced.add(task_id)
                    self.unstarted.add(task_id)
            for task_id in list(self.unstarted):
                run = self.running.get(task_id)
                if run is not None:
                    self.events.task_started(task_id, run[2])
                    self.unstarted.discard(task_id)

    def revoked(self, message: Message, why: str) -> None:
        """Stop tracking the task; task-revoked."""
        self.running.pop(message.id, None)
        if self.on:
            self.events.task_revoked(message.id, message.task, why,
                                     terminated=why == "terminated")

    def dead_lettered(self, delivery: Delivery, reason: str) -> None:
        """task-rejected, with the dead-lettering's reason."""
        if self.on:
            task_id, name = self._identify(delivery)
            self.events.task_rejected(task_id, name, reason)

    def workflow_finished(self, workflow_id: str) -> None:
        """workflow-finished, with the run's final status."""
        if self.on:
            status = self.app.workflows.status(workflow_id).get("status", "UNKNOWN")
            self.events.workflow_finished(workflow_id, status)

    def flushing(self, pipe: Any) -> None:
        """Queue the buffered events on the settle pipeline (no round trip of their own)."""
        self._announce()
        if len(self.events):
            self.events.flush(pipe)

    def flushed(self) -> None:
        """Write events still buffered (a flush that had nothing else to write)."""
        self._announce()
        if len(self.events):
            self.events.flush()

    def _identify(self, delivery: Delivery) -> tuple[str | None, str | None]:
        try:
            env = self.app.wire.peek(delivery.body, delivery.tag)
            return str(env.get("id")), str(env.get("task"))
        except Exception:
            return None, None


class WorkerMonitor(TaskEventHooks):
    """One consumer process's ``ConsumerHooks`` and ``control_channel.ControlTarget``."""

    def __init__(self, consumer: Consumer, worker: Worker | None = None,
                 index: int | None = None) -> None:
        super().__init__(consumer)
        self.worker = worker
        self.index = index
        self.queues = list(consumer.queues)
        self.listener = ControlListener(self, tick=self._tick)
        self.interval_s = float(self.app.conf.flowc_heartbeat_interval)
        self._next_beat = 0.0
        self._started = False

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> WorkerMonitor:
        """Send worker-online and start answering control commands."""
        if self._started:
            return self
        self._started = True
        self.events.worker_online(**self._info())
        self.events.flush()
        self._next_beat = time.monotonic() + self.interval_s
        self.listener.start()
        return self

    def stop(self) -> None:
        """Send worker-offline and stop the listener."""
        self.listener.stop()
        self._announce()
        self.events.worker_offline(processed=self.consumer.processed, **self._info())
        try:
            self.events.flush()
        except Exception:
            logger.warning("could not send the worker-offline event")

    def stopped(self) -> None:
        """worker-offline; stop answering control commands."""
        self.stop()

    def _info(self) -> dict[str, Any]:
        pool = self.worker.options.pool if self.worker is not None else "solo"
        return {"pid": os.getpid(), "host": socket.gethostname(), "pool": pool,
                "queues": self.queues, "sw_ident": "flowc"}

    def _tick(self) -> None:
        """From the listener thread: heartbeat events and a flush of lingering events."""
        now = time.monotonic()
        if self.events.enabled and now >= self._next_beat:
            self._next_beat = now + self.interval_s
            self.events.worker_heartbeat(active=len(self.running),
                                         processed=self.consumer.processed,
                                         freq=self.interval_s)
        self._announce()
        if len(self.events):
            self.events.flush()

    # --- ControlTarget ------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Celery-shaped ``stats`` of this process: pid, pool, queues, tasks processed."""
        info = self._info()
        c: Any = self.consumer
        concurrency = self.worker.concurrency if self.worker is not None else 1
        concurrency = int(getattr(c, "concurrency", concurrency))  # after pool_grow/shrink
        limits = {t.name: t.options["rate_limit"] for t in self.app.tasks.values()
                  if t.options.get("rate_limit")}
        return {"pid": info["pid"], "hostname": self.consumer.hostname,
                "pool": {"implementation": info["pool"], "max-concurrency": concurrency},
                "queues": list(c.queues), "total": self.consumer.processed,
                "broker": {"transport": self.app.broker_url.partition("://")[0]},
                "sw_ident": "flowc",
                "prefetch_count": int(c.prefetch), "rate_limits": limits,
                "running": len(self.running), "reserved": len(c.pending),
                "registered": len(self.app.tasks)}

    def active(self) -> list[dict[str, Any]]:
        """Tasks running in this process now."""
        return [{"id": tid, "name": name, "args": short_repr(m.args),
                 "kwargs": short_repr(m.kwargs), "started": started, "queue": m.queue,
                 "worker": self.name}
                for tid, (name, m, started) in list(self.running.items())]

    def reserved(self) -> list[dict[str, Any]]:
        """Claimed messages waiting to start in this process (the prefetched batch)."""
        out = []
        for d in list(self.consumer.pending):
            task_id, name = self._identify(d)
            out.append({"id": task_id, "name": name, "stream": d.source.decode(errors="replace"),
                        "entry": d.entry_id.decode(), "worker": self.name})
        return out

    def set_rate_limit(self, task: str, rate: str | None) -> str:
        """Change ``task``'s rate limit for this process (the limit itself is cluster-wide)."""
        from flowc.runtime.options import parse_rate_limit

        parse_rate_limit(rate)  # raises with a hint on a bad value
        found = self.app.tasks[task]
        found.options["rate_limit"] = rate
        limiter = getattr(self.consumer, "_rate_limiter", None)
        if limiter is not None:
            limiter._limits.pop(found.name, None)
        return f"rate limit of {found.name} set to {rate or 'none'}"

    def shutdown(self) -> str:
        """Warm shutdown: SIGTERM to the worker (the prefork supervisor, when a pool child)."""
        if self.index is not None:
            os.kill(os.getppid(), signal.SIGTERM)
            return "warm shutdown of the pool requested"
        if self.worker is not None:
            os.kill(os.getpid(), signal.SIGTERM)
        else:
            self.consumer.stop()
        return "warm shutdown requested"

    def pool_resize(self, delta: int) -> int:
        """Change the number of concurrent tasks of a threads or asyncio pool."""
        c: Any = self.consumer
        if not hasattr(c, "concurrency"):
            pool = "prefork" if self.index is not None else "solo"
            raise NotImplementedError(
                f"the {pool} pool cannot be resized by a control command (restart the worker "
                "with another -c)")
        with c.idle:
            c.concurrency = max(1, c.concurrency + delta)
            for executor in (getattr(c, "executor", None), getattr(c, "sync_pool", None)):
                if executor is not None and executor._max_workers < c.concurrency:
                    executor._max_workers = c.concurrency
            c.idle.notify_all()
        return int(c.concurrency)

    def revoke(self, ids: Sequence[str], terminate: bool) -> list[str]:
        """Add ``ids`` to this process's revoked cache now; return those it is running."""
        self.consumer.revoked.ids.update(ids)
        return [i for i in ids if i in self.running]

    def add_consumer(self, queue: str) -> str:
        """Consume ``queue`` too, from the next claim on (the heartbeat advertises it)."""
        c = self.consumer
        if queue in c.queues:
            return f"already consuming from {queue}"
        self.app.broker.declare([queue])
        c.queues = [*c.queues, queue]  # a new list: the consumer thread reads it whole
        c.idle_ids = None
        self.queues = list(c.queues)
        return f"now consuming from {queue}"

    def cancel_consumer(self, queue: str) -> str:
        """Stop claiming from ``queue``; messages already claimed still run."""
        c = self.consumer
        if queue not in c.queues:
            raise ValueError(f"not consuming from {queue!r}; consuming from "
                             f"{', '.join(c.queues)}")
        if len(c.queues) == 1:
            raise ValueError(f"{queue!r} is this worker's only queue: add another first, or "
                             "shut the worker down")
        c.queues = [q for q in c.queues if q != queue]
        c.idle_ids = None
        self.queues = list(c.queues)
        return f"no longer consuming from {queue}"


def attach(consumer: Consumer, worker: Worker | None = None,
           index: int | None = None) -> WorkerMonitor:
    """Install a monitor as ``consumer``'s hooks and start its control listener (and events,
    if enabled); a consumer already monitored keeps its monitor."""
    if isinstance(consumer.hooks, WorkerMonitor):
        return consumer.hooks
    monitor = WorkerMonitor(consumer, worker, index)
    consumer.hooks = consumer.settler.hooks = monitor
    return monitor.start()

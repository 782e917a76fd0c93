"""Task, worker and workflow events on a capped Redis stream (Celery's ``-E``; the dashboard feed).

Events are off unless ``worker_send_task_events`` (workers, ``flowc worker -E``) or
``task_send_sent_event`` (producers) is on. A sender buffers events in memory and writes them
with ``flush()``: **one stream entry per flush**, its field ``e`` holding a JSON list of events,
so a worker draining thousands of tasks a second adds one XADD per settled batch, not three per
task. ``flush(pipe)`` queues that XADD on a pipeline the caller is about to execute anyway.

The common case, a task received, started and succeeded between two flushes, is written as one
**compact task record** instead of three event objects (see ``task_done``): a JSON list tagged
``"t"`` holding the three events' fields without their keys, the hostname once per entry (field
``h``). Building and encoding one list per task instead of three dicts is what keeps events
cheap on the worker's hot path (``benchmarks/events_cost.py``). Readers never see it:
``events_read.decode_entry`` expands each record back into the ``task-received``,
``task-started`` and ``task-succeeded`` events it stands for, and orders an entry's events by
time.

The stream is capped with ``XADD MAXLEN ~ flowc_events_maxlen`` (entries, i.e. batches). Every
event is a flat dict with ``type``, ``ts`` (unix seconds), ``hostname`` and, for task events,
``uuid`` (the task id). Argument and result reprs are cut at ``REPR_MAX`` characters.

Event types: ``task-sent``, ``task-received``, ``task-started``, ``task-succeeded``,
``task-failed``, ``task-retried``, ``task-revoked``, ``task-rejected``; ``worker-online``,
``worker-heartbeat``, ``worker-offline``; ``workflow-submitted``, ``workflow-finished``.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any, TypeAlias

import orjson

if TYPE_CHECKING:
    from flowc.runtime.app import App
    from flowc.runtime.message import Message

EVENT_FIELD = b"e"
"""The stream entry field holding the JSON list of events."""
HOST_FIELD = b"h"
"""The stream entry field naming the sender, for the compact task records of the entry."""
COMPACT_TASK = "t"
"""First item of a compact task record (``EventSender.task_done``)."""
REPR_MAX = 1024
"""Longest ``args``/``kwargs``/``result`` repr carried by an event (Celery cuts them too)."""
TRACEBACK_MAX = 16_384
AUTO_FLUSH_EVENTS = 1024
"""A buffer this long (events, or compact task records) is written at once, even if nobody
called ``flush``."""

TASK_EVENTS = ("task-sent", "task-received", "task-started", "task-succeeded", "task-failed",
               "task-retried", "task-revoked", "task-rejected")
WORKER_EVENTS = ("worker-online", "worker-heartbeat", "worker-offline")
WORKFLOW_EVENTS = ("workflow-submitted", "workflow-finished")
EVENT_TYPES = TASK_EVENTS + WORKER_EVENTS + WORKFLOW_EVENTS


def short_repr(value: Any, limit: int = REPR_MAX) -> str:
    """``repr(value)`` cut to ``limit`` characters (never raises)."""
    try:
        text = repr(value)
    except Exception as e:  # a user object with a broken __repr__
        text = f"<unrepresentable {type(value).__name__}: {e}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def events_enabled(app: App) -> bool:
    """Whether workers of ``app`` send task and worker events."""
    return bool(app.conf.worker_send_task_events)


Received: TypeAlias = tuple["Message", float, str, str]
"""What a worker notes when a task is received: the message, when, and its argument reprs
(taken then, so a task that mutates its arguments does not change what the event says)."""


def received_note(message: Message) -> Received:
    """The note ``task_received`` and ``task_done`` turn into a task-received event."""
    args, kwargs = message.args, message.kwargs
    return (message, time.time(), short_repr(args) if args else repr(args),
            short_repr(kwargs) if kwargs else repr(kwargs))


class EventSender:
    """Buffers events and writes them as one capped-stream entry per ``flush``.

    Thread-safe: the thread and asyncio pools settle from several threads, and heartbeat
    events come from a background thread.
    """

    def __init__(self, app: App, hostname: str, enabled: bool = True) -> None:
        self.app = app
        self.hostname = hostname
        self.enabled = enabled
        self.maxlen = max(1, int(app.conf.flowc_events_maxlen))
        self.host = hostname.encode()
        self.buffer: deque[dict[str, Any] | list[Any]] = deque()
        """Events, and compact task records (lists, see ``task_done``). Appends and pops of a
        deque are thread-safe: no lock on the per-task path."""

    def __len__(self) -> int:
        return len(self.buffer)

    # --- the two primitives -------------------------------------------------------------------

    def send(self, type_: str, **fields: Any) -> None:
        """Buffer one event (a no-op when disabled); ``ts`` defaults to now."""
        if not self.enabled:
            return
        fields["type"] = type_
        if "ts" not in fields:
            fields["ts"] = time.time()
        fields.setdefault("hostname", self.hostname)
        self.buffer.append(fields)
        if len(self.buffer) >= AUTO_FLUSH_EVENTS:
            self.flush()

    def flush(self, pipe: Any = None) -> None:
        """Write the buffered events as one entry; with ``pipe``, only queue the XADD on it."""
        buffer = self.buffer
        if not buffer:
            return
        batch = [buffer.popleft() for _ in range(len(buffer))]
        self.app.coordination.add_events(orjson.dumps(batch, default=str), self.host,
                                         self.maxlen, pipe)

    # --- task events --------------------------------------------------------------------------

    def task_sent(self, message: Message) -> None:
        """A producer published ``message`` (``task_send_sent_event``)."""
        self.send("task-sent", uuid=message.id, name=message.task, queue=message.queue,
                  priority=message.priority, eta=message.eta, expires=message.expires,
                  retries=message.retries, root_id=message.root_id,
                  parent_id=message.parent_id, args=short_repr(message.args),
                  kwargs=short_repr(message.kwargs), **_workflow_fields(message))

    def task_received(self, note: Received) -> None:
        """A worker claimed a message and will run it, as ``received_note`` noted it (fields
        that are unset are left out)."""
        if self.enabled:
            fields = _received_fields(note[0], note[2], note[3])
            self.send("task-received", ts=note[1], **fields)

    def task_started(self, task_id: str, ts: float | None = None) -> None:
        """The task's function is about to be called (or was, at ``ts``)."""
        self.send("task-started", uuid=task_id, pid=_PID.value, ts=ts or time.time())

    def task_done(self, note: Received, started_at: float, result: Any,
                  runtime_s: float) -> None:
        """The task returned ``result``: its received, started and succeeded events, buffered
        as one compact record, packed now so the message and result are not kept alive:

        ``["t", uuid, name, queue, priority, retries, args, kwargs, eta, expires, root_id,
        parent_id, workflow_id, node, received at, started at, pid, result, runtime]``, unset
        optional fields as null (positions, not keys: cheap to build and to encode;
        ``events_read.decode_entry`` expands it). The task-succeeded time is started at +
        runtime: no flush came in between (it would have written the received and started
        events on their own), and a clock read costs as much as a fifth of the rest. Built
        inline: this runs once per task on the worker's hot path."""
        if not self.enabled:
            return
        message, received_at, args, kwargs = note
        wf = message.workflow
        buffer = self.buffer
        buffer.append([
            COMPACT_TASK, message.id, message.task, message.queue, message.priority,
            message.retries, args, kwargs, message.eta, message.expires, message.root_id,
            message.parent_id, wf.get("id") if wf else None, wf.get("node") if wf else None,
            received_at, started_at, _PID.value,
            "None" if result is None else short_repr(result), runtime_s])
        if len(buffer) >= AUTO_FLUSH_EVENTS:
            self.flush()

    def task_succeeded(self, message: Message, result: Any, runtime_s: float) -> None:
        """The task returned ``result``."""
        self.send("task-succeeded", uuid=message.id, result=short_repr(result),
                  runtime=runtime_s)

    def task_failed(self, message: Message, exc: BaseException | None, traceback: str | None,
                    runtime_s: float) -> None:
        """The task raised ``exc``."""
        self.send("task-failed", uuid=message.id, exception=short_repr(exc),
                  traceback=(traceback or "")[-TRACEBACK_MAX:], runtime=runtime_s)

    def task_retried(self, message: Message, exc: BaseException | None, eta: float | None,
                     traceback: str | None = None) -> None:
        """The task asked to be retried (the next attempt is already published)."""
        self.send("task-retried", uuid=message.id, exception=short_repr(exc), eta=eta,
                  retries=message.retries + 1, traceback=(traceback or "")[-TRACEBACK_MAX:])

    def task_revoked(self, task_id: str, name: str | None, reason: str,
                     terminated: bool = False) -> None:
        """The task was not run, or was killed: revoked, expired or terminated."""
        self.send("task-revoked", uuid=task_id, name=name, reason=reason,
                  expired=reason == "expired", terminated=terminated)

    def task_rejected(self, task_id: str | None, name: str | None, reason: str,
                      requeue: bool = False) -> None:
        """The message was rejected: dead-lettered with ``reason``, or requeued."""
        self.send("task-rejected", uuid=task_id, name=name, reason=reason, requeue=requeue)

    # --- worker and workflow events ----------------------------------------------------------

    def worker_online(self, **info: Any) -> None:
        """The worker process started consuming."""
        self.send("worker-online", **info)

    def worker_heartbeat(self, active: int, processed: int, **info: Any) -> None:
        """Periodic liveness with load (1-minute load average), active and processed counts."""
        self.send("worker-heartbeat", active=active, processed=processed,
                  loadavg=_loadavg(), **info)

    def worker_offline(self, **info: Any) -> None:
        """The worker process stopped consuming (warm shutdown done)."""
        self.send("worker-offline", **info)

    def workflow_submitted(self, workflow_id: str, name: str | None, nodes: int) -> None:
        """A workflow run was stored and its roots enqueued."""
        self.send("workflow-submitted", workflow_id=workflow_id, name=name, nodes=nodes)

    def workflow_finished(self, workflow_id: str, status: str) -> None:
        """A workflow run reached SUCCESS, FAILURE or REVOKED."""
        self.send("workflow-finished", workflow_id=workflow_id, status=status)


class _Pid:
    """``os.getpid()`` cached per process (refreshed after fork via ``os.register_at_fork``)."""

    def __init__(self) -> None:
        import os

        self.value = os.getpid()
        os.register_at_fork(after_in_child=self._refresh)

    def _refresh(self) -> None:
        import os

        self.value = os.getpid()


_PID = _Pid()


def _loadavg() -> float | None:
    import os

    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _workflow_fields(message: Message) -> dict[str, Any]:
    wf = message.workflow
    if not wf:
        return {}
    return {"workflow_id": wf.get("id"), "node": wf.get("node")}


def _received_fields(message: Message, args: str, kwargs: str) -> dict[str, Any]:
    """The fields of a task-received event that come from the message."""
    fields: dict[str, Any] = {"uuid": message.id, "name": message.task, "queue": message.queue,
                              "priority": message.priority, "retries": message.retries,
                              "args": args, "kwargs": kwargs}
    fields.update(_optional_fields(message))
    return fields


def _optional_fields(message: Message) -> dict[str, Any]:
    """eta, expires, root and parent ids and the workflow node, those that are set."""
    out: dict[str, Any] = {}
    for name in ("eta", "expires", "root_id", "parent_id"):
        value = getattr(message, name)
        if value is not None:
            out[name] = value
    if message.workflow:
        out.update(_workflow_fields(message))
    return out


def producer_sender(app: App) -> EventSender:
    """A sender for a producer process (``task-sent``, ``workflow-submitted``)."""
    import socket

    return EventSender(app, f"producer@{socket.gethostname()}",
                       enabled=bool(app.conf.task_send_sent_event))


def format_event(event: dict[str, Any]) -> str:
    """One log line: time, type, ``task[id]`` (or the workflow id), other fields, @hostname."""
    import datetime as dt

    ts = dt.datetime.fromtimestamp(float(event.get("ts", 0))).strftime("%H:%M:%S.%f")[:-3]
    kind = str(event.get("type", "?"))
    who = f"{event.get('name') or ''}[{event['uuid']}]" if event.get("uuid") else \
        str(event.get("workflow_id") or "")
    rest = " ".join(f"{k}={_short_field(v)}" for k, v in event.items()
                    if k not in _LINE_SKIP and v not in (None, "", [], {}))
    return f"[{ts}] {kind:<18} {who} {rest} @{event.get('hostname', '')}".rstrip()


_LINE_SKIP = frozenset({"type", "ts", "hostname", "uuid", "name", "traceback"})


def _short_field(value: Any, limit: int = 120) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"

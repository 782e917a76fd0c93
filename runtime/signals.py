"""Celery's signals with Celery's names, senders and keyword arguments (``flowc.signals``).

``Signal.connect`` (also as ``@sig.connect`` / ``@sig.connect(sender=...)``) keeps a weak
reference to the receiver unless ``weak=False``, like Celery's ``dispatch.Signal``. A receiver
is called as ``receiver(signal=sig, sender=sender, **kwargs)``; one that raises is logged and
the others still run. Sending a signal nobody listens to costs one attribute test: callers on
hot paths check ``sig.receivers`` before building the arguments.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("flowc.signals")

_NONE_ID = id(None)

TASK_SIGNALS_LIVE = False
"""Whether any of the signals sent around each task run has a receiver: the worker tests this
one flag per task instead of each signal (kept up to date by connect/disconnect)."""


def _make_id(target: Any) -> Any:
    """Identity of a receiver or sender: strings by value, bound methods by (self, function)."""
    if hasattr(target, "_get_current_object"):
        target = target._get_current_object()
    if isinstance(target, str | bytes):
        return target
    if hasattr(target, "__func__"):
        return (id(target.__self__), id(target.__func__))
    return id(target)


class Signal:
    """A named signal receivers connect to; ``send`` calls the live ones."""

    def __init__(self, name: str | None = None, providing_args: Any = None,
                 per_task: bool = False) -> None:
        self.name = name
        self.receivers: list[tuple[tuple[Any, Any], Any]] = []
        """(receiver key, sender key) and the receiver or a weak reference to it."""
        self.per_task = per_task
        """Sent around every task run: its receivers count in ``TASK_SIGNALS_LIVE``."""
        self._lock = threading.Lock()

    def _changed(self) -> None:
        if self.per_task:
            global TASK_SIGNALS_LIVE
            TASK_SIGNALS_LIVE = any(s.receivers for s in _PER_TASK)

    def __repr__(self) -> str:
        return f"<Signal: {self.name}>"

    def connect(self, *args: Any, sender: Any = None, weak: bool = True,
                dispatch_uid: Any = None) -> Any:
        """Connect a receiver: ``sig.connect(fn)``, ``@sig.connect``, ``@sig.connect(sender=x)``."""

        def connect_one(receiver: Callable[..., Any]) -> Callable[..., Any]:
            key = (dispatch_uid if dispatch_uid is not None else _make_id(receiver),
                   _make_id(sender))
            ref: Any = receiver
            if weak:
                ref = (weakref.WeakMethod(receiver, self._dead)
                       if hasattr(receiver, "__func__") else weakref.ref(receiver, self._dead))
            with self._lock:
                if all(k != key for k, _ in self.receivers):
                    self.receivers = [*self.receivers, (key, ref)]
            self._changed()
            return receiver

        if args and callable(args[0]):
            return connect_one(args[0])
        return connect_one

    def disconnect(self, receiver: Any = None, sender: Any = None, weak: bool = True,
                   dispatch_uid: Any = None) -> bool:
        """Disconnect a receiver (by itself or its ``dispatch_uid``); True if it was connected."""
        key = (dispatch_uid if dispatch_uid is not None else _make_id(receiver), _make_id(sender))
        with self._lock:
            kept = [(k, r) for k, r in self.receivers if k != key]
            found = len(kept) != len(self.receivers)
            self.receivers = kept
        self._changed()
        return found

    def _dead(self, ref: Any) -> None:
        with self._lock:
            self.receivers = [(k, r) for k, r in self.receivers if r is not ref]
        self._changed()

    def _live(self, sender: Any) -> list[Callable[..., Any]]:
        sender_id = _make_id(sender)
        live = []
        for (_, r_sender), ref in self.receivers:
            if r_sender in (_NONE_ID, sender_id):
                receiver = ref() if isinstance(ref, weakref.ref) else ref
                if receiver is not None:
                    live.append(receiver)
        return live

    def send(self, sender: Any, **named: Any) -> list[tuple[Callable[..., Any], Any]]:
        """Call every live receiver for ``sender``; returns [(receiver, response), ...]."""
        if not self.receivers:
            return []
        responses = []
        for receiver in self._live(sender):
            try:
                responses.append((receiver, receiver(signal=self, sender=sender, **named)))
            except Exception as exc:
                logger.exception("Signal handler %r raised: %r", receiver, exc)
        return responses

    send_robust = send


# --- tasks (sent in the process that runs the task) --------------------------------------------
before_task_publish = Signal("before_task_publish")
"""sender=task name; body, exchange, routing_key, headers (mutable), properties, declare,
retry_policy. Sent by the producer before a message is written."""
after_task_publish = Signal("after_task_publish")
"""sender=task name; body, exchange, routing_key, headers. Sent after the write."""
task_received = Signal("task_received")
"""sender=the consumer; request. A worker accepted a message and will run it."""
task_prerun = Signal("task_prerun", per_task=True)
"""sender=task; task_id, task, args, kwargs."""
task_postrun = Signal("task_postrun", per_task=True)
"""sender=task; task_id, task, args, kwargs, retval, state."""
task_success = Signal("task_success", per_task=True)
"""sender=task; result."""
task_failure = Signal("task_failure", per_task=True)
"""sender=task; task_id, exception, args, kwargs, traceback, einfo."""
task_retry = Signal("task_retry", per_task=True)
"""sender=task; request, reason, einfo."""
task_revoked = Signal("task_revoked")
"""sender=task; request, terminated, signum, expired."""
task_unknown = Signal("task_unknown")
"""sender=the consumer; name, id, message, exc."""

_PER_TASK = (task_prerun, task_postrun, task_success, task_failure, task_retry)

# --- workers and beat ----------------------------------------------------------------------
worker_init = Signal("worker_init")
"""sender=the worker; before it starts consuming."""
worker_ready = Signal("worker_ready")
"""sender=the worker; it consumes and is registered."""
worker_shutdown = Signal("worker_shutdown")
"""sender=the worker; it has stopped."""
worker_process_init = Signal("worker_process_init")
"""sender=None; in each prefork child after it starts."""
beat_init = Signal("beat_init")
"""sender=the beat service; when beat starts."""
setup_logging = Signal("setup_logging")
"""loglevel, logfile, format, colorize. When connected, flowc leaves logging to the receiver."""


__all__ = [
    "Signal",
    "after_task_publish",
    "beat_init",
    "before_task_publish",
    "setup_logging",
    "task_failure",
    "task_postrun",
    "task_prerun",
    "task_received",
    "task_retry",
    "task_revoked",
    "task_success",
    "task_unknown",
    "worker_init",
    "worker_process_init",
    "worker_ready",
    "worker_shutdown",
]

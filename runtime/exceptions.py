"""The runtime's exceptions; ``flowc.exceptions`` re-exports them with Celery's names.

Each class says when it is raised. Errors that carry a fix put it in ``hint`` so the message a
user sees says what to do, not only what went wrong.
"""

from __future__ import annotations

from typing import Any

from flowc.dsl.errors import FlowcError


class FlowcRuntimeError(FlowcError):
    """Base of runtime errors; ``hint`` (optional) is appended to the message."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.hint = hint
        super().__init__(f"{message}; {hint}" if hint else message)


class ImproperlyConfigured(FlowcRuntimeError):
    """Raised when a setting is unknown, misspelt, or has a value of the wrong shape."""


class SerializationError(FlowcRuntimeError):
    """Raised at call time when arguments or a result cannot be encoded by the serializer."""


class ContentDisallowed(FlowcRuntimeError):
    """Raised when a message's content type is not in ``accept_content``."""


class NotRegistered(FlowcRuntimeError, KeyError):
    """Raised when a task name is not in the app's registry."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "task not registered"


class InvalidTaskOptions(FlowcRuntimeError, ValueError):
    """Raised when ``@app.task`` or ``apply_async`` receives an invalid option value."""


class TimeoutError(FlowcRuntimeError):
    """Raised by ``AsyncResult.get(timeout=...)`` when no result arrived in time."""


class TaskError(FlowcRuntimeError):
    """Stands in for a task's exception whose type cannot be imported where ``get()`` runs."""

    def __init__(self, exc_type: str, message: str) -> None:
        self.exc_type = exc_type
        super().__init__(f"{exc_type}: {message}")


class TaskRevokedError(FlowcRuntimeError):
    """Raised by ``get()`` for a task that was revoked or expired before it ran."""


class ChordError(FlowcRuntimeError):
    """Raised by a chord's result when a header task failed: ``Dependency <id> raised <exc>``
    (Celery's message); the body never ran."""


class WorkerLostError(FlowcRuntimeError):
    """Recorded when the process running a task died before the task finished."""


class MessageTooLarge(FlowcRuntimeError, ValueError):
    """Raised at call time when an encoded message is over ``flowc_max_message_bytes``."""


class BrokerFull(FlowcRuntimeError):
    """Raised when Redis refuses a message because it reached ``maxmemory`` (policy
    ``noeviction``): nothing was queued."""


class BrokerUnavailable(FlowcRuntimeError):
    """Raised when Redis cannot be reached after the configured reconnect attempts."""


class ResultBackendUnavailable(FlowcRuntimeError):
    """Raised when the result backend's server (Memcached) cannot be reached, after one retry."""


class ResultTooLarge(FlowcRuntimeError, ValueError):
    """Raised by ``get()`` for a task whose encoded result was over the result backend's item
    limit (Memcached's ``item_size_max``, 1 MB by default): the worker stored this error in its
    place, so the caller learns why instead of waiting for ever."""


class WorkflowsUnsupported(FlowcRuntimeError):
    """Raised when a workflow (a chain, group, chord, map or ``.flow`` run) is submitted on a
    result backend that cannot hold workflow runs (Memcached): nothing was queued."""


# --- Control flow raised by task code (Celery's names) ----------------------------------------


class TaskPredicate(FlowcError):
    """Base of the exceptions that tell the worker how a task ended (Celery's name)."""


class Retry(TaskPredicate):
    """Raised by ``self.retry()``: the worker re-schedules the task instead of failing it."""

    def __init__(
        self,
        message: str | None = None,
        exc: BaseException | None = None,
        when: float | None = None,
    ) -> None:
        self.exc = exc
        self.when = when
        self.overrides: dict[str, Any] = {}
        """Arguments/options for the next attempt given to ``self.retry()``."""
        super().__init__(message or (f"Retry: {exc!r}" if exc else "Retry"))


class Reject(TaskPredicate):
    """Raised by a task to reject its message: dead-lettered with the reason, or requeued."""

    def __init__(self, reason: Any = None, requeue: bool = False) -> None:
        self.reason = reason
        self.requeue = requeue
        super().__init__(reason, requeue)


class Ignore(TaskPredicate):
    """Raised by a task to end without recording any result or state."""


class Replaced(Ignore):
    """Raised by ``self.replace(sig)`` in a worker: the task ends, its replacement runs."""


class MaxRetriesExceededError(FlowcError):
    """Raised by ``self.retry()`` when the task has no retries left and no ``exc`` was given;
    ``task_args``/``task_kwargs`` are the arguments of the attempt that gave up (Celery's)."""

    def __init__(self, *args: Any, task_args: Any = None, task_kwargs: Any = None) -> None:
        self.task_args = list(task_args or [])
        self.task_kwargs = dict(task_kwargs or {})
        super().__init__(*args)


class SoftTimeLimitExceeded(FlowcError):
    """Raised inside a task when its ``soft_time_limit`` expires, so it can clean up."""


class TimeLimitExceeded(FlowcError):
    """Recorded when a task exceeded its hard ``time_limit`` and was killed."""

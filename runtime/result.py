"""``AsyncResult`` and ``EagerResult``: handles on a task's outcome, Celery's API."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flowc.runtime import states
from flowc.runtime.current import get_current_app
from flowc.runtime.exceptions import TaskRevokedError, TimeoutError
from flowc.runtime.outcome import decode_record, exception_from_dict
from flowc.runtime.request import current_request

if TYPE_CHECKING:
    from flowc.runtime.app import App


E_WOULDBLOCK = (
    "Never call result.get() within a task! See "
    "https://docs.celeryq.dev/en/latest/userguide/tasks.html#avoid-launching-synchronous-subtasks"
)
_join_allowed: ContextVar[bool] = ContextVar("flowc_join_allowed", default=False)


def task_join_will_block() -> bool:
    """Whether waiting on a result here is refused: inside a task a worker runs (Celery's)."""
    request = current_request.get()
    return request is not None and not request.called_directly and not request.is_eager \
        and not _join_allowed.get()


def assert_will_not_block() -> None:
    """Raise RuntimeError inside a worker's task: waiting there for another task can deadlock
    the worker (every slot waiting on work no slot is free to run)."""
    if task_join_will_block():
        raise RuntimeError(E_WOULDBLOCK)


@contextlib.contextmanager
def allow_join_result() -> Iterator[None]:
    """Allow ``get()`` inside a task within this block (Celery's escape hatch)."""
    token = _join_allowed.set(True)
    try:
        yield
    finally:
        _join_allowed.reset(token)


@contextlib.contextmanager
def denied_join_result() -> Iterator[None]:
    """Refuse ``get()`` inside a task within this block, even under ``allow_join_result``."""
    token = _join_allowed.set(False)
    try:
        yield
    finally:
        _join_allowed.reset(token)


class AsyncResult:
    """The outcome of a task by id; reads from the result backend, waits by blocking on it."""

    ignored = False
    """Set when the call ignored its result: ``get()`` returns None at once (Celery's)."""

    def __init__(self, id: str, app: App | None = None, task_name: str | None = None,
                 parent: Any = None) -> None:
        if app is None:
            app = get_current_app()
        self.id = id
        self.app = app
        self.task_name = task_name
        self.parent = parent
        self.children: list[AsyncResult] = []
        self._record: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"<AsyncResult: {self.id}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AsyncResult) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def task_id(self) -> str:
        """Celery's alias of ``id``."""
        return self.id

    def _load(self) -> dict[str, Any]:
        if self._record is not None:
            return self._record
        record, state = self.app.backend.get(self.id)
        accept = self.app.conf.result_accepted()
        if record is not None:
            self._record = decode_record(record, accept)
            return self._record
        if state is not None:
            return decode_record(state, accept)
        return {"status": states.PENDING, "result": None}

    @property
    def state(self) -> str:
        """PENDING, RECEIVED, STARTED, RETRY, SUCCESS, FAILURE or REVOKED."""
        return str(self._load()["status"])

    status = state

    @property
    def result(self) -> Any:
        """The return value, or the exception instance when the task failed."""
        record = self._load()
        if record["status"] in states.EXCEPTION_STATES:
            return exception_from_dict(record.get("result"), None)
        return record.get("result")

    info = result

    @property
    def traceback(self) -> str | None:
        """The remote traceback text of a failed task."""
        return self._load().get("traceback")

    @property
    def date_done(self) -> datetime | None:
        """When the task reached a ready state (UTC)."""
        done = self._load().get("date_done")
        return datetime.fromisoformat(done) if done else None

    @property
    def name(self) -> str | None:
        """The task name, when known (always for results of this process's calls)."""
        return self.task_name or self._load().get("name")

    def ready(self) -> bool:
        """True once the task succeeded, failed or was revoked."""
        return self.state in states.READY_STATES

    def successful(self) -> bool:
        """True if the task succeeded."""
        return self.state == states.SUCCESS

    def failed(self) -> bool:
        """True if the task failed."""
        return self.state == states.FAILURE

    def get(self, timeout: float | None = None, propagate: bool = True,
            interval: float = 0.5, disable_sync_subtasks: bool = True,
            follow_parents: bool = True, on_message: Any = None, **_: Any) -> Any:
        """Wait for the outcome (blocking on Redis, no polling) and return it.

        A failed task's exception is re-raised as its own type with the remote traceback in its
        notes (``propagate=False`` returns it instead). With ``follow_parents`` (Celery's
        default), a failure of a parent (``.parent``, its parent...) is raised first, the
        earliest one: a chord whose header failed raises the header task's exception, its own
        stored result being a ``ChordError``. ``interval`` is how often states are read for
        ``on_message`` (called with each new state's meta dict, as Celery's); without it
        waiting is push-based. A call that ignored its result returns None at once. Inside a
        task a worker runs it raises RuntimeError (Celery's rule; see ``allow_join_result``)
        unless ``disable_sync_subtasks=False``.
        """
        if self.ignored:
            return None
        if disable_sync_subtasks:
            assert_will_not_block()
        if on_message is not None and self._record is None:
            self._watch(on_message, timeout, interval)
        if self._record is None:
            raw = self.app.backend.wait(self.id, timeout)
            if raw is None:
                raise TimeoutError(f"result of task {self.id} not ready after {timeout} s",
                                   hint="pass a larger timeout, or check a worker consumes "
                                   "the task's queue (flowc status)")
            self._record = decode_record(raw, self.app.conf.result_accepted())
        if propagate and follow_parents and self.parent is not None \
                and self._record.get("status") != states.SUCCESS:
            self._maybe_reraise_parent_error()
        return self._outcome(propagate)

    def _maybe_reraise_parent_error(self) -> None:
        """Raise the failure of the earliest failed ancestor, if any (Celery)."""
        parents: list[Any] = []
        node = self.parent
        while node is not None and len(parents) < 10_000:
            parents.append(node)
            node = getattr(node, "parent", None)
        for parent in reversed(parents):
            parent.maybe_throw()

    def maybe_throw(self, propagate: bool = True, callback: Any = None) -> None:
        """Raise this task's exception if it failed or was revoked (does not wait)."""
        record = self._load()
        if record.get("status") in (states.FAILURE, states.REVOKED):
            self._record = record
            value = self._outcome(propagate)
            if callback is not None:
                callback(self.id, value)

    maybe_reraise = maybe_throw

    wait = get

    def _watch(self, on_message: Any, timeout: float | None, interval: float) -> None:
        """Call ``on_message`` with each state update until the outcome is stored: every
        update published while subscribed (Celery's Redis backend), else each one polled."""
        deadline = None if timeout is None else time.monotonic() + timeout
        accept = self.app.conf.result_accepted()
        watch = getattr(self.app.backend, "watch", None)
        updates = watch(self.id) if watch is not None else None
        seen: Any = None

        def report(raw: bytes) -> None:
            meta = decode_record(raw, accept)
            meta.setdefault("task_id", self.id)
            meta.setdefault("children", [])
            on_message(meta)

        try:
            while True:
                record, state = self.app.backend.get(self.id)
                if record is None and state is not None and state != seen:
                    seen = state
                    report(state)
                if record is not None:
                    self._record = decode_record(record, accept)
                    report(record)
                    return
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return
                wait = min(max(interval, 0.01), 0.5) if left is None else \
                    min(max(interval, 0.01), 0.5, left)
                if updates is None:
                    self.app.backend.wait(self.id, wait)
                    continue
                # short slices: the outcome itself is not published, it is read each slice
                message = updates.get_message(timeout=min(wait, 0.1))
                while message is not None:
                    data = message.get("data")
                    if isinstance(data, bytes) and data != seen:
                        seen = data
                        report(data)
                    message = updates.get_message(timeout=0)
        finally:
            if updates is not None:
                updates.close()

    def _outcome(self, propagate: bool) -> Any:
        record = self._record or {}
        status = record.get("status")
        if status == states.SUCCESS:
            return record.get("result")
        exc = exception_from_dict(record.get("result"), record.get("traceback"))
        if status == states.REVOKED and not isinstance(exc, TaskRevokedError):
            exc = TaskRevokedError(str(exc))
        if propagate:
            raise exc
        return exc

    def forget(self) -> None:
        """Delete the stored result and state."""
        self._record = None
        self.app.backend.forget(self.id)

    def revoke(self, terminate: bool = False, signal: str = "SIGTERM") -> None:
        """Revoke the task (it will not run; running ones are killed with ``terminate``)."""
        self.app.control.revoke(self.id, terminate=terminate, signal=signal)

    def as_tuple(self) -> tuple[str, None]:
        """Celery-compatible serialisable form."""
        return (self.id, None)


class EagerResult(AsyncResult):
    """The outcome of a task run in-process (``apply()``, ``task_always_eager``)."""

    def __init__(self, id: str, app: App, task_name: str, record: dict[str, Any],
                 exc: BaseException | None = None) -> None:
        super().__init__(id, app, task_name)
        self._record = record
        self._exc = exc

    def _load(self) -> dict[str, Any]:
        return self._record or {}

    @property
    def result(self) -> Any:
        """The return value, or the exception instance."""
        return self._exc if self._exc is not None else self._load().get("result")

    info = result

    def get(self, timeout: float | None = None, propagate: bool = True,
            interval: float = 0.5, disable_sync_subtasks: bool = True,
            follow_parents: bool = True, on_message: Any = None, **_: Any) -> Any:
        """Return the value, or raise the task's own exception object."""
        if self._exc is not None:
            if propagate:
                raise self._exc
            return self._exc
        return self._load().get("result")

    wait = get

    def forget(self) -> None:
        """Nothing is stored for eager results."""

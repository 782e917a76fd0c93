"""``ResultSet`` and ``GroupResult`` (Celery's API), and result handles by shape.

A ``ResultSet`` is a mutable list of results waited on together; a ``GroupResult`` is the
ordered results of a group, with an id, and can be saved to the result backend and restored by
that id (``save()`` / ``GroupResult.restore(id)``), as in Celery.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from flowc.runtime import states
from flowc.runtime.current import get_current_app
from flowc.runtime.exceptions import TimeoutError
from flowc.runtime.outcome import decode_record, encode_record
from flowc.runtime.result import AsyncResult, assert_will_not_block

if TYPE_CHECKING:
    from flowc.runtime.app import App

ResultLike = Any
"""An ``AsyncResult`` or a ``GroupResult`` (groups nest)."""

GROUP_META_PREFIX = "group-meta:"
"""``save()`` stores a group under the result id ``group-meta:<group id>`` (Celery keeps its
saved groups apart from task results the same way, as ``celery-taskset-meta-<id>``)."""


class ResultSet:
    """Several results handled as one: wait for all, count, revoke (Celery's ``ResultSet``)."""

    def __init__(self, results: Iterable[ResultLike], app: App | None = None,
                 **_: Any) -> None:
        self.results: list[ResultLike] = list(results)
        self._app = app

    @property
    def app(self) -> App | None:
        """The app of this set (else of its first member)."""
        if self._app is not None:
            return self._app
        return next((r.app for r in self.results if getattr(r, "app", None)), None)

    @app.setter
    def app(self, value: App | None) -> None:
        self._app = value

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: [{', '.join(str(r.id) for r in self.results)}]>"

    def __iter__(self) -> Iterator[ResultLike]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, index: int) -> ResultLike:
        return self.results[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ResultSet):
            return other.results == self.results
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    # -- membership ---------------------------------------------------------------------------
    def add(self, result: ResultLike) -> None:
        """Add ``result`` unless it is already a member."""
        if result not in self.results:
            self.results.append(result)

    def update(self, results: Iterable[ResultLike]) -> None:
        """Add every result not already a member."""
        for result in results:
            self.add(result)

    def remove(self, result: ResultLike | str) -> None:
        """Remove a member (a result or its task id); ``KeyError`` if it is not one."""
        if isinstance(result, str):
            result = next((r for r in self.results if r.id == result), result)
        try:
            self.results.remove(result)
        except ValueError:
            raise KeyError(result) from None

    def discard(self, result: ResultLike | str) -> None:
        """Remove a member if present."""
        with contextlib.suppress(KeyError):
            self.remove(result)

    def clear(self) -> None:
        """Remove every member."""
        self.results.clear()

    # -- state -----------------------------------------------------------------------------------
    def completed_count(self) -> int:
        """How many members succeeded."""
        return sum(1 for r in self.results if r.successful())

    def ready(self) -> bool:
        """True when every member is ready."""
        return all(r.ready() for r in self.results)

    def successful(self) -> bool:
        """True when every member succeeded."""
        return all(r.successful() for r in self.results)

    def failed(self) -> bool:
        """True when any member failed."""
        return any(r.failed() for r in self.results)

    def waiting(self) -> bool:
        """True while any member is not ready."""
        return any(not r.ready() for r in self.results)

    def maybe_throw(self, callback: Callable[..., Any] | None = None,
                    propagate: bool = True) -> None:
        """Raise the exception of the first failed member (Celery's ``maybe_throw``)."""
        for r in self.results:
            if r.ready() and not r.successful():
                value = r.get(propagate=propagate, disable_sync_subtasks=False)
                if callback is not None:
                    callback(r.id, value)

    maybe_reraise = maybe_throw

    @property
    def state(self) -> str:
        """SUCCESS when all succeeded, FAILURE if any failed, else PENDING."""
        if self.failed():
            return states.FAILURE
        return states.SUCCESS if self.successful() else states.PENDING

    # -- waiting -------------------------------------------------------------------------------
    def join(self, timeout: float | None = None, propagate: bool = True,
             interval: float = 0.5, callback: Callable[[str, Any], Any] | None = None,
             no_ack: bool = True, on_message: Any = None, disable_sync_subtasks: bool = True,
             on_interval: Any = None) -> list[Any]:
        """Every member's value, in order; ``timeout`` bounds the whole wait. Each wait blocks
        on Redis (``interval`` is accepted and unused). With ``callback``, it is called as
        ``callback(task_id, value)`` per member and the list returned is empty (Celery)."""
        if disable_sync_subtasks:
            assert_will_not_block()
        deadline = None if timeout is None else time.monotonic() + timeout
        values: list[Any] = []
        for r in self.results:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if left == 0.0 and not r.ready():
                raise TimeoutError(f"{self!r} not ready after {timeout} s")
            value = r.get(timeout=left, propagate=propagate, disable_sync_subtasks=False)
            if callback is not None:
                callback(r.id, value)
            else:
                values.append(value)
        return values

    join_native = join

    def get(self, timeout: float | None = None, propagate: bool = True,
            interval: float = 0.5, callback: Callable[[str, Any], Any] | None = None,
            **kwargs: Any) -> list[Any]:
        """``join()``."""
        return self.join(timeout=timeout, propagate=propagate, callback=callback,
                         disable_sync_subtasks=kwargs.get("disable_sync_subtasks", True))

    def iter_native(self, timeout: float | None = None, **_: Any) -> Iterator[tuple[str, Any]]:
        """``(task id, value)`` per member, in order, as each becomes ready."""
        for r in self.results:
            yield r.id, r.get(timeout=timeout, propagate=False)

    @property
    def supports_native_join(self) -> bool:
        """Always true: every wait blocks on the backend."""
        return True

    # -- acting ---------------------------------------------------------------------------------
    def revoke(self, connection: Any = None, terminate: bool = False,
               signal: str = "SIGTERM", wait: bool = False, timeout: float | None = None) -> None:
        """Revoke every member."""
        for r in self.results:
            r.revoke(terminate=terminate, signal=signal)

    def forget(self) -> None:
        """Forget every member's result."""
        for r in self.results:
            r.forget()


class GroupResult(ResultSet):
    """Results of a group's members, in the order the group listed them; ``id`` is the group
    id (``group.freeze().id``)."""

    def __init__(self, id: str | None = None, results: Iterable[ResultLike] | None = None,
                 app: App | None = None, parent: Any = None, **kwargs: Any) -> None:
        super().__init__(results or [], app, **kwargs)
        self.id = id
        self.parent: Any = parent
        self.workflow_id: str | None = None

    def __repr__(self) -> str:
        return f"<GroupResult: {self.id} [{', '.join(str(r.id) for r in self.results)}]>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, GroupResult):
            return other.id == self.id and other.results == self.results
        if isinstance(other, str):
            return other == self.id
        return NotImplemented


    @property
    def children(self) -> list[ResultLike]:
        """Celery's alias of ``results``."""
        return self.results

    def as_tuple(self) -> tuple[Any, ...]:
        """Celery's serialisable form: ``((id, parent), [member tuples])``."""
        parent = self.parent.as_tuple() if self.parent is not None else None
        return (self.id, parent), [r.as_tuple() for r in self.results]

    def _require(self, action: str) -> App:
        app = self.app
        if app is None:
            raise ValueError(f"cannot {action} {self!r}: it has no app; pass app=")
        if self.id is None:
            raise ValueError(f"cannot {action} a GroupResult without an id")
        return app

    def save(self, backend: Any = None) -> GroupResult:
        """Store the member ids in the result backend, so ``restore(id)`` finds them (they
        expire with ``result_expires``, like task results); returns self."""
        app = self._require("save")
        record = {"status": states.SUCCESS, "result": _ids(self), "task_id": self.id}
        ttl = app.conf.result_ttl or None
        (backend or app.backend).store([(GROUP_META_PREFIX + str(self.id),
                                        encode_record(record, app.conf.result_serializer))], ttl)
        return self

    def delete(self, backend: Any = None) -> None:
        """Remove the saved group (not its members' results)."""
        app = self._require("delete")
        (backend or app.backend).forget(GROUP_META_PREFIX + str(self.id))

    @classmethod
    def restore(cls, id: str, backend: Any = None, app: App | None = None) -> GroupResult | None:
        """The group saved under ``id`` (None if there is none, or it expired)."""
        app = app or get_current_app()
        record, _ = (backend or app.backend).get(GROUP_META_PREFIX + id)
        if record is None:
            return None
        shape = decode_record(record, app.conf.result_accepted()).get("result") or []
        restored = handle_for(app, shape, id)
        return restored if isinstance(restored, GroupResult) else cls(id, [restored], app)


def _ids(result: ResultLike) -> Any:
    """A result's task id, or the nested list of a group's member ids."""
    if isinstance(result, ResultSet):
        return [_ids(r) for r in result.results]
    return result.id


def handle_for(app: App, shape: Any, group_id: str | None = None) -> ResultLike:
    """An ``AsyncResult`` for a task id, a ``GroupResult`` for a (nested) list of ids."""
    if isinstance(shape, str):
        return AsyncResult(shape, app)
    return GroupResult(group_id, [handle_for(app, s) for s in shape], app)

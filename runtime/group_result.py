"""``GroupResult``: the ordered results of a group (Celery's API), and result handles by shape."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from flowc.runtime import states
from flowc.runtime.exceptions import TimeoutError
from flowc.runtime.result import AsyncResult

if TYPE_CHECKING:
    from flowc.runtime.app import App

ResultLike = Any
"""An ``AsyncResult`` or a ``GroupResult`` (groups nest)."""


class GroupResult:
    """Results of a group's members, in the order the group listed them."""

    def __init__(self, id: str | None, results: list[ResultLike],
                 app: App | None = None) -> None:
        self.id = id
        self.results = results
        self.app = app
        self.parent: Any = None
        self.workflow_id: str | None = None

    def __repr__(self) -> str:
        return f"<GroupResult: {self.id} [{', '.join(str(r.id) for r in self.results)}]>"

    def __iter__(self) -> Iterator[ResultLike]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, index: int) -> ResultLike:
        return self.results[index]

    @property
    def children(self) -> list[ResultLike]:
        """Celery's alias of ``results``."""
        return self.results

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
        return not self.ready()

    def get(self, timeout: float | None = None, propagate: bool = True,
            interval: float = 0.5, **_: Any) -> list[Any]:
        """Every member's value, in order; each wait blocks on Redis (no polling)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        values = []
        for r in self.results:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if left == 0.0 and not r.ready():
                raise TimeoutError(f"group {self.id} not ready after {timeout} s")
            values.append(r.get(timeout=left, propagate=propagate))
        return values

    join = get

    def revoke(self, terminate: bool = False, signal: str = "SIGTERM") -> None:
        """Revoke every member."""
        for r in self.results:
            r.revoke(terminate=terminate, signal=signal)

    def forget(self) -> None:
        """Forget every member's result."""
        for r in self.results:
            r.forget()

    @property
    def state(self) -> str:
        """SUCCESS when all succeeded, FAILURE if any failed, else PENDING."""
        if self.failed():
            return states.FAILURE
        return states.SUCCESS if self.successful() else states.PENDING


def handle_for(app: App, shape: Any, group_id: str | None = None) -> ResultLike:
    """An ``AsyncResult`` for a task id, a ``GroupResult`` for a (nested) list of ids."""
    if isinstance(shape, str):
        return AsyncResult(shape, app)
    return GroupResult(group_id, [handle_for(app, s) for s in shape], app)

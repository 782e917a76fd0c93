"""The request context a bound task sees as ``self.request`` (Celery's ``Context``)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Request:
    """What is known about the current invocation of a task."""

    id: str | None = None
    task: str | None = None
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    retries: int = 0
    is_eager: bool = False
    eta: float | None = None
    expires: float | None = None
    hostname: str | None = None
    delivery_info: dict[str, Any] = field(default_factory=dict)
    root_id: str | None = None
    parent_id: str | None = None
    group: str | None = None
    called_directly: bool = True
    message: Any = None
    """The runtime's Message being executed (None when called directly)."""


current_request: ContextVar[Request | None] = ContextVar("flowc_current_request", default=None)
"""The request of the task running in this thread or coroutine (a ContextVar, not a global)."""

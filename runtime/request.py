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
    headers: dict[str, Any] | None = None
    """The message's custom headers (``apply_async(headers=...)``, ``before_task_publish``)."""
    reply_to: str | None = None
    """Celery's reply queue. flowc replies through the result backend by task id, so in a
    worker this is the backend key the result is written to."""
    message: Any = None
    """The runtime's Message being executed (None when called directly)."""


    @property
    def correlation_id(self) -> str | None:
        """Celery's message correlation id: the task id."""
        return self.id

    def get(self, key: str, default: Any = None) -> Any:
        """A field, or a custom header of that name (Celery's ``Context.get``)."""
        if key in Request.__dataclass_fields__:
            return getattr(self, key)
        return (self.headers or {}).get(key, default)

    def __getattr__(self, name: str) -> Any:
        headers = object.__getattribute__(self, "headers")
        if headers and name in headers:  # Celery exposes custom headers as attributes
            return headers[name]
        raise AttributeError(name)


current_request: ContextVar[Request | None] = ContextVar("flowc_current_request", default=None)
"""The request of the task running in this thread or coroutine (a ContextVar, not a global)."""

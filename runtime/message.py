"""The message envelope: what a producer puts on a stream and a worker decodes.

A stream entry has two fields: ``b`` (the envelope encoded by the task serializer) and ``c``
(a one-byte content tag, see ``serialization``). The envelope is a flat dict so non-Python
producers can write it; docs/architecture.md lists the fields.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

ENVELOPE_VERSION = 1


@dataclass(slots=True)
class Message:
    """One task invocation in flight."""

    id: str
    task: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    queue: str = "celery"
    priority: int = 0
    eta: float | None = None
    expires: float | None = None
    retries: int = 0
    root_id: str | None = None
    parent_id: str | None = None
    group_id: str | None = None
    acks_late: bool | None = None
    ignore_result: bool | None = None
    time_limit: float | None = None
    soft_time_limit: float | None = None
    link: list[dict[str, Any]] | None = None
    link_error: list[dict[str, Any]] | None = None
    workflow: dict[str, Any] | None = None
    headers: dict[str, Any] | None = None

    def id_namespace(self) -> uuid.UUID:
        """A UUID namespace of this message: ids derived from it (``uuid5``) are the same
        every time the message is handled, so work it spawns twice is recognisably the same."""
        try:
            return uuid.UUID(self.id)
        except ValueError:
            return uuid.uuid5(uuid.NAMESPACE_OID, self.id)

    def to_envelope(self) -> dict[str, Any]:
        """The dict that is serialized; ``None`` fields are left out to keep messages small."""
        env: dict[str, Any] = {"v": ENVELOPE_VERSION, "id": self.id, "task": self.task,
                               "args": self.args, "kwargs": self.kwargs, "queue": self.queue,
                               "priority": self.priority}
        for name in _OPTIONAL:
            value = getattr(self, name)
            if value is not None and (value != 0 or isinstance(value, bool)):  # keep False
                env[name] = value
        return env

    @classmethod
    def from_envelope(cls, env: Any) -> Message:
        """Build a Message from a decoded envelope; raise ValueError saying what is wrong."""
        if not isinstance(env, dict):
            raise ValueError(f"envelope must be an object, got {type(env).__name__}")
        for key, kind in (("id", str), ("task", str)):
            if not isinstance(env.get(key), kind):
                raise ValueError(f"envelope field {key!r} missing or not a string")
        args, kwargs = env.get("args", []), env.get("kwargs", {})
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise ValueError("envelope 'args' must be a list and 'kwargs' an object")
        unknown = set(env) - _KNOWN
        if unknown:
            raise ValueError(f"unknown envelope fields {sorted(unknown)}")
        values = {k: v for k, v in env.items() if k != "v"}
        values["args"] = list(args)
        return cls(**values)


_OPTIONAL = ("eta", "expires", "retries", "root_id", "parent_id", "group_id", "acks_late",
             "ignore_result", "time_limit", "soft_time_limit", "link", "link_error", "workflow",
             "headers")
_KNOWN = frozenset({"v", "id", "task", "args", "kwargs", "queue", "priority", *_OPTIONAL})

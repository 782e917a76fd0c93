"""The message envelope: what a producer puts on a stream and a worker decodes.

A stream entry has two fields: ``b`` (the envelope encoded by the task serializer) and ``c``
(a one-byte content tag, see ``serialization``). The envelope is a flat dict so non-Python
producers can write it; docs/architecture.md lists the fields.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
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
        """Build a Message from a decoded envelope; raise ValueError naming the first bad field.

        Every field is checked for type and range here, so a malformed message is dead-lettered
        on its first delivery with a reason instead of raising later in the consumer.
        """
        if not isinstance(env, dict):
            raise ValueError(f"envelope must be an object, got {type(env).__name__}")
        if not env.keys() <= _KNOWN:
            unknown = sorted(map(str, env.keys() - _KNOWN))
            raise ValueError(f"unknown envelope fields {unknown}")
        version = env.get("v", ENVELOPE_VERSION)
        if type(version) is not int or version != ENVELOPE_VERSION:
            raise ValueError(f"envelope version {version!r} is not {ENVELOPE_VERSION}")
        for name in ("id", "task"):
            if name not in env:
                raise ValueError(f"envelope field {name!r} is missing")
        for name in _CORE:  # inline, the hot path: every message has these
            value = env.get(name)
            if name in env and _CHECKS[name](value):
                raise ValueError(f"envelope field {name!r} {_CHECKS[name](value)}, got "
                                 f"{_show(value)}")
        message = cls(env["id"], env["task"], list(env.get("args", ())), env.get("kwargs", {}),
                      env.get("queue", "celery"), env.get("priority", 0))
        for name in env.keys() & _OPTIONAL_SET:
            value = env[name]
            if value is not None:
                problem = _CHECKS[name](value)
                if problem:
                    raise ValueError(f"envelope field {name!r} {problem}, got {_show(value)}")
                setattr(message, name, value)
        return message


_OPTIONAL = ("eta", "expires", "retries", "root_id", "parent_id", "group_id", "acks_late",
             "ignore_result", "time_limit", "soft_time_limit", "link", "link_error", "workflow",
             "headers")
_OPTIONAL_SET = frozenset(_OPTIONAL)
_CORE = ("id", "task", "args", "kwargs", "queue", "priority")
_KNOWN = frozenset({"v", *_CORE, *_OPTIONAL})
PRIORITY_MAX = 9


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "must be a non-empty string"


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be a string"


def _str_keys(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "must be an object"
    return None if all(isinstance(k, str) for k in value) else "must have string keys"


def _args(value: Any) -> str | None:
    return None if isinstance(value, list | tuple) else "must be a list"


def _priority(value: Any) -> str | None:
    ok = _is_int(value) and 0 <= value <= PRIORITY_MAX
    return None if ok else f"must be an integer from 0 to {PRIORITY_MAX}"


def _time(value: Any) -> str | None:
    return None if _is_number(value) and value >= 0 else "must be unix seconds (a number >= 0)"


def _count(value: Any) -> str | None:
    return None if _is_int(value) and value >= 0 else "must be an integer >= 0"


def _flag(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _limit(value: Any) -> str | None:
    return None if _is_number(value) and value > 0 else "must be a number of seconds > 0"


def _signatures(value: Any) -> str | None:
    ok = isinstance(value, list) and all(isinstance(v, dict) for v in value)
    return None if ok else "must be a list of signature objects"


def _workflow(value: Any) -> str | None:
    """A workflow marker: ``{"id", "node"}`` and, per node kind, ``i``, ``expand``, ``max``."""
    if not isinstance(value, dict):
        return "must be an object"
    for key in ("id", "node"):
        if not (isinstance(value.get(key), str) and value[key]):
            return f"needs {key!r} as a non-empty string"
    if value.get("i") is not None and _count(value["i"]):
        return "needs 'i' as an integer >= 0"
    if "expand" in value and not isinstance(value["expand"], bool):
        return "needs 'expand' as true or false"
    if value.get("max") is not None and _count(value["max"]):
        return "needs 'max' as an integer >= 0"
    return None


def _headers(value: Any) -> str | None:
    """Headers are free-form except the ones flowc itself reads (step options, errback)."""
    problem = _str_keys(value)
    if problem:
        return problem
    options = value.get("options")
    if options is not None:
        if not isinstance(options, dict):
            return "needs 'options' as an object"
        for key, check in _STEP_OPTION_CHECKS.items():
            if options.get(key) is not None and check(options[key]):
                return f"needs 'options.{key}' that {check(options[key])}"
    if value.get("errback") is not None and not isinstance(value["errback"], dict):
        return "needs 'errback' as an object"
    if value.get(RATE_SLOT_HEADER) is not None and _time(value[RATE_SLOT_HEADER]):
        return f"needs {RATE_SLOT_HEADER!r} as unix seconds"
    if value.get(DEFERRED_HEADER) is not None and _count(value[DEFERRED_HEADER]):
        return f"needs {DEFERRED_HEADER!r} as an integer >= 0"
    return None


def _rate(value: Any) -> str | None:
    from flowc.runtime.options import parse_rate_limit

    try:
        parse_rate_limit(value)
    except Exception:
        return "is a rate such as '10/s' or '100/m'"
    return None


def _backoff(value: Any) -> str | None:
    return None if isinstance(value, bool) or (_is_number(value) and value >= 0) else \
        "is true, false or a number >= 0"


_STEP_OPTION_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "max_retries": _count, "default_retry_delay": _time, "retry_backoff": _backoff,
    "retry_backoff_max": _time, "retry_jitter": _flag, "rate_limit": _rate,
}
"""The step options a worker reads from ``headers.options`` (``retry.STEP_OPTIONS``, rate)."""
RATE_SLOT_HEADER = "flowc-rate-slot"
"""The header a rate-limited message carries its reserved start slot in (``worker.ratelimit``)."""
DEFERRED_HEADER = "flowc-deferred"
"""How often a message was handed back for a worker that has its task (``worker.consumer``)."""

_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "id": _text, "task": _text, "args": _args, "kwargs": _str_keys, "queue": _text,
    "priority": _priority, "eta": _time, "expires": _time, "retries": _count,
    "root_id": _string, "parent_id": _string, "group_id": _string, "acks_late": _flag,
    "ignore_result": _flag, "time_limit": _limit, "soft_time_limit": _limit,
    "link": _signatures, "link_error": _signatures, "workflow": _workflow, "headers": _headers,
}
"""One check per envelope field: None when the value is fine, else what it must be."""


def _show(value: Any) -> str:
    """A short description of a bad value for a dead-letter reason."""
    text = repr(value)
    return text if len(text) <= 40 else f"{type(value).__name__} {text[:37]}..."

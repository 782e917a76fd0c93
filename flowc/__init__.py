"""flowc: a workflow language, its compiler, and a Redis-backed, Celery-compatible task runtime.

Port a Celery app by changing ``from celery import Celery`` to ``from flowc import App``.

The names below load on first use (PEP 562 module ``__getattr__``): ``flowc`` is the parent
package of every layer, so importing ``flowc.dsl`` or ``flowc.runtime.states`` runs this file
first, and an eager facade would load the runtime, pydantic and the compiler for them all.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

import flowc._pools  # noqa: F401 - first flowc import: `flowc worker -P gevent` patches here

if TYPE_CHECKING:
    from flowc.compiler.canvas.builtins import chunks, xmap, xstarmap
    from flowc.compiler.canvas.primitives import chain, chord, fanout, group
    from flowc.compiler.canvas.signature import Signature, signature
    from flowc.compiler.canvas.signature import signature as subtask
    from flowc.runtime import states
    from flowc.runtime.app import App
    from flowc.runtime.app import App as Celery
    from flowc.runtime.current import current_app, shared_task
    from flowc.runtime.group_result import GroupResult, ResultSet
    from flowc.runtime.result import AsyncResult, EagerResult
    from flowc.runtime.schedules import crontab, every
    from flowc.runtime.task import Task
    from flowc.utils import uuid

__all__ = [  # noqa: RUF022 - grouped by topic, not sorted
    # application and tasks
    "App", "Celery", "Task", "current_app", "shared_task", "uuid",
    # canvas
    "Signature", "chain", "chord", "chunks", "fanout", "group", "signature", "subtask", "xmap",
    "xstarmap",
    # results
    "AsyncResult", "EagerResult", "GroupResult", "ResultSet", "states",
    # schedules
    "crontab", "every",
]

_WHERE: dict[str, tuple[str, str]] = {
    "App": ("flowc.runtime.app", "App"),
    "Celery": ("flowc.runtime.app", "App"),  # Celery's class name: `from flowc import Celery`
    "Task": ("flowc.runtime.task", "Task"),
    "current_app": ("flowc.runtime.current", "current_app"),
    "shared_task": ("flowc.runtime.current", "shared_task"),
    "Signature": ("flowc.compiler.canvas.signature", "Signature"),
    "chain": ("flowc.compiler.canvas.primitives", "chain"),
    "chord": ("flowc.compiler.canvas.primitives", "chord"),
    "fanout": ("flowc.compiler.canvas.primitives", "fanout"),
    "group": ("flowc.compiler.canvas.primitives", "group"),
    "signature": ("flowc.compiler.canvas.signature", "signature"),
    "subtask": ("flowc.compiler.canvas.signature", "signature"),  # Celery's old name
    "chunks": ("flowc.compiler.canvas.builtins", "chunks"),
    "xmap": ("flowc.compiler.canvas.builtins", "xmap"),
    "xstarmap": ("flowc.compiler.canvas.builtins", "xstarmap"),
    "uuid": ("flowc.utils", "uuid"),
    "AsyncResult": ("flowc.runtime.result", "AsyncResult"),
    "EagerResult": ("flowc.runtime.result", "EagerResult"),
    "GroupResult": ("flowc.runtime.group_result", "GroupResult"),
    "ResultSet": ("flowc.runtime.group_result", "ResultSet"),
    "states": ("flowc.runtime.states", ""),
    "crontab": ("flowc.runtime.schedules", "crontab"),
    "every": ("flowc.runtime.schedules", "every"),
}
"""Where each public name lives: (module, attribute); an empty attribute means the module."""

_ON_THE_CURRENT_APP = frozenset({"flowc.runtime.current", "flowc.runtime.result",
                                 "flowc.runtime.group_result", "flowc.runtime.task"})
"""Modules whose names may use the current app, made on first use when no App exists (Celery's
default app): loading one through the facade also loads ``runtime.app``, which tells
``runtime.current`` how to make that app (the runtime's lower modules do not import it)."""


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use, and keep it as a module global."""
    try:
        module, attribute = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module 'flowc' has no attribute {name!r}") from None
    if module in _ON_THE_CURRENT_APP:
        import_module("flowc.runtime.app")
    value = import_module(module)
    if attribute:
        value = getattr(value, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's globals plus the lazily loaded public names."""
    return sorted({*globals(), *__all__})

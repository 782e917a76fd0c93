"""The two narrow interfaces the canvas and the checks talk to: ``Dispatcher`` and ``TaskRegistry``.

The compiler never imports the runtime. A canvas holds an ``app`` that implements ``Dispatcher``
(the runtime's ``App`` does) and hands itself over when asked to run; validation asks a
``TaskRegistry`` for task names and Python signatures. The runtime's ``App`` is expected to
implement both.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from flowc.compiler.canvas.signature import Canvas


_current_lookup: Callable[[], Any] | None = None


def set_current_dispatcher(lookup: Callable[[], Any]) -> None:
    """Install how to find the current app, used by canvases made without one (the runtime
    installs ``current_app``, as Celery's ``signature('name')`` uses the current app)."""
    global _current_lookup
    _current_lookup = lookup


def current_dispatcher() -> Dispatcher | None:
    """The current app, or None when no runtime installed a lookup."""
    return _current_lookup() if _current_lookup is not None else None


@runtime_checkable
class Dispatcher(Protocol):
    """What a canvas needs from the application that runs it.

    ``args``/``kwargs`` are the partial arguments given at call time (``sig.delay(*args,
    **kwargs)``); apply them with ``canvas.clone(args, kwargs)`` or ``lower(canvas, args,
    kwargs)``, which follow Celery's rules (prepended to the entry tasks unless immutable).
    ``options`` are call-time execution options; they apply to every task of the canvas that does
    not set the option itself.
    """

    def apply_canvas(
        self, canvas: Canvas, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]
    ) -> Any:
        """Submit the canvas; return its ``AsyncResult`` (a ``GroupResult`` for a group)."""
        ...

    def apply_canvas_eager(
        self, canvas: Canvas, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]
    ) -> Any:
        """Run the canvas inline in this process; return an already-resolved result."""
        ...

    def call_task_inline(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Call the task's function directly, as ``sig()`` does in Celery; return its value."""
        ...


@runtime_checkable
class TaskRegistry(Protocol):
    """The known tasks, by name.

    ``signature(name)`` returns the signature callers must satisfy: for ``bind=True`` tasks it
    must already exclude ``self`` (the runtime supplies the task instance).
    """

    def names(self) -> Iterable[str]:
        """Every registered task name."""
        ...

    def signature(self, name: str) -> inspect.Signature | None:
        """The call signature of task ``name``; ``None`` when unknown or not introspectable."""
        ...


class MappingRegistry:
    """A ``TaskRegistry`` over a plain ``{name: callable}`` mapping.

    A value with a ``run`` attribute (a Celery-style task object) is introspected through ``run``;
    a bound method's ``self`` is already excluded, and so is the first parameter of a plain
    function run by a ``bind=True`` task (the runtime passes the task instance there).
    """

    def __init__(self, tasks: Mapping[str, Callable[..., Any]]) -> None:
        self._tasks = tasks
        self._signatures: dict[str, inspect.Signature | None] = {}

    def names(self) -> Iterable[str]:
        return self._tasks.keys()

    def signature(self, name: str) -> inspect.Signature | None:
        if name in self._signatures:
            return self._signatures[name]
        fn = self._tasks.get(name)
        target = getattr(fn, "run", fn) if fn is not None and not inspect.isfunction(fn) else fn
        try:
            sig = inspect.signature(target) if target is not None else None
        except (TypeError, ValueError):
            sig = None
        if sig is not None and getattr(fn, "bind", False) is True and not inspect.ismethod(target):
            sig = sig.replace(parameters=list(sig.parameters.values())[1:])
        self._signatures[name] = sig
        return sig


def as_registry(tasks: TaskRegistry | Mapping[str, Callable[..., Any]]) -> TaskRegistry:
    """Accept a ``TaskRegistry`` as is (also one that is a mapping, like the runtime's), or wrap
    a plain ``{name: callable}`` mapping."""
    if isinstance(tasks, Mapping) and not isinstance(tasks, TaskRegistry):
        return MappingRegistry(tasks)
    return tasks

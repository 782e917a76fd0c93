"""``Canvas`` (the base of every canvas object) and ``Signature`` (one task call), Celery-style.

A canvas is a ``dict`` like Celery's, so ``sig["task"]``, ``json.dumps(sig)`` and
``dict(sig)`` work and a signature can travel as a task argument. The keys are Celery's:
``task``, ``args``, ``kwargs``, ``options``, ``subtask_type``, ``immutable``.

Celery's argument rules, which this module follows exactly:

* partial arguments are *prepended*: ``s("add", 2).clone((1,))`` is ``add(1, 2)``; partial
  keyword arguments are merged over the stored ones;
* an immutable signature (``si``) ignores partial arguments but still merges options;
* ``set(**options)`` mutates and returns the signature itself; ``clone`` returns a copy.

Execution (``delay``, ``apply_async``, ``apply``, ``sig()``) is delegated to the signature's
``app``, an object implementing :class:`flowc.compiler.dispatch.Dispatcher`.

The composites (chain, group, chord, fanout, in ``canvas.primitives``) build on this module, so
it does not import them: ``a | b`` applies the composition rules ``primitives`` installs here
(``install_composition``), and a canvas's dict form is rebuilt by the rebuilder its defining
module registered for its ``subtask_type`` (``SUBTASK_TYPES``). Both happen when ``primitives``
loads, which importing anything under ``flowc.compiler.canvas`` does first (the package
``__init__`` imports it).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from flowc.compiler.diagnostics import CanvasError
from flowc.compiler.dispatch import current_dispatcher

if TYPE_CHECKING:
    from flowc.compiler.dispatch import Dispatcher

LINK = "link"
LINK_ERROR = "link_error"

Composition: TypeAlias = "Callable[[Canvas, Canvas], Canvas]"
Rebuilder: TypeAlias = "Callable[[Mapping[str, Any], Dispatcher | None], Canvas]"

SUBTASK_TYPES: dict[str, Rebuilder] = {}
"""How to rebuild each canvas kind from its dict form, by ``subtask_type``: the module defining
a kind registers it when it loads (``canvas.primitives``: chain, group, chord, fanout;
``canvas.builtins``: xmap, xstarmap, chunks). Any other kind is rebuilt as a ``Signature``."""

_composition: Composition | None = None


def install_composition(rule: Composition) -> None:
    """Make ``rule`` what ``a | b`` does (``canvas.primitives`` installs Celery's rules)."""
    global _composition
    _composition = rule


class Canvas(dict[str, Any]):
    """Base of ``Signature``, ``chain``, ``group``, ``chord`` and ``fanout``: shared behaviour."""

    _app: Dispatcher | None

    # -- Celery's dict fields as attributes -------------------------------------------------
    @property
    def task(self) -> str:
        return str(self["task"])

    @property
    def name(self) -> str:
        return self.task

    @property
    def args(self) -> tuple[Any, ...]:
        return tuple(self["args"])

    @args.setter
    def args(self, value: tuple[Any, ...]) -> None:
        self["args"] = tuple(value)

    @property
    def kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = self["kwargs"]
        return kwargs

    @kwargs.setter
    def kwargs(self, value: dict[str, Any]) -> None:
        self["kwargs"] = value

    @property
    def options(self) -> dict[str, Any]:
        options: dict[str, Any] = self["options"]
        return options

    @options.setter
    def options(self, value: dict[str, Any]) -> None:
        self["options"] = value

    @property
    def immutable(self) -> bool:
        return bool(self["immutable"])

    @immutable.setter
    def immutable(self, value: bool) -> None:
        self["immutable"] = bool(value)

    @property
    def subtask_type(self) -> str | None:
        kind: str | None = self.get("subtask_type")
        return kind

    @property
    def app(self) -> Dispatcher | None:
        """The dispatcher this canvas runs on (for composites: the first one found inside)."""
        return self._app

    @property
    def id(self) -> str | None:
        """Celery's ``sig.id``: the ``task_id`` option (set by ``freeze()``; a group's or
        chord's is the group id)."""
        tid: str | None = self.options.get("task_id")
        return tid

    @id.setter
    def id(self, value: str | None) -> None:
        self.options["task_id"] = value

    def freeze(self, _id: str | None = None, group_id: str | None = None, chord: Any = None,
               root_id: str | None = None, parent_id: str | None = None,
               group_index: int | None = None) -> Any:
        """Fix the task ids this canvas will run with and return its result handle now (Celery).

        The ids are stored as ``task_id`` options, so the run started later by ``delay()`` /
        ``apply_async()`` has exactly these ids. ``group_id``, ``chord``, ``root_id``,
        ``parent_id`` and ``group_index`` are accepted for Celery compatibility and unused.
        """
        raise NotImplementedError

    _freeze = freeze

    # -- options and callbacks ---------------------------------------------------------------
    def set(self, immutable: bool | None = None, **options: Any) -> Canvas:
        """Update execution options in place (``queue=``, ``priority=``, ...); returns ``self``."""
        if immutable is not None:
            self.immutable = immutable
        self.options.update(options)
        return self

    def set_immutable(self, immutable: bool) -> None:
        self.immutable = immutable

    def link(self, callback: Canvas) -> Canvas:
        """Run ``callback`` with this canvas's result when it succeeds; returns ``callback``."""
        self.options.setdefault(LINK, []).append(callback)
        return callback

    def link_error(self, errback: Canvas) -> Canvas:
        """Run ``errback`` (once) if a task of this canvas fails; returns ``errback``."""
        self.options.setdefault(LINK_ERROR, []).append(errback)
        return errback

    def on_error(self, errback: Canvas) -> Canvas:
        """Like ``link_error`` but returns ``self``, for chaining."""
        self.link_error(errback)
        return self

    # -- composition ---------------------------------------------------------------------------
    def __or__(self, other: Any) -> Canvas:  # type: ignore[override]
        """``a | b``: Celery's chaining operator (see ``canvas.primitives.compose``)."""
        if not isinstance(other, Canvas):
            return NotImplemented
        if _composition is None:  # only if flowc.compiler.canvas.primitives failed to load
            raise CanvasError("the | rules are defined in flowc.compiler.canvas.primitives, "
                              "which is not loaded; import flowc.compiler.canvas")
        return _composition(self, other)

    def __ior__(self, other: Any) -> Canvas:  # type: ignore[override]
        return self.__or__(other)

    def __invert__(self) -> Any:
        """``~sig``: send it and wait for its result (Celery's shortcut)."""
        return self.apply_async().get()

    def clone(
        self, args: tuple[Any, ...] | None = None, kwargs: dict[str, Any] | None = None, **opts: Any
    ) -> Canvas:
        """A copy with partial ``args`` prepended, ``kwargs`` and ``opts`` merged (Celery)."""
        raise NotImplementedError

    partial = clone

    def _merge(
        self, args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None, options: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any], dict[str, Any]]:
        """Celery's merge: prepend ``args``, merge ``kwargs`` unless immutable; merge options."""
        new_options = {**self.options, **options} if options else dict(self.options)
        if self.immutable:
            return self.args, dict(self.kwargs), new_options
        new_args = tuple(args) + self.args if args else self.args
        new_kwargs = {**self.kwargs, **kwargs} if kwargs else dict(self.kwargs)
        return new_args, new_kwargs, new_options

    # -- execution, delegated to the app ---------------------------------------------------------
    def _require_app(self, action: str) -> Dispatcher:
        app = self.app
        if app is None:
            app = current_dispatcher()
        if app is None:
            raise CanvasError(
                f"cannot {action} {self!r}: it is not bound to an app; create it with "
                "app-bound tasks (my_task.s(...)) or pass app=your_app to the signature"
            )
        return app

    def delay(self, *args: Any, **kwargs: Any) -> Any:
        """Shortcut for ``apply_async(args, kwargs)``."""
        return self.apply_async(args, kwargs)

    def apply_async(
        self,
        args: tuple[Any, ...] | list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        **options: Any,
    ) -> Any:
        """Send to the broker with partial ``args``/``kwargs``; options set to None are dropped."""
        app = self._require_app("apply_async")
        opts = {k: v for k, v in options.items() if v is not None}
        return app.apply_canvas(self, tuple(args or ()), dict(kwargs or {}), opts)

    def apply(
        self,
        args: tuple[Any, ...] | list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        **options: Any,
    ) -> Any:
        """Run inline in this process (eager), returning a resolved result."""
        app = self._require_app("apply")
        opts = {k: v for k, v in options.items() if v is not None}
        return app.apply_canvas_eager(self, tuple(args or ()), dict(kwargs or {}), opts)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Composites: ``apply_async`` (Celery). ``Signature`` overrides: call the task inline."""
        return self.apply_async(args, kwargs)

    # -- copying -----------------------------------------------------------------------------------
    def __deepcopy__(self, memo: dict[int, Any]) -> Canvas:
        """Deep-copy the data; the app is shared, never copied."""
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        for key, value in self.items():
            dict.__setitem__(clone, key, copy.deepcopy(value, memo))
        clone.__dict__.update(self.__dict__)
        return clone

    def __copy__(self) -> Canvas:
        clone = type(self).__new__(type(self))
        dict.update(clone, self)
        clone.__dict__.update(self.__dict__)
        return clone

    def __reduce__(self) -> tuple[Any, ...]:
        return signature_from_dict, (dict(self),)

    def __repr__(self) -> str:
        parts = [repr(a) for a in self.args]
        parts += [f"{k}={v!r}" for k, v in self.kwargs.items()]
        bang = "!" if self.immutable else ""
        return f"{bang}{self.task}({', '.join(parts)})"


class Signature(Canvas):
    """One task call: name, partial arguments and execution options.

    ``task`` may be a name or an object with a ``.name`` (a task); ``app`` is the dispatcher that
    runs it (taken from the task object when it has an ``app``). Extra keyword arguments are
    options, as in Celery: ``Signature("add", (2, 2), queue="math")``.
    """

    def __init__(
        self,
        task: str | Any,
        args: tuple[Any, ...] | list[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        immutable: bool = False,
        app: Dispatcher | None = None,
        subtask_type: str | None = None,
        **ex: Any,
    ) -> None:
        name = task if isinstance(task, str) else getattr(task, "name", None)
        if not isinstance(name, str) or not name:
            raise CanvasError(f"a signature needs a task name, got {task!r}")
        self._app = app if app is not None else getattr(task, "app", None)
        super().__init__(
            task=name,
            args=tuple(args or ()),
            kwargs=dict(kwargs or {}),
            options={**(options or {}), **ex},
            subtask_type=subtask_type,
            immutable=bool(immutable),
        )

    def clone(
        self, args: tuple[Any, ...] | None = None, kwargs: dict[str, Any] | None = None, **opts: Any
    ) -> Signature:
        new_args, new_kwargs, new_opts = self._merge(args, kwargs, opts)
        return Signature(
            self.task,
            new_args,
            new_kwargs,
            copy.deepcopy(new_opts),
            immutable=self.immutable,
            app=self._app,
            subtask_type=self.subtask_type,
        )

    partial = clone

    def freeze(self, _id: str | None = None, group_id: str | None = None, chord: Any = None,
               root_id: str | None = None, parent_id: str | None = None,
               group_index: int | None = None) -> Any:
        """Set ``task_id`` (``_id``, or a new uuid unless already set); its ``AsyncResult``."""
        tid = self.options.get("task_id")
        if tid is None:
            tid = self.options["task_id"] = _id or str(uuid.uuid4())
        return _result_factory(self._require_app("freeze")).AsyncResult(tid, self.task)

    _freeze = freeze

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the task's function inline in this process, as Celery's ``sig()`` does."""
        app = self._require_app("call")
        merged_args, merged_kwargs, _ = self._merge(args, kwargs, {})
        return app.call_task_inline(self.task, merged_args, merged_kwargs)


def s(task: str | Any, *args: Any, **kwargs: Any) -> Signature:
    """``s("add", 2, 2)``: a signature with partial arguments, like Celery's ``task.s(2, 2)``."""
    return Signature(task, args, kwargs)


def si(task: str | Any, *args: Any, **kwargs: Any) -> Signature:
    """``si("notify", 7)``: an immutable signature, which ignores its parent's result."""
    return Signature(task, args, kwargs, immutable=True)


def signature(varies: Any, *args: Any, **kwargs: Any) -> Canvas:
    """Celery's ``signature()``: from a canvas (cloned), a dict (as sent), or a task name."""
    if isinstance(varies, Canvas):
        return varies.clone()
    if isinstance(varies, Mapping):
        return signature_from_dict(varies, app=kwargs.get("app"))
    return Signature(varies, *args, **kwargs)


def signature_from_dict(d: Mapping[str, Any], app: Dispatcher | None = None) -> Canvas:
    """Rebuild a canvas from its dict form (Celery's layout; nested canvases as dicts)."""
    kind = d.get("subtask_type")
    rebuild = SUBTASK_TYPES.get(kind) if kind else None
    if rebuild is not None:
        return rebuild(d, app)
    return Signature(
        d["task"],
        d.get("args"),
        d.get("kwargs") or {},
        callback_options(d),
        immutable=bool(d.get("immutable")),
        app=app,
        subtask_type=kind,
    )


def callback_options(d: Mapping[str, Any]) -> dict[str, Any]:
    """The options of a canvas's dict form, its ``link``/``link_error`` callbacks rebuilt."""
    options = dict(d.get("options") or {})
    for key in (LINK, LINK_ERROR):
        if key in options:
            options[key] = [as_canvas(x) for x in options[key]]
    return options


def as_canvas(task: Canvas | Mapping[str, Any]) -> Canvas:
    """``task`` itself if it is a canvas, else rebuilt from its dict form."""
    if isinstance(task, Canvas):
        return task
    if isinstance(task, Mapping):
        return signature_from_dict(task)
    raise CanvasError(f"expected a signature or canvas, got {task!r}")


def _result_factory(app: Dispatcher) -> Any:
    """The app's ``AsyncResult``/``GroupResult`` constructors, which ``freeze()`` needs."""
    if not hasattr(app, "AsyncResult") or not hasattr(app, "GroupResult"):
        raise CanvasError(f"cannot freeze: {app!r} has no AsyncResult/GroupResult to build "
                          "result handles; freeze canvases of an App's tasks")
    return app

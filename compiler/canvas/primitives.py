"""Composite canvases (``chain``, ``group``, ``chord``, ``fanout``) and how ``|`` composes them.

Composition follows Celery's rules (``celery/canvas.py``, 5.x):

* ``a | b`` builds a chain; nested chains flatten (unless the inner chain carries options of its
  own or is immutable, which flattening would lose);
* a group followed by anything in a chain becomes a ``chord`` whose body is that step;
  ``group | x`` is ``chord(group, x)``;
* ``chord | task`` extends the chord's body; ``chord | group`` (of several) chains after it;
* a single-member group on the right of ``|`` is unrolled to its member; an empty group on the
  right of ``|`` is a no-op, so ``chain(group(), x)`` is ``chain(x)``; ``group() | x`` is a chord
  with an empty header whose body receives ``[]``.

``fanout(sig, max_width=N)`` is flowc's dynamic map (Celery has none, Celery issue 3401): the
previous step's result must be a list; ``sig`` runs once per element (the element prepended to
its arguments) in parallel, and the next step receives the ordered list of results. The width is
capped: a list longer than ``max_width`` fails the fan-out node at run time. ``dynamic_map`` is an
alias. Called directly, its first partial argument is the list: ``fanout(sq.s()).delay([1, 2])``.

Composites keep the canvases they are built from (no copies), as Celery does; ``clone`` copies.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias, TypeGuard

from flowc.compiler.canvas.signature import LINK, LINK_ERROR, Canvas, Signature
from flowc.compiler.diagnostics import CanvasError

if TYPE_CHECKING:
    from flowc.compiler.dispatch import Dispatcher

DEFAULT_MAX_WIDTH = 10_000
"""Default cap on the number of parallel instances of one ``fanout``."""

CanvasLike: TypeAlias = Canvas | Mapping[str, Any]


class _Composite(Canvas):
    """Shared behaviour of composites: the app is looked up in the children when unset."""

    def __init__(
        self,
        name: str,
        kind: str,
        kwargs: dict[str, Any],
        app: Dispatcher | None,
        options: dict[str, Any],
    ) -> None:
        self._app = app
        super().__init__(
            task=name, args=(), kwargs=kwargs, options=options, subtask_type=kind, immutable=False
        )

    def children(self) -> list[Canvas]:
        """The canvases directly inside this one, in order."""
        raise NotImplementedError

    @property
    def app(self) -> Dispatcher | None:
        if self._app is not None:
            return self._app
        for child in self.children():
            if child.app is not None:
                return child.app
        return None

    def _cloned_options(self, opts: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy({**self.options, **opts})

    def __repr__(self) -> str:
        inner = ", ".join(repr(c) for c in self.children())
        return f"{self.subtask_type}({inner})"


class _TaskList(_Composite):
    """A composite whose children are the list in ``kwargs["tasks"]`` (chain, group)."""

    @property
    def tasks(self) -> list[Canvas]:
        tasks: list[Canvas] = self.kwargs["tasks"]
        return tasks

    def children(self) -> list[Canvas]:
        return self.tasks


def _as_canvas(task: CanvasLike) -> Canvas:
    if isinstance(task, Canvas):
        return task
    if isinstance(task, Mapping):
        return signature_from_dict(task)
    raise CanvasError(f"expected a signature or canvas, got {task!r}")


def _unpack(tasks: tuple[Any, ...]) -> list[Canvas]:
    """Celery's calling convention: ``f(a, b, c)`` or ``f([a, b, c])`` / ``f(generator)``."""
    if len(tasks) == 1 and not isinstance(tasks[0], Mapping) and isinstance(tasks[0], Iterable):
        tasks = tuple(tasks[0])
    return [_as_canvas(t) for t in tasks]


class chain(_TaskList):
    """Run tasks one after another; each result is prepended to the next task's arguments."""

    def __init__(self, *tasks: Any, app: Dispatcher | None = None, **options: Any) -> None:
        steps: list[Canvas] = []
        for task in _unpack(tasks):
            _append_step(steps, task)
        super().__init__("celery.chain", "chain", {"tasks": steps}, app, options)

    def clone(
        self, args: tuple[Any, ...] | None = None, kwargs: dict[str, Any] | None = None, **opts: Any
    ) -> chain:
        steps = [t.clone() for t in self.tasks]
        if steps and (args or kwargs) and not self.immutable:
            steps[0] = steps[0].clone(args, kwargs)
        new = chain(app=self._app)
        new.kwargs["tasks"] = steps
        new.options = self._cloned_options(opts)
        new.immutable = self.immutable
        return new


class group(_TaskList):
    """Run tasks in parallel; the result is the ordered list of their results."""

    def __init__(self, *tasks: Any, app: Dispatcher | None = None, **options: Any) -> None:
        if len(tasks) == 1 and isinstance(tasks[0], group):
            tasks = tuple(tasks[0].tasks)
        super().__init__("celery.group", "group", {"tasks": _unpack(tasks)}, app, options)

    def clone(
        self, args: tuple[Any, ...] | None = None, kwargs: dict[str, Any] | None = None, **opts: Any
    ) -> group:
        take = (args, kwargs) if not self.immutable else (None, None)
        new = group([t.clone(*take) for t in self.tasks], app=self._app)
        new.options = self._cloned_options(opts)
        new.immutable = self.immutable
        return new


class chord(_Composite):
    """A group (the header) whose ordered list of results is passed to ``body``.

    ``chord(header, body)`` builds it; ``chord(header)(body)`` builds and submits it (Celery).
    """

    def __init__(
        self,
        header: Any,
        body: CanvasLike | None = None,
        app: Dispatcher | None = None,
        **options: Any,
    ) -> None:
        head = header if isinstance(header, group) else group(header)
        super().__init__(
            "celery.chord",
            "chord",
            {"header": head, "body": None if body is None else _as_canvas(body)},
            app,
            options,
        )

    @property
    def header(self) -> group:
        head: group = self.kwargs["header"]
        return head

    @property
    def tasks(self) -> list[Canvas]:
        return self.header.tasks

    @property
    def body(self) -> Canvas | None:
        body: Canvas | None = self.kwargs["body"]
        return body

    def children(self) -> list[Canvas]:
        return [*self.header.children(), *([self.body] if self.body is not None else [])]

    def __repr__(self) -> str:
        header = ", ".join(repr(t) for t in self.tasks)
        return f"chord([{header}], {self.body!r})"

    def with_body(self, body: CanvasLike) -> chord:
        """A chord with the same header (shared) and options, and ``body``."""
        return chord(self.header, body, app=self._app, **self.options)

    def __call__(self, body: CanvasLike | None = None, **options: Any) -> Any:
        """Celery's ``chord(header)(body)``: attach the body and submit."""
        target = self if body is None else self.with_body(body)
        return target.apply_async(**options)

    def clone(
        self, args: tuple[Any, ...] | None = None, kwargs: dict[str, Any] | None = None, **opts: Any
    ) -> chord:
        take = (args, kwargs) if not self.immutable else (None, None)
        body = self.body.clone() if self.body is not None else None
        new = chord(self.header.clone(*take), body, app=self._app)
        new.options = self._cloned_options(opts)
        new.immutable = self.immutable
        return new


class fanout(_Composite):
    """Dynamic map: run ``sig`` once per element of the incoming list, then join in order."""

    def __init__(
        self,
        sig: Signature,
        max_width: int = DEFAULT_MAX_WIDTH,
        items: Iterable[Any] | None = None,
        app: Dispatcher | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(sig, Signature):
            raise CanvasError(
                f"fanout takes one task signature, got {sig!r}; "
                "fan out a chain by making its steps a task of their own"
            )
        if sig.immutable:
            raise CanvasError(f"fanout needs a mutable signature to receive each element: {sig!r}")
        if isinstance(max_width, bool) or not isinstance(max_width, int) or max_width < 1:
            raise CanvasError(f"fanout max_width must be an int >= 1, got {max_width!r}")
        listed = None if items is None else list(items)
        kwargs = {"task": sig, "max_width": max_width, "items": listed}
        super().__init__("flowc.fanout", "fanout", kwargs, app, options)

    @property
    def sig(self) -> Signature:
        sig: Signature = self.kwargs["task"]
        return sig

    @property
    def max_width(self) -> int:
        return int(self.kwargs["max_width"])

    @property
    def static_items(self) -> list[Any] | None:
        """The list given as the fanout's own partial argument, if any (else: the parent's)."""
        items: list[Any] | None = self.kwargs["items"]
        return items

    def children(self) -> list[Canvas]:
        return [self.sig]

    def clone(
        self, args: tuple[Any, ...] | None = None, kwargs: dict[str, Any] | None = None, **opts: Any
    ) -> fanout:
        """The first partial argument, if any, is the list to map over (it fixes the items)."""
        items = self.static_items
        if args and not self.immutable:
            if len(args) > 1:
                raise CanvasError(f"fanout takes one partial argument, the list; got {args!r}")
            items = list(args[0])
        sig = self.sig.clone(None, kwargs if not self.immutable else None)
        new = fanout(sig, self.max_width, items, app=self._app)
        new.options = self._cloned_options(opts)
        new.immutable = self.immutable
        return new


dynamic_map = fanout


def _is_empty_group(task: Canvas) -> bool:
    return isinstance(task, group) and not task.tasks


def _unroll(task: Canvas) -> Canvas:
    """Celery's ``maybe_unroll_group``: a bare group of one member is that member."""
    if isinstance(task, group) and len(task.tasks) == 1 and not task.options:
        return task.tasks[0]
    return task


def _flattenable(task: Canvas) -> TypeGuard[chain]:
    return isinstance(task, chain) and not task.options and not task.immutable


def _append_step(steps: list[Canvas], other: Canvas) -> None:
    """Append ``other`` to a chain's step list in place, applying Celery's rules."""
    if _flattenable(other):
        for task in other.tasks:
            _append_step(steps, task)
        return
    if _is_empty_group(other):
        return
    other = _unroll(other)
    if steps and isinstance(steps[-1], group) and not isinstance(other, group):
        steps[-1] = chord(steps[-1], other)
        return
    steps.append(other)


def compose(left: Canvas, right: Canvas) -> Canvas:
    """``left | right`` under Celery's rules (see the module docstring)."""
    if isinstance(left, group):
        if _is_empty_group(right):
            return left
        return chord(left, right)
    if isinstance(left, chord) and not isinstance(right, chain):
        right = _unroll(right)
        if not isinstance(right, group):
            body = right if left.body is None else compose(left.body, right)
            return left.with_body(body)
    steps: list[Canvas] = list(left.tasks) if _flattenable(left) else [left]
    _append_step(steps, right)
    result = chain(app=left._app)
    result.kwargs["tasks"] = steps
    return result


def iter_canvas(canvas: Canvas) -> Iterator[Canvas]:
    """Every canvas inside ``canvas`` (itself first), depth first, in order."""
    yield canvas
    if isinstance(canvas, _Composite):
        for child in canvas.children():
            yield from iter_canvas(child)


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
    kwargs = d.get("kwargs") or {}
    options = dict(d.get("options") or {})
    for key in (LINK, LINK_ERROR):
        if key in options:
            options[key] = [_as_canvas(x) for x in options[key]]
    made: Canvas
    if kind == "chain":
        made = chain(kwargs.get("tasks") or [], app=app, **options)
    elif kind == "group":
        made = group(kwargs.get("tasks") or [], app=app, **options)
    elif kind == "chord":
        head = kwargs.get("header") or []
        header = _as_canvas(head) if isinstance(head, Mapping) else head
        made = chord(header, kwargs.get("body"), app=app, **options)
    elif kind == "fanout":
        sig = _as_canvas(kwargs["task"])
        if not isinstance(sig, Signature):
            raise CanvasError(f"fanout takes one task signature, got {sig!r}")
        made = fanout(
            sig, kwargs.get("max_width", DEFAULT_MAX_WIDTH), kwargs.get("items"), app=app, **options
        )
    else:
        return Signature(
            d["task"],
            d.get("args"),
            kwargs,
            options,
            immutable=bool(d.get("immutable")),
            app=app,
            subtask_type=kind,
        )
    made.immutable = bool(d.get("immutable"))
    return made

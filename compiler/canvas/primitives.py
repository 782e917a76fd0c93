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
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias, TypeGuard

from flowc.compiler.canvas.signature import (
    SUBTASK_TYPES,
    Canvas,
    Signature,
    _result_factory,
    as_canvas,
    callback_options,
    install_composition,
)
from flowc.compiler.diagnostics import CanvasError
from flowc.compiler.dispatch import current_dispatcher

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


def _unpack(tasks: tuple[Any, ...]) -> list[Canvas]:
    """Celery's calling convention: ``f(a, b, c)`` or ``f([a, b, c])`` / ``f(generator)``."""
    if len(tasks) == 1 and not isinstance(tasks[0], Mapping) and isinstance(tasks[0], Iterable):
        tasks = tuple(tasks[0])
    return [as_canvas(t) for t in tasks]


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

    def freeze(self, _id: str | None = None, group_id: str | None = None, chord: Any = None,
               root_id: str | None = None, parent_id: str | None = None,
               group_index: int | None = None) -> Any:
        """Freeze every step; the last step's result, each step's ``parent`` the one before.
        The chain's ``id`` becomes its last step's (Celery)."""
        if not self.tasks:
            raise CanvasError("an empty chain has nothing to freeze")
        previous = None
        for i, step in enumerate(self.tasks):
            last = i == len(self.tasks) - 1
            result = step.freeze(_id or self.options.get("task_id") if last else None)
            if previous is not None:
                _attach_parent(result, previous)
            previous = result
        assert previous is not None
        self.options["task_id"] = previous.id
        return previous

    _freeze = freeze


def _attach_parent(result: Any, parent: Any) -> None:
    """Set ``parent`` on the first result without one, walking up from ``result`` (Celery)."""
    seen: set[int] = set()
    node = result
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if getattr(node, "parent", None) is None:
            node.parent = parent
            return
        node = node.parent


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

    def link(self, callback: Canvas) -> Canvas:
        """Celery's group link: an immutable clone of ``callback`` linked to the *first* member.

        So it runs when that member succeeds, with no argument, not after the whole group
        (use a chord for that); returns the clone.
        """
        if not self.tasks:
            raise CanvasError("cannot link a callback to an empty group; use a chord")
        return self.tasks[0].link(callback.clone().set(immutable=True))

    def link_error(self, errback: Canvas) -> Any:
        """Celery's group errback: a clone linked to every member, so it runs once per failed
        member; returns the tuple of clones."""
        return tuple(task.link_error(errback.clone()) for task in self.tasks)

    def set_immutable(self, immutable: bool) -> None:
        """Make every member (not the group itself) immutable, as Celery does."""
        for task in self.tasks:
            task.set_immutable(immutable)

    def skew(self, start: float = 1.0, stop: float | None = None, step: float = 1.0) -> group:
        """Give member i the countdown ``start + i * step`` (held at ``stop``); returns self."""
        countdown = start
        for task in self.tasks:
            task.set(countdown=countdown)
            if not stop or countdown + step <= stop:
                countdown += step
        return self

    def apply_async(
        self,
        args: tuple[Any, ...] | list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        link: Any = None,
        link_error: Any = None,
        **options: Any,
    ) -> Any:
        """Submit the group; ``link``/``link_error`` are refused as Celery refuses them."""
        if link is not None:
            raise TypeError("Cannot add link to group: use a chord")
        if link_error is not None:
            raise TypeError("Cannot add link to group: do that on individual tasks")
        return super().apply_async(args, kwargs, **options)

    def freeze(self, _id: str | None = None, group_id: str | None = None, chord: Any = None,
               root_id: str | None = None, parent_id: str | None = None,
               group_index: int | None = None) -> Any:
        """Fix the group id (``task_id`` option) and every member's id; the ``GroupResult``,
        nested groups flattened as the run flattens them."""
        app = _result_factory(self._require_app("freeze"))
        gid = self.options.get("task_id") or _id or group_id or str(uuid.uuid4())
        self.options["task_id"] = gid
        results: list[Any] = []
        for task in self.tasks:
            result = task.freeze()
            if isinstance(task, group):
                results.extend(result.results)
            else:
                results.append(result)
        return app.GroupResult(gid, results)

    _freeze = freeze


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
            {"header": head, "body": None if body is None else as_canvas(body)},
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

    def link_error(self, errback: Canvas) -> Canvas:
        """Celery's: ``errback`` is the body's (when the header fails, the body that cannot run
        calls it once, with its id and a ``ChordError``); with the setting
        ``task_allow_error_cb_on_chord_header`` each header task also gets an immutable clone of
        it (so it runs once per failed header task too). Returns ``errback``."""
        app = self.app if self.app is not None else current_dispatcher()
        conf = getattr(app, "conf", None)
        if conf is not None and conf.get("task_allow_error_cb_on_chord_header"):
            for task in self.tasks:
                clone = errback.clone()
                clone.set_immutable(True)
                task.link_error(clone)
        return super().link_error(errback)

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

    @property
    def id(self) -> str | None:
        """The header's group id (Celery), set by ``freeze()``."""
        return self.header.id

    @id.setter
    def id(self, value: str | None) -> None:
        self.header.options["task_id"] = value

    def freeze(self, _id: str | None = None, group_id: str | None = None, chord: Any = None,
               root_id: str | None = None, parent_id: str | None = None,
               group_index: int | None = None) -> Any:
        """Freeze header and body; the body's result, whose first step's ``parent`` is the
        header's ``GroupResult`` (no body: the header's)."""
        header_result = self.header.freeze()
        if self.body is None:
            return header_result
        body_result = self.body.freeze(_id)
        _attach_parent(body_result, header_result)
        return body_result

    _freeze = freeze


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


    def freeze(self, _id: str | None = None, group_id: str | None = None, chord: Any = None,
               root_id: str | None = None, parent_id: str | None = None,
               group_index: int | None = None) -> Any:
        """The map node's id (``task_id`` option) and result handle (the list of results)."""
        tid = self.options.get("task_id")
        if tid is None:
            tid = self.options["task_id"] = _id or str(uuid.uuid4())
        return _result_factory(self._require_app("freeze")).AsyncResult(tid, self.sig.task)

    _freeze = freeze


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


def _from_dict(d: Mapping[str, Any], app: Dispatcher | None) -> Canvas:
    """Rebuild a chain, group, chord or fanout from its dict form (nested canvases as dicts)."""
    kind = d.get("subtask_type")
    kwargs = d.get("kwargs") or {}
    options = callback_options(d)
    made: _Composite
    if kind == "chain":
        made = chain(kwargs.get("tasks") or [], app=app, **options)
    elif kind == "group":
        made = group(kwargs.get("tasks") or [], app=app, **options)
    elif kind == "chord":
        head = kwargs.get("header") or []
        header = as_canvas(head) if isinstance(head, Mapping) else head
        made = chord(header, kwargs.get("body"), app=app, **options)
    else:
        sig = as_canvas(kwargs["task"])
        if not isinstance(sig, Signature):
            raise CanvasError(f"fanout takes one task signature, got {sig!r}")
        made = fanout(
            sig, kwargs.get("max_width", DEFAULT_MAX_WIDTH), kwargs.get("items"), app=app, **options
        )
    made.immutable = bool(d.get("immutable"))
    return made


SUBTASK_TYPES.update(chain=_from_dict, group=_from_dict, chord=_from_dict, fanout=_from_dict)
install_composition(compose)

"""Celery's ``xmap``, ``xstarmap`` and ``chunks`` canvases (``task.map/starmap/chunks``).

``xmap``/``xstarmap`` are one message to the builtin task ``celery.map``/``celery.starmap``,
which calls the task's function once per item inside one worker task, as Celery's do (the names
are Celery's, so either implementation's workers run the other's messages). ``chunks`` splits the
items into groups of ``n`` and sends a ``group`` of ``xstarmap``, one per chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import islice
from typing import TYPE_CHECKING, Any

from flowc.compiler.canvas.primitives import group
from flowc.compiler.canvas.signature import SUBTASK_TYPES, Canvas, Signature, signature

if TYPE_CHECKING:
    from flowc.compiler.dispatch import Dispatcher

MAP = "celery.map"
STARMAP = "celery.starmap"


def _task_of(task: Any) -> tuple[Signature, Dispatcher | None]:
    sig = task if isinstance(task, Signature) else Signature(task)
    return sig, sig.app if sig.app is not None else getattr(task, "app", None)


class xmap(Signature):
    """``task.map(items)``: one task calling ``task(item)`` for each item; returns the list."""

    _builtin = MAP

    def __init__(self, task: Any, it: Iterable[Any], **options: Any) -> None:
        sig, app = _task_of(task)
        super().__init__(self._builtin, (), {"task": dict(sig), "it": list(it)}, options,
                         immutable=True, app=app, subtask_type=type(self).__name__)

    def __repr__(self) -> str:
        task = self.kwargs["task"]["task"]
        return f"[{task}(x) for x in {self.kwargs['it']!r}]"


class xstarmap(xmap):
    """``task.starmap(items)``: one task calling ``task(*item)`` for each item."""

    _builtin = STARMAP

    def __repr__(self) -> str:
        task = self.kwargs["task"]["task"]
        return f"[{task}(*x) for x in {self.kwargs['it']!r}]"


class chunks(Signature):
    """``task.chunks(items, n)``: the items in chunks of ``n``, each chunk an ``xstarmap``
    task; sent as a group, so ``get()`` returns one list per chunk."""

    def __init__(self, task: Any, it: Iterable[Any], n: int, **options: Any) -> None:
        sig, app = _task_of(task)
        super().__init__("celery.chunks", (), {"task": dict(sig), "it": list(it), "n": int(n)},
                         options, immutable=True, app=app, subtask_type="chunks")

    def group(self) -> group:
        """The group of ``xstarmap`` tasks this runs as (Celery's ``chunks.group``)."""
        task = Signature(self.kwargs["task"]["task"], app=self.app)
        items, n = iter(self.kwargs["it"]), self.kwargs["n"]
        parts = iter(lambda: list(islice(items, n)), [])
        return group([xstarmap(task, part) for part in parts], app=self.app, **self.options)

    def apply_async(self, args: tuple[Any, ...] | list[Any] | None = None,
                    kwargs: dict[str, Any] | None = None, **options: Any) -> Any:
        """Send the chunks as a group of tasks; the result is a ``GroupResult``."""
        return self.group().apply_async(args, kwargs, **options)

    def apply(self, args: tuple[Any, ...] | list[Any] | None = None,
              kwargs: dict[str, Any] | None = None, **options: Any) -> Any:
        """Run the chunks inline in this process."""
        return self.group().apply(args, kwargs, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.apply_async(args, kwargs)


def _from_dict(d: Mapping[str, Any], app: Dispatcher | None) -> Canvas:
    """Rebuild an ``xmap``/``xstarmap``/``chunks`` from its dict form (as sent)."""
    kwargs = d.get("kwargs") or {}
    task = signature(kwargs["task"], app=app)
    options = dict(d.get("options") or {})
    if d.get("subtask_type") == "chunks":
        return chunks(task, kwargs["it"], kwargs["n"], **options)
    kind = xstarmap if d.get("subtask_type") == "xstarmap" else xmap
    return kind(task, kwargs["it"], **options)


SUBTASK_TYPES.update(xmap=_from_dict, xstarmap=_from_dict, chunks=_from_dict)

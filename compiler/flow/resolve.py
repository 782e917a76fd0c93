"""Task name resolution for ``.flow`` files: short names (``extract_record``) to registered names.

A ``.flow`` file calls tasks by their Python function name; the runtime registers them under
full names (``examples.tasks.extract_record``). ``TaskCatalog`` answers both questions the
compiler asks: which registered name a short name means, and that task's call signature.

The compiler never imports the runtime (nor user modules): the CLI imports the modules a file
``use``\\ s and hands over what it found, duck-typed, with :func:`catalog_from_tasks`. A task
object is anything with a ``run`` function and an optional ``bind`` flag (the runtime's
``Task``, Celery's tasks); a plain function works too.

Resolution order for a short name ``n``: an alias (a module attribute ``n`` that is a task of a
``use``\\ d module), then an exact registered name, then the registered names ending in ``.n``
(prefer those under a ``use``\\ d module). More than one candidate is ambiguous.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowc.compiler.dispatch import TaskRegistry


@dataclass(frozen=True, slots=True)
class Resolution:
    """The outcome of resolving one short name: ``name`` when found, else ``candidates``."""

    name: str | None
    candidates: tuple[str, ...] = ()


class _DuckRegistry:
    """A ``TaskRegistry`` over ``{name: task or function}``; drops ``self`` of bound tasks."""

    def __init__(self, tasks: Mapping[str, Any]) -> None:
        self._tasks = dict(tasks)
        self._signatures: dict[str, inspect.Signature | None] = {}

    def names(self) -> Iterable[str]:
        return self._tasks.keys()

    def signature(self, name: str) -> inspect.Signature | None:
        if name not in self._signatures:
            self._signatures[name] = _signature_of(self._tasks.get(name))
        return self._signatures[name]


def _signature_of(task: Any) -> inspect.Signature | None:
    if task is None:
        return None
    fn: Callable[..., Any] = task if inspect.isfunction(task) else getattr(task, "run", task)
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    if getattr(task, "bind", False) and not inspect.ismethod(fn):
        params = list(sig.parameters.values())[1:]
        sig = sig.replace(parameters=params)
    return sig


@dataclass
class TaskCatalog:
    """Registered tasks (``registry``), short-name ``aliases`` and the ``use``\\ d modules."""

    registry: TaskRegistry
    aliases: Mapping[str, str] = field(default_factory=dict)
    modules: tuple[str, ...] = ()
    _by_short: dict[str, list[str]] | None = field(default=None, repr=False)
    _resolved: dict[str, Resolution] = field(default_factory=dict, repr=False, compare=False)

    def names(self) -> list[str]:
        return sorted(self.registry.names())

    def short_names(self) -> list[str]:
        """Every name a ``.flow`` file may call (for did-you-mean hints)."""
        return sorted(set(self.aliases) | set(self._shorts()))

    def _shorts(self) -> dict[str, list[str]]:
        if self._by_short is None:
            by_short: dict[str, list[str]] = {}
            for full in sorted(self.registry.names()):
                by_short.setdefault(full.rsplit(".", 1)[-1], []).append(full)
            self._by_short = by_short
        return self._by_short

    def resolve(self, short: str) -> Resolution:
        """The registered name ``short`` means, or the ambiguous candidates (none: unknown).

        Cached per name, like ``_shorts``: a flow calls the same few tasks thousands of times.
        """
        found = self._resolved.get(short)
        if found is None:
            found = self._resolved[short] = self._resolve(short)
        return found

    def _resolve(self, short: str) -> Resolution:
        if short in self.aliases:
            return Resolution(self.aliases[short])
        known = set(self.registry.names())
        if short in known:
            return Resolution(short)
        candidates = self._shorts().get(short, [])
        preferred = [c for c in candidates if any(c.startswith(m + ".") for m in self.modules)]
        pool = preferred or candidates
        if len(pool) == 1:
            return Resolution(pool[0])
        return Resolution(None, tuple(pool))

    def signature(self, name: str) -> inspect.Signature | None:
        return self.registry.signature(name)


def catalog_from_tasks(
    tasks: Mapping[str, Any],
    aliases: Mapping[str, str] | None = None,
    modules: Iterable[str] = (),
) -> TaskCatalog:
    """A catalog over ``{registered name: task object or function}`` (what an App holds)."""
    return TaskCatalog(_DuckRegistry(tasks), dict(aliases or {}), tuple(modules))

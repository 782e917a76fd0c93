"""The task registry of an App: tasks by name, and the compiler's ``TaskRegistry`` contract."""

from __future__ import annotations

import inspect
from collections.abc import ItemsView, Iterator, KeysView, ValuesView
from typing import TYPE_CHECKING, Any

from flowc.runtime.builtins import BUILTINS, make_builtin
from flowc.runtime.exceptions import NotRegistered
from flowc.runtime.task import Task

if TYPE_CHECKING:
    from flowc.runtime.app import App


class TaskRegistry(dict[str, Task]):
    """Tasks by name; a missing name raises ``NotRegistered`` with a suggestion.

    Also the compiler's ``TaskRegistry`` contract (``names``, ``signature``) for validation.
    Given its app, it also holds flowc's builtin tasks (``flowc.replaced``... for
    ``Task.replace``), made on first lookup and not listed with the app's own tasks.
    """

    def __init__(self, app: App | None = None) -> None:
        super().__init__()
        self._app = app
        self._builtins: dict[str, Task] = {}

    def _finalize(self) -> None:
        """Load the app's configuration if nobody has yet: that adds the shared tasks (Celery
        finalizes ``app.tasks`` on first use the same way)."""
        if self._app is not None and "conf" not in self._app.__dict__:
            self._app.conf  # noqa: B018 -- the first read loads it

    def __contains__(self, name: object) -> bool:
        if dict.__contains__(self, name):
            return True
        self._finalize()
        return dict.__contains__(self, name)

    def __iter__(self) -> Iterator[str]:
        self._finalize()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._finalize()
        return dict.__len__(self)

    def keys(self) -> KeysView[str]:  # type: ignore[override]
        self._finalize()
        return dict.keys(self)

    def values(self) -> ValuesView[Task]:  # type: ignore[override]
        self._finalize()
        return dict.values(self)

    def items(self) -> ItemsView[str, Task]:  # type: ignore[override]
        self._finalize()
        return dict.items(self)

    def names(self) -> list[str]:
        """Every registered task name (builtins included when the registry has an app)."""
        return [*self, *(BUILTINS if self._app is not None else ())]

    def get(self, name: str, default: Any = None) -> Any:
        found = dict.get(self, name)
        if found is None and self._app is not None and "conf" not in self._app.__dict__:
            self._finalize()
            found = dict.get(self, name)
        if found is None and name in BUILTINS and self._app is not None:
            found = self._builtins.get(name)
            if found is None:
                found = self._builtins[name] = make_builtin(self._app, name)
        return default if found is None else found

    def signature(self, name: str) -> inspect.Signature | None:
        """The signature callers satisfy (without ``self`` for ``bind=True`` tasks)."""
        task = self.get(name)
        if task is None or task.call_signature is None:
            return None
        sig = task.call_signature
        if task.bind:
            sig = sig.replace(parameters=list(sig.parameters.values())[1:])
        return sig

    def __missing__(self, name: str) -> Task:
        if self._app is not None and "conf" not in self._app.__dict__:
            self._finalize()
            if dict.__contains__(self, name):
                return dict.__getitem__(self, name)
        builtin: Task | None = self.get(name)
        if builtin is not None:
            return builtin

        from flowc.dsl.diagnostics import did_you_mean_hint  # error path only: it loads the AST
        hint = did_you_mean_hint(name, self)
        raise NotRegistered(f"task {name!r} is not registered" + (f"; {hint}" if hint else ""))

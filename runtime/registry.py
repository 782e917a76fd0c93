"""The task registry of an App: tasks by name, and the compiler's ``TaskRegistry`` contract."""

from __future__ import annotations

import inspect

from flowc.runtime.exceptions import NotRegistered
from flowc.runtime.task import Task


class TaskRegistry(dict[str, Task]):
    """Tasks by name; a missing name raises ``NotRegistered`` with a suggestion.

    Also the compiler's ``TaskRegistry`` contract (``names``, ``signature``) for validation.
    """

    def names(self) -> list[str]:
        """Every registered task name."""
        return list(self)

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
        import difflib

        close = difflib.get_close_matches(name, list(self), n=1)
        raise NotRegistered(f"task {name!r} is not registered" +
                            (f"; did you mean {close[0]!r}?" if close else ""))

"""A called name's Python side: the task object, its signature, docstring and source line."""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowc.runtime.project import Loaded


@dataclass(frozen=True)
class TaskInfo:
    """What an editor shows of a task: registered name, signature, docs, decorator options."""

    name: str
    signature: str
    doc: str
    options: dict[str, Any]
    source: Path | None
    line: int


def task_info(loaded: Loaded, short: str) -> TaskInfo | None:
    """The task a ``.flow`` file means by ``short``, or None when it is unknown or ambiguous."""
    full = loaded.catalog.resolve(short).name
    if full is None:
        return None
    task = _task_object(loaded, full)
    sig = loaded.catalog.signature(full)
    fn = _function(task)
    source, line = _source(fn)
    options = {k: v for k, v in (getattr(task, "options", None) or {}).items()
               if k not in ("bind", "typing", "name")}
    return TaskInfo(full, f"{full}{sig}" if sig is not None else full,
                    first_paragraph(inspect.getdoc(fn) or ""), options, source, line)


def parameter_names(loaded: Loaded, short: str) -> list[str]:
    """The keyword-capable parameters of the task ``short`` (empty when unknown)."""
    full = loaded.catalog.resolve(short).name
    sig = loaded.catalog.signature(full) if full else None
    if sig is None:
        return []
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in sig.parameters.values() if p.kind in kinds]


def first_paragraph(doc: str) -> str:
    """A docstring's first paragraph, joined onto one line."""
    return " ".join(doc.strip().split("\n\n", 1)[0].split())


def _task_object(loaded: Loaded, full: str) -> Any:
    for app in loaded.apps:
        if full in app.tasks:
            return app.tasks[full]
    for module_name in loaded.catalog.modules:
        module = importlib.import_module(module_name)  # imported already by the loading
        for value in vars(module).values():
            if getattr(value, "name", None) == full:
                return value
    return None


def _function(task: Any) -> Any:
    if task is None or inspect.isfunction(task):
        return task
    return getattr(task, "run", task)


def _source(fn: Any) -> tuple[Path | None, int]:
    if fn is None:
        return None, 0
    try:
        target = inspect.unwrap(fn)
        file = inspect.getsourcefile(target)
        _, line = inspect.getsourcelines(target)
    except (OSError, TypeError):
        return None, 0
    return (Path(file), line) if file else (None, 0)

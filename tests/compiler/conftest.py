"""Shared fixtures for compiler tests: a registry of plain functions and a recording dispatcher."""

from __future__ import annotations

from typing import Any

import pytest
from flowc.compiler.canvas import Canvas
from flowc.compiler.canvas.lower import lower
from flowc.compiler.ir import Workflow


def add(x: int, y: int) -> int:
    return x + y


def mul(x: int, y: int) -> int:
    return x * y


def tsum(numbers: list[int]) -> int:
    return sum(numbers)


def analyze_chunk(chunk: Any, mode: str = "fast") -> dict[str, Any]:
    return {"chunk": chunk, "mode": mode}


def notify(user_id: int) -> None:
    return None


def list_stores(region: str) -> list[str]:
    return [region]


def on_error(request: Any, exc: Exception, traceback: Any) -> None:
    return None


def publish(clean: Any, stats: Any) -> None:
    return None


TASKS = {
    f.__name__: f for f in (add, mul, tsum, analyze_chunk, notify, list_stores, on_error, publish)
}


@pytest.fixture
def registry() -> dict[str, Any]:
    return dict(TASKS)


class RecordingDispatcher:
    """A real ``Dispatcher``: lowers what it is given and records it instead of sending it."""

    def __init__(self) -> None:
        self.submitted: list[tuple[str, Workflow, dict[str, Any]]] = []
        self.inline: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def apply_canvas(
        self, canvas: Canvas, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]
    ) -> Workflow:
        wf = lower(canvas, args, kwargs, options)
        self.submitted.append(("async", wf, options))
        return wf

    def apply_canvas_eager(
        self, canvas: Canvas, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]
    ) -> Workflow:
        wf = lower(canvas, args, kwargs, options)
        self.submitted.append(("eager", wf, options))
        return wf

    def call_task_inline(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self.inline.append((name, args, kwargs))
        return TASKS[name](*args, **kwargs)


@pytest.fixture
def app() -> RecordingDispatcher:
    return RecordingDispatcher()

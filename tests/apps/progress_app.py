"""Tasks for the ``flowc run`` progress tests: a map of slow items, and a step that fails once."""

from __future__ import annotations

import os
import time

from flowc import App

app = App("progress_app")


@app.task
def items(n: int) -> list[int]:
    """``[0, 1, ..., n-1]``: the list a map runs over."""
    return list(range(n))


@app.task
def square(x: int, seconds: float = 0.0) -> int:
    """Sleeps, then squares."""
    time.sleep(seconds)
    return x * x


@app.task
def total(values: list[int]) -> int:
    """Adds a map's results."""
    return sum(values)


@app.task
def fail_once(marker: str) -> str:
    """Fails the first time (leaving ``marker`` behind), succeeds after."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("first attempt fails")
    return "ok"

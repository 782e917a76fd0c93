"""Tasks for benchmarks/cluster_spread.py (cwd benchmarks/apps)."""

from __future__ import annotations

from flowc import App

app = App("spread_app")
app.conf.update(task_ignore_result=False)


@app.task(name="spread.noop")
def noop(i: int) -> int:
    """Does nothing (the drain measures the runtime)."""
    return i


@app.task(name="spread.total")
def total(values: list[int]) -> int:
    """A chord body."""
    return sum(values)

"""What ``flowc run`` shows while a run goes on: node states, map counts, retries, an ETA.

``Progress`` is fed by polling (``poll``): node states and map counts every poll, and, at most
once a second, which queued steps are waiting to retry and when they run next. It renders a
live table (terminal) or one plain line (CI logs), and the per-node part of ``--json``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from flowc.compiler.ir import Workflow

if TYPE_CHECKING:
    from flowc.runtime.app import App

COLOURS = {"PENDING": "dim", "QUEUED": "yellow", "RUNNING": "cyan", "SUCCESS": "green",
           "FAILURE": "red", "SKIPPED": "magenta", "REVOKED": "red", "RETRY": "dark_orange"}
FINISHED = ("SUCCESS", "FAILURE", "SKIPPED", "REVOKED")
RETRY_CHECK_S = 1.0
"""How often queued steps are checked for a pending retry (a read per queued step)."""
RETRY_CHECK_MAX = 50
"""At most this many queued steps are checked per round."""
DELAYED_SCAN = 500
"""How many entries of a queue's delayed set are read to find a retry's next run."""


def duration(seconds: float) -> str:
    """``42s``, ``3m05s`` or ``1h02m``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Progress:
    """Node states over time, map counts, retries waiting, and the run's ETA."""

    def __init__(self, wf: Workflow) -> None:
        self.wf = wf
        self.states: dict[str, str] = {n.id: "PENDING" for n in wf.nodes}
        self.started: dict[str, float] = {}
        self.finished: dict[str, float] = {}
        self.maps: dict[str, tuple[int, int]] = {}
        self.retry_at: dict[str, float | None] = {}
        """Queued steps waiting to retry -> unix time of the next attempt (None: not found)."""
        self.t0 = time.monotonic()
        self._retry_checked = 0.0

    # --- feeding -----------------------------------------------------------------------------

    def poll(self, app: App, workflow_id: str) -> None:
        """Read the run's node states and map counts (and, now and then, pending retries)."""
        run = app.workflow(workflow_id)
        self.update(run.nodes(), run.map_progress())
        if time.monotonic() - self._retry_checked >= RETRY_CHECK_S:
            self._retry_checked = time.monotonic()
            self.retry_at = retries_waiting(app, self.wf, run.task_ids(), self.states)

    def update(self, nodes: dict[str, dict[str, Any]],
               maps: dict[str, tuple[int, int]] | None = None) -> None:
        now = time.monotonic()
        for node_id, info in nodes.items():
            state = str(info.get("state", "PENDING"))
            if node_id not in self.states:
                continue
            self.states[node_id] = state
            if state in ("RUNNING", "SUCCESS", "FAILURE"):
                self.started.setdefault(node_id, now)
            if state in FINISHED:
                self.finished.setdefault(node_id, now)
                self.retry_at.pop(node_id, None)
        self.maps.update(maps or {})

    # --- reading -----------------------------------------------------------------------------

    def state(self, node_id: str) -> str:
        """The node's state, RETRY for a queued step waiting for its next attempt."""
        state = self.states[node_id]
        return "RETRY" if state == "QUEUED" and node_id in self.retry_at else state

    def state_text(self, node_id: str) -> str:
        """``RETRY in 2m55s`` for a waiting retry, else the state."""
        state = self.state(node_id)
        if state != "RETRY":
            return state
        due = self.retry_at.get(node_id)
        if due is None:
            return "RETRY"
        left = due - time.time()
        return f"RETRY in {duration(left)}" if left > 0 else "RETRY (due now)"

    def counts(self) -> tuple[int, int, int]:
        """(steps finished, steps in all, steps failed)."""
        done = sum(s in FINISHED for s in self.states.values())
        failed = sum(s == "FAILURE" for s in self.states.values())
        return done, len(self.states), failed

    def units(self) -> tuple[int, int]:
        """(work done, work in all), a map counting its items, any other step 1."""
        done = total = 0
        for node_id, state in self.states.items():
            items_done, items = self.maps.get(node_id, (0, 1))
            total += items
            done += items if state in FINISHED else min(items_done, items)
        return done, total

    def eta_s(self) -> float | None:
        """Seconds left at the rate so far (None before anything finished, 0 when done)."""
        done, total = self.units()
        if done >= total:
            return 0.0
        if done == 0:
            return None
        return (time.monotonic() - self.t0) / done * (total - done)

    def map_text(self, node_id: str) -> str:
        counts = self.maps.get(node_id)
        return f"{counts[0]}/{counts[1]}" if counts else ""

    def summary(self, status: str) -> str:
        """``etl: RUNNING · 1/3 steps · square 370/2000 · ETA ~12s (4.1s)``."""
        done, total, failed = self.counts()
        parts = [f"{self.wf.name}: {status}",
                 f"{done}/{total} steps" + (f", {failed} failed" if failed else "")]
        for n in self.wf.nodes:
            if n.kind == "map" and n.id in self.maps and self.states[n.id] not in FINISHED:
                parts.append(f"{n.task.rsplit('.', 1)[-1]} {self.map_text(n.id)}")
        retrying = [f"{n} {self.state_text(n)}" for n in self.states
                    if self.state(n) == "RETRY"]
        parts += retrying
        eta = self.eta_s()
        if status == "RUNNING":
            parts.append("ETA " + ("?" if eta is None else f"~{duration(eta)}"))
        return " · ".join(parts) + f" ({time.monotonic() - self.t0:.1f}s)"

    def timing(self, node_id: str) -> str:
        start = self.started.get(node_id)
        if start is None:
            return ""
        end = self.finished.get(node_id, time.monotonic())
        return f"{start - self.t0:.2f}s +{end - start:.2f}s"

    def table(self, status: str) -> Table:
        t = Table(title=escape(self.summary(status)), title_justify="left")
        for column in ("node", "task", "state", "items", "started / took"):
            t.add_column(column)
        for n in self.wf.nodes:
            state = self.state(n.id)
            task = n.task.rsplit(".", 1)[-1] + (" (map)" if n.kind == "map" else "")
            t.add_row(n.id, escape(task),
                      f"[{COLOURS.get(state, 'white')}]{escape(self.state_text(n.id))}[/]",
                      self.map_text(n.id), self.timing(n.id))
        return t

    def as_json(self, seconds: dict[str, float | None]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for node_id, state in self.states.items():
            entry: dict[str, Any] = {"state": state, "seconds": seconds.get(node_id)}
            if node_id in self.maps:
                entry["items"] = {"done": self.maps[node_id][0], "total": self.maps[node_id][1]}
            out[node_id] = entry
        return out


def retries_waiting(app: App, wf: Workflow, task_ids: dict[str, str],
                    states: dict[str, str]) -> dict[str, float | None]:
    """Queued steps whose task is in RETRY -> when it runs next (from its queue's delayed set).

    A retried task keeps its id; its next attempt waits in the queue's delayed set until due.
    """
    from flowc.cli.plan import route
    from flowc.runtime.monitoring.views import Monitor

    queued = [n for n in wf.nodes if states.get(n.id) == "QUEUED" and n.id in task_ids]
    waiting = [n for n in queued[:RETRY_CHECK_MAX]
               if app.AsyncResult(task_ids[n.id]).state == "RETRY"]
    if not waiting:
        return {}
    queues = sorted({route(app, n)[0] for n in waiting})
    due = {entry["id"]: entry["eta"]
           for entry in Monitor(app).scheduled(queues, limit=DELAYED_SCAN)}
    return {n.id: due.get(task_ids[n.id]) for n in waiting}

"""Which live workers can run a task: what a worker asks before it gives up on a message.

Every worker process advertises the task names it registers in its heartbeat hash
(``heartbeat.Heartbeat``). A worker that claims a message for a task it does not have asks
here whether a live worker consuming the same queue has it; if so it hands the message back
for that worker instead of dead-lettering work that can run.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowc.runtime.app import App

CACHE_S = 2.0
"""How long one reading of the workers' hashes answers (the path is rare: unknown tasks)."""


class Peers:
    """Live workers' queues and registered tasks, read from their heartbeat hashes."""

    def __init__(self, app: App, me: str) -> None:
        self.app = app
        self.me = me
        self._read_at = 0.0
        self._workers: list[tuple[str, set[str], set[str]]] = []

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._read_at < CACHE_S:
            return
        horizon = self.app.broker.now() - self.app.conf.flowc_worker_lost_after
        self._workers = self.app.coordination.peers(horizon)
        self._read_at = now

    def who_can_run(self, task: str, queue: str) -> str | None:
        """A live worker other than this one that consumes ``queue`` and registers ``task``."""
        self._refresh()
        for name, queues, tasks in self._workers:
            if name != self.me and queue in queues and task in tasks:
                return name
        return None

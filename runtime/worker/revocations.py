"""Revoked task ids: a set in the coordination store (scored by time; ``Coordination.revoke``)
mirrored in each worker's memory.

Workers refresh their copy with one read of new entries each promotion tick, so a
revoke reaches every worker within a fraction of a second at no per-task cost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowc.runtime.app import App

REVOKED_TTL_S = 3 * 86400.0
"""How long a revocation is remembered (longer than any sensible ETA window)."""


class RevokedCache:
    """A worker's local view of the revoked set."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.ids: set[str] = set()
        self.since = app.broker.now() - REVOKED_TTL_S  # revoke() stamps server time

    def refresh(self) -> None:
        """Pull revocations newer than the last refresh."""
        now = self.app.broker.now()
        self.ids.update(self.app.coordination.revoked_since(self.since))
        self.since = now - 1.0

    def contains(self, task_id: str) -> bool:
        """True if ``task_id`` was revoked (as of the last refresh)."""
        return task_id in self.ids

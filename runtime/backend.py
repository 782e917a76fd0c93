"""The result-backend contract: store task outcomes and let callers wait for them.

Redis first (``redis_backend``); PostgreSQL or Memcached can follow behind the same methods.
Records are opaque bytes here (see ``outcome`` for their encoding).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class ResultBackend(Protocol):
    """Where results live until they expire."""

    def store(self, items: Sequence[tuple[str, bytes]], ttl_s: float | None) -> None:
        """Store terminal records ``(task_id, record)``; waiters wake at once. Idempotent."""
        ...

    def set_state(self, items: Sequence[tuple[str, bytes]], ttl_s: float | None) -> None:
        """Record non-terminal states (RECEIVED, STARTED, RETRY) for in-flight tasks."""
        ...

    def get(self, task_id: str) -> tuple[bytes | None, bytes | None]:
        """The terminal record and the latest state record, either may be None."""
        ...

    def wait(self, task_id: str, timeout_s: float | None) -> bytes | None:
        """Block (no polling) until the terminal record exists; None on timeout."""
        ...

    def forget(self, task_id: str) -> None:
        """Delete everything stored for a task."""
        ...

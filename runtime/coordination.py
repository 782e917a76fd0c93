"""The coordination port: what workers, beat and the monitoring tools share besides queues and
results.

A cluster needs more than a broker and a result backend: who is alive (heartbeats), which
tasks each worker registers (peers), the revoked ids, the cluster-wide rate limits, beat's
leader lease and entry state, the events feed and remote control (broadcast a command, gather
replies). ``Coordination`` holds those behind one narrow interface:

- ``runtime/redis/coordination.py`` (``RedisCoordination``): the hot path, on the broker's
  Redis (or ``$FLOWC_COORDINATION_URL``): hashes with TTLs, a sorted set of revocations,
  ``ratelimit.lua``, a capped events stream, pub/sub control, the ``beat_*.lua`` scripts;
- ``runtime/sql/coordination.py`` (``PgCoordination``): in the PostgreSQL result backend's
  database, so a RabbitMQ + PostgreSQL deployment needs no Redis at all: rows with server-time
  expiry, a token bucket row updated in one statement, LISTEN/NOTIFY for events and control,
  a lease row for beat.

``App.coordination`` picks one (``docs/transports.md``, "Running without Redis").
Times are unix seconds on the coordination store's clock (``now``), which is also the clock
due times are read on when the broker has none of its own (RabbitMQ).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

CONTROL_MAXLEN = 1000
"""Terminate commands kept for prefork supervisors (they read them within a fraction of a s)."""


@dataclass(frozen=True, slots=True)
class WorkerRecord:
    """One worker process as its heartbeat last described it; ``alive`` is False once its
    record expired (shown for a while so ``flowc status`` can say LOST)."""

    name: str
    alive: bool
    last_seen: float
    fields: dict[str, str] = field(default_factory=dict)
    """``hostname``, ``pid``, ``queues`` (comma-separated), ``pool``, ``ts``, ``processed``,
    ``tasks`` (a JSON list of registered task names)."""


class Lease(Protocol):
    """A held beat lease: its token (``"<fence>:<candidate>"``) and fencing number."""

    @property
    def token(self) -> str: ...

    @property
    def fence(self) -> int: ...


class BeatLock(Protocol):
    """Beat's leader lease: ``refresh()`` acquires a free lease or extends ours."""

    ttl_s: float
    candidate: str
    lease: Any
    holder: str | None

    @property
    def renew_interval_s(self) -> float:
        """How often to refresh (a fraction of the TTL)."""
        ...

    def refresh(self) -> Any:
        """Acquire the lease if free, extend it if ours; return it while we hold it."""
        ...

    def held(self) -> Any:
        """The lease if we hold it and it cannot have expired yet (by our monotonic clock)."""
        ...

    def release(self) -> None:
        """Give the lease up so a follower takes over without waiting the TTL."""
        ...


class BeatState(Protocol):
    """Beat's per-entry state, fenced by the lease token (``runtime/redis/beat_store.py``)."""

    def read(self, names: list[str]) -> dict[str, Any]:
        """``EntryState`` (last handled fire time, half-done due time) of each entry."""
        ...

    def claim(self, lease: Any, entry: str, due: datetime) -> int:
        """Mark ``due`` pending for ``entry``: CLAIMED, ALREADY_HANDLED, or raise LeaseLost."""
        ...

    def record(self, lease: Any, entry: str, instant: datetime, mode: str = "advance") -> None:
        """Advance (or initialise) the entry's last fire time; LeaseLost if fenced out."""
        ...

    def run_id(self, entry: str, due: datetime) -> str:
        """The task or workflow id of the run of ``entry`` due at ``due``: same everywhere."""
        ...


class ControlSubscription(Protocol):
    """A worker process's subscription to control commands."""

    def get(self, timeout_s: float) -> bytes | None:
        """The next command's payload, or None after ``timeout_s``."""
        ...

    def close(self) -> None:
        """Unsubscribe and release the connection."""
        ...


class Coordination(Protocol):
    """Cluster state besides queues and results (see the module docstring)."""

    def close(self) -> None:
        """Release connections this process holds (they reopen on next use)."""
        ...

    def now(self) -> float:
        """The store's clock, unix seconds (cached offset: no round trip per call)."""
        ...

    # --- liveness ------------------------------------------------------------------------------

    def beat(self, name: str, fields: Mapping[str, Any], ttl_s: float, now: float) -> None:
        """Write ``name``'s record; it counts as alive for ``ttl_s`` seconds."""
        ...

    def pulse(self, name: str, ttl_s: float, now: float) -> None:
        """Extend ``name``'s record by ``ttl_s`` without rewriting it (a no-op if it is gone)."""
        ...

    def leave(self, name: str) -> None:
        """Remove ``name``'s record (a clean stop, or a dead pool process)."""
        ...

    def workers(self, lost_shown_s: float) -> list[WorkerRecord]:
        """Every worker seen in the last ``lost_shown_s`` seconds, alive or not (older ones
        are forgotten)."""
        ...

    def peers(self, horizon: float) -> list[tuple[str, set[str], set[str]]]:
        """Live workers beaten since ``horizon``: ``(name, queues, registered tasks)``."""
        ...

    def alive(self, names: Sequence[str]) -> list[bool]:
        """Whether each named worker's record is still alive."""
        ...

    def elect(self, role: str, holder: str, ttl_s: float) -> bool:
        """Take the ``role`` (e.g. ``reaper``) for ``ttl_s`` unless another process holds it."""
        ...

    def worker_queues(self, name: str) -> list[str] | None:
        """The queues ``name`` advertised in its record (None when it has none yet)."""
        ...

    def register_queues(self, queues: Sequence[str]) -> None:
        """Add queue names to the registry ``flowc status`` lists."""
        ...

    def queue_names(self) -> set[str]:
        """Every queue name registered."""
        ...

    # --- revocations ---------------------------------------------------------------------------

    def revoke(self, ids: Sequence[str], now: float, keep_s: float, terminate: bool) -> None:
        """Add ids to the revoked set (stamped ``now``; entries older than ``keep_s`` go);
        with ``terminate``, also tell prefork supervisors to kill the processes running them."""
        ...

    def revoked_since(self, since: float) -> list[str]:
        """Ids revoked at or after ``since``."""
        ...

    def terminations(self, cursor: str | None) -> tuple[str, list[str]]:
        """Ids named by terminate commands after ``cursor`` (None: only new ones from now);
        returns the new cursor."""
        ...

    # --- rate limits ---------------------------------------------------------------------------

    def rate_slot(self, key: str, interval_ms: float) -> float:
        """Reserve the next start slot of limit ``key`` (GCRA: slots ``interval_ms`` apart);
        returns how many ms from now it is (0: start now)."""
        ...

    # --- events --------------------------------------------------------------------------------

    def add_events(self, payload: bytes, host: bytes, maxlen: int, pipe: Any = None) -> None:
        """Append one entry (a JSON list of events and compact task records, its sender);
        ``pipe``: a Redis pipeline of the same server to ride on, when the caller has one."""
        ...

    def read_events(self, last_id: str, block_ms: int | None = None,
                    count: int = 500) -> tuple[str, list[dict[str, Any]]]:
        """Events of entries after ``last_id`` (``$``: only new ones; ``0-0``: all;
        ``<unix ms>-0``: since then), waiting up to ``block_ms``; returns the new last id."""
        ...

    def event_entries(self, start_ms: int | None = None,
                      newest_first: bool = False,
                      count: int | None = None) -> Iterator[tuple[str, Any]]:
        """Raw entries ``(id, fields)`` since ``start_ms`` (all without it), oldest first or
        newest first; fields as ``events_read.decode_entry`` takes them."""
        ...

    # --- remote control ------------------------------------------------------------------------

    def subscribe_control(self) -> ControlSubscription:
        """Subscribe this process to control commands."""
        ...

    def broadcast(self, command: bytes, reply_to: str | None,
                  timeout_s: float) -> Iterator[bytes]:
        """Send a command to every subscribed process at once; then yield the replies gathered
        under ``reply_to`` as they come, until every process that heard it answered or
        ``timeout_s`` passed (the reply box is deleted at the end)."""
        ...

    def reply_control(self, reply_to: str, reply: bytes) -> None:
        """Answer the command whose replies are gathered under ``reply_to``."""
        ...

    def reply_box(self, request_id: str) -> str:
        """Where replies to request ``request_id`` are gathered (before it is published)."""
        ...

    # --- beat ----------------------------------------------------------------------------------

    def beat_lock(self, ttl_s: float) -> BeatLock:
        """Beat's leader lease with a fencing token."""
        ...

    def beat_state(self) -> BeatState:
        """Beat's per-entry state (claim, record), fenced by the lease token."""
        ...

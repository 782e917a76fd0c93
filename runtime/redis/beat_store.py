"""Beat's state and publishing in Redis: claim a due time, publish it once, record it.

``runtime/beat/publish.py`` builds what is published (a task's message, or a workflow run) and
calls ``publish_once`` here; this module holds the scripts and their keys.

Publishing one ``(entry, due time)`` takes three scripts, each atomic in one hash slot:

1. ``beat_claim.lua`` (slot ``{beat}``): the caller's fencing token must be current, and the
   entry must not have handled this due time yet; marks it ``pending``.
2. ``beat_publish.lua`` (the target queue's slot ``{q:<queue>}``): ``SET NX`` the fired marker
   ``(entry, due)`` with a TTL and enqueue the message in the same step; a second attempt finds
   the marker and writes nothing. A workflow is submitted under a workflow id derived from
   ``(entry, due)``, and ``workflow.lua`` stores a run id only once: the same guarantee.
3. ``beat_record.lua`` (slot ``{beat}``): token still current; ``last:<entry>`` advances to
   the due time and ``pending`` is cleared.

A crash between 2 and 3 leaves ``pending`` set: the next leader resumes it, and step 2 makes
that resumption a no-op if the message went out. So every due time is published exactly once,
also on Redis Cluster, where no single script may touch both slots.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import redis
from flowc.runtime.beat.lease import Lease
from flowc.runtime.redis import scripts

if TYPE_CHECKING:
    from flowc.runtime.broker import Outgoing
    from flowc.runtime.redis.keys import Keys

logger = logging.getLogger("flowc.beat")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
RUN_ID_NAMESPACE = uuid.UUID("6f1c2b1e-5b7a-4d3e-9a51-0c6e0be47a10")
"""uuid5 namespace of the task and workflow ids beat derives from (prefix, entry, due time)."""
CLAIMED, ALREADY_HANDLED, NOT_LEADER = 1, 0, -1


class LeaseLost(Exception):
    """Raised inside a tick when Redis says our fencing token is no longer current."""


def to_us(t: datetime) -> int:
    """An aware datetime as whole unix microseconds (exact: fire times are whole microseconds)."""
    return (t - EPOCH) // MICROSECOND


def from_us(value: int) -> datetime:
    """Unix microseconds back to an aware UTC datetime."""
    return EPOCH + value * MICROSECOND


@dataclass(frozen=True, slots=True)
class EntryState:
    """What Redis knows about an entry: last handled fire time, and a half-done due time."""

    last: datetime | None
    pending: datetime | None


@dataclass(frozen=True, slots=True)
class Published:
    """One publish attempt: the entry, its due time, the run id, and False for a duplicate."""

    entry: str
    due: datetime
    run_id: str
    new: bool


class BeatStore:
    """Typed wrappers around the ``beat_*.lua`` scripts, on the coordination Redis."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.keys = keys
        self.client = client
        self._claim = scripts.load(self.client, "beat_claim")
        self._record = scripts.load(self.client, "beat_record")
        self._publish = scripts.load(self.client, "beat_publish")

    # --- state --------------------------------------------------------------------------------

    def read(self, names: list[str]) -> dict[str, EntryState]:
        """The state of each entry, in one round trip."""
        if not names:
            return {}
        fields = [f"{kind}:{n}" for n in names for kind in ("last", "pending")]
        values: list[Any] = self.client.hmget(self.keys.beat_state(), fields)
        out = {}
        for i, name in enumerate(names):
            last, pending = values[2 * i], values[2 * i + 1]
            out[name] = EntryState(None if last is None else from_us(int(last)),
                                   None if pending is None else from_us(int(pending)))
        return out

    def claim(self, lease: Lease, entry: str, due: datetime) -> int:
        """``beat_claim.lua``: CLAIMED, ALREADY_HANDLED, or raise LeaseLost."""
        code = int(self._claim(keys=self._state_keys(),
                               args=[lease.token, lease.fence, entry, to_us(due)]))
        if code == NOT_LEADER:
            raise LeaseLost(entry)
        return code

    def record(self, lease: Lease, entry: str, instant: datetime, mode: str = "advance") -> None:
        """``beat_record.lua``: advance ``last:<entry>`` (or initialise it); LeaseLost if fenced."""
        code = int(self._record(keys=self._state_keys(),
                                args=[lease.token, lease.fence, entry, to_us(instant), mode]))
        if code == NOT_LEADER:
            raise LeaseLost(entry)

    def _state_keys(self) -> list[str]:
        return [self.keys.beat_lock(), self.keys.beat_fence(), self.keys.beat_state()]

    # --- publishing ---------------------------------------------------------------------------

    def run_id(self, entry: str, due: datetime) -> str:
        """The task (or workflow) id of the run of ``entry`` due at ``due``: same everywhere."""
        return str(uuid.uuid5(RUN_ID_NAMESPACE, f"{self.keys.prefix}\0{entry}\0{to_us(due)}"))

    def publish_once(self, entry: str, due: datetime, item: Outgoing, run_id: str,
                     ttl: timedelta, delayed: bool) -> Published:
        """``beat_publish.lua``: enqueue ``item`` (into its queue's delayed set when
        ``delayed``) unless the run of ``entry`` due at ``due`` was published within ``ttl``;
        the fired marker and the enqueue are one step, in the queue's slot."""
        marker = self.keys.beat_fired(entry, to_us(due), item.queue)
        if delayed:
            target = self.keys.delayed(item.queue)
            args: list[Any] = [_ms(ttl), run_id, "zadd", item.body, item.tag, item.eta,
                               str(item.priority)]
        else:
            target = self.keys.stream(item.queue, item.priority)
            args = [_ms(ttl), run_id, "xadd", item.body, item.tag]
        new, existing = self._publish(keys=[marker, target], args=args)
        first = existing.decode() if isinstance(existing, bytes) else str(existing)
        return Published(entry, due, first, bool(int(new)))


def _ms(value: timedelta) -> int:
    return max(1, int(value.total_seconds() * 1000))

"""The beat leader's lease in Redis, with a fencing token.

Every beat process runs the same loop; only the one holding the lease publishes. ``refresh()``
is one call of ``beat_lease.lua`` that both acquires a free lease and extends a held one, so
leaders and followers call the same thing every ``renew_interval_s``:

- acquiring takes a new **fencing token** ``"<fence>:<candidate>"`` where ``fence`` comes from
  ``INCR flowc:{beat}:fence``: every acquisition, by anyone, gets a larger number;
- renewing is compare-and-extend: ``PEXPIRE`` only while the lease still holds our token;
- a leader that dies stops renewing, its lease expires after ``ttl_s``, and the next follower to
  refresh takes it: takeover within ``ttl_s + renew_interval_s``;
- the publishing scripts (``beat_claim.lua``, ``beat_record.lua``) check the token again in
  Redis, so a leader that was paused past its lease (GC, SIGSTOP, a slow network) and still
  believes it leads cannot write once another process holds the lease.
"""

from __future__ import annotations

import logging
import time

import redis
from flowc.runtime.beat.lease import RENEW_FRACTION, Lease, LeaseState, candidate_id
from flowc.runtime.redis import scripts
from flowc.runtime.redis.keys import Keys

logger = logging.getLogger("flowc.beat")

__all__ = ["RENEW_FRACTION", "LeaderLock", "Lease", "candidate_id"]


class LeaderLock(LeaseState):
    """Acquire, renew and release the beat lease: ``refresh()`` returns the lease or None."""

    def __init__(self, client: redis.Redis, keys: Keys, ttl_s: float,
                 candidate: str | None = None) -> None:
        super().__init__(ttl_s, candidate)
        self.client = client
        self.keys = keys
        self._lease_script = scripts.load(client, "beat_lease")
        self._release_script = scripts.load(client, "beat_release")

    def refresh(self) -> Lease | None:
        """Acquire the lease if free, extend it if ours; return it while we hold it."""
        started = time.monotonic()
        mine = self.mine()
        ok, value = self._lease_script(
            keys=[self.keys.beat_lock(), self.keys.beat_fence()],
            args=[self.candidate, max(1, int(self.ttl_s * 1000)), mine])
        token = value.decode() if isinstance(value, bytes) else str(value)
        return self.settle(bool(int(ok)), token, started)

    def release(self) -> None:
        """Give the lease up (a clean stop) so a follower takes over without waiting the TTL."""
        if self.lease is None:
            return
        try:
            self._release_script(keys=[self.keys.beat_lock()], args=[self.lease.token])
        except redis.RedisError:
            logger.warning("beat: could not release the lease; it expires in %.1fs", self.ttl_s)
        finally:
            self.lease = None

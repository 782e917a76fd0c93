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
import os
import secrets
import socket
import time
from dataclasses import dataclass

import redis
from flowc.runtime.redis import scripts
from flowc.runtime.redis.keys import Keys

logger = logging.getLogger("flowc.beat")

RENEW_FRACTION = 3
"""The lease is refreshed ``RENEW_FRACTION`` times per TTL, so two refreshes may fail in a row."""


@dataclass(frozen=True, slots=True)
class Lease:
    """A held lease: the token and its fence number."""

    token: str

    @property
    def fence(self) -> int:
        """The fencing number (strictly larger for every acquisition cluster-wide)."""
        return int(self.token.split(":", 1)[0])


def candidate_id() -> str:
    """A name unique per process start: ``host.pid.random``."""
    return f"{socket.gethostname()}.{os.getpid()}.{secrets.token_hex(3)}"


class LeaderLock:
    """Acquire, renew and release the beat lease: ``refresh()`` returns the lease or None."""

    def __init__(self, client: redis.Redis, keys: Keys, ttl_s: float,
                 candidate: str | None = None) -> None:
        if ttl_s <= 0:
            raise ValueError(f"the beat lock TTL must be positive, got {ttl_s!r}")
        self.client = client
        self.keys = keys
        self.ttl_s = ttl_s
        self.candidate = candidate or candidate_id()
        self.lease: Lease | None = None
        self.holder: str | None = None
        """Who holds the lease when we do not (its token), for logs and ``flowc beat`` status."""
        self._valid_until = 0.0
        self._lease_script = scripts.load(client, "beat_lease")
        self._release_script = scripts.load(client, "beat_release")

    @property
    def renew_interval_s(self) -> float:
        """How often to refresh: a third of the TTL."""
        return self.ttl_s / RENEW_FRACTION

    def refresh(self) -> Lease | None:
        """Acquire the lease if free, extend it if ours; return it while we hold it."""
        started = time.monotonic()
        mine = self.lease.token if self.lease is not None else ""
        ok, value = self._lease_script(
            keys=[self.keys.beat_lock(), self.keys.beat_fence()],
            args=[self.candidate, max(1, int(self.ttl_s * 1000)), mine])
        token = value.decode() if isinstance(value, bytes) else str(value)
        if int(ok):
            if self.lease is None or self.lease.token != token:
                if self.lease is not None:
                    logger.warning("beat lease was lost and retaken (token %s)", token)
                logger.info("beat: leading with fencing token %s", token)
            self.lease = Lease(token)
            self.holder = token
            self._valid_until = started + self.ttl_s
            return self.lease
        if self.lease is not None:
            logger.warning("beat: lost the lease to %s; following", token)
        elif self.holder != token:
            logger.info("beat: following %s", token)
        self.lease = None
        self.holder = token
        return None

    def held(self) -> Lease | None:
        """The lease if we hold it and it cannot have expired yet (by our monotonic clock)."""
        if self.lease is not None and time.monotonic() < self._valid_until:
            return self.lease
        return None

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

"""The beat leader's lease as every store keeps it: a fencing token, the leading/following
transitions and how long a held lease is trusted by this process's clock.

The stores (``runtime/redis/beat_lock.py``, ``runtime/sql/coordination.py``) only differ in how
one refresh asks the server; what a reply means is decided here, once.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass

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


class LeaseState:
    """What a process knows of the lease: the one it holds (if any), who holds it otherwise,
    and until when its own can be trusted. A store's ``refresh()`` reports each reply here."""

    def __init__(self, ttl_s: float, candidate: str | None = None) -> None:
        if ttl_s <= 0:
            raise ValueError(f"the beat lock TTL must be positive, got {ttl_s!r}")
        self.ttl_s = ttl_s
        self.candidate = candidate or candidate_id()
        self.lease: Lease | None = None
        self.holder: str | None = None
        """Who holds the lease when we do not (its token), for logs and ``flowc beat`` status."""
        self._valid_until = 0.0

    @property
    def renew_interval_s(self) -> float:
        """How often to refresh: a third of the TTL."""
        return self.ttl_s / RENEW_FRACTION

    def mine(self) -> str:
        """The token to renew ("" when we hold none)."""
        return self.lease.token if self.lease is not None else ""

    def settle(self, leading: bool, token: str, started: float) -> Lease | None:
        """Record a refresh begun at ``started`` (monotonic) whose reply said ``token`` holds
        the lease, ours when ``leading``; return the lease while we hold it."""
        if leading:
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

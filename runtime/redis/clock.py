"""The Redis server's clock: every due time, expiry and rate slot is server time (issue 14).

Hosts' clocks drift; Redis's is the one every producer and worker shares. Scripts read it with
``TIME``; Python code reads it through ``ServerClock``, which keeps the offset between this
host's clock and the server's (one ``TIME`` round trip per ``RESYNC_S``, the midpoint of the
round trip), so asking the time costs no round trip.
"""

from __future__ import annotations

import time
from typing import Any

RESYNC_S = 30.0
"""How long a measured offset is trusted (clocks drift slowly; a jump is caught this late)."""


class ServerClock:
    """Unix seconds on the server's clock, from this host's clock plus a measured offset."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.offset_s = 0.0
        self.synced_at = -RESYNC_S

    def now(self) -> float:
        """The server's time now (re-measured when the offset is older than RESYNC_S)."""
        if time.monotonic() - self.synced_at >= RESYNC_S:
            self.sync()
        return time.time() + self.offset_s

    def sync(self) -> None:
        """Measure the offset with one ``TIME`` (assuming the reply was made mid-round-trip)."""
        before = time.time()
        reply = self.client.time()
        after = time.time()
        if isinstance(reply, dict):  # a cluster client answers per node: any node will do
            reply = next(iter(reply.values()))
        seconds, micros = reply
        self.offset_s = seconds + micros / 1e6 - (before + after) / 2
        self.synced_at = time.monotonic()

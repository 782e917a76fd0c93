"""Helpers for the beat tests: read what beat published straight from the queue streams."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import redis
from flowc.runtime.redis.keys import Keys


@dataclass(frozen=True)
class Sent:
    """One published message: its envelope, and when Redis received it (stream id, ms)."""

    envelope: dict[str, Any]
    added_ms: int

    @property
    def entry(self) -> str:
        return str(self.envelope["headers"]["beat_entry"])

    @property
    def due(self) -> datetime:
        return datetime.fromisoformat(self.envelope["headers"]["beat_due"])


def sent(client: redis.Redis, queue: str = "celery", keys: Keys | None = None) -> list[Sent]:
    """Every message in ``queue``'s streams (any priority), oldest first."""
    keys = keys or Keys()
    out = []
    for stream in keys.streams(queue):
        entries: Any = client.xrange(stream)
        for entry_id, fields in entries:
            ms = int(entry_id.split(b"-")[0])
            out.append(Sent(orjson.loads(fields[b"b"]), ms))
    return sorted(out, key=lambda s: (s.added_ms, s.due))


def dues(client: redis.Redis, entry: str, queue: str = "celery") -> list[datetime]:
    """The due times ``entry`` published, in publishing order."""
    return [s.due for s in sent(client, queue) if s.entry == entry]

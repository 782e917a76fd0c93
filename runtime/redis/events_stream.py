"""Reading the events stream from Redis: new entries after an id, or a range, as events.

The stream's entries are decoded by ``monitoring/events_read.decode_entry`` (one definition of
the entry format); this module is only the Redis side of reading them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis
from flowc.runtime.monitoring.events_read import decode_entry


def read_since(client: redis.Redis, key: str, last_id: str, block_ms: int | None = None,
               count: int = 500) -> tuple[str, list[dict[str, Any]]]:
    """Events after entry ``last_id`` (``$`` for new ones only); returns the new last id."""
    reply: Any = client.xread({key: last_id}, count=count, block=block_ms)
    events: list[dict[str, Any]] = []
    for _, entries in reply or ():
        for entry_id, fields in entries:
            last_id = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
            events.extend(decode_entry(fields))
    return last_id, events


def iter_range(client: redis.Redis, key: str, start: str = "-", end: str = "+",
               page: int = 1000) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """``(entry id, events)`` from ``start`` to ``end``, oldest first, paged."""
    while True:
        reply: Any = client.xrange(key, start, end, count=page)
        if not reply:
            return
        for entry_id, fields in reply:
            yield (entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id),
                   decode_entry(fields))
        if len(reply) < page:
            return
        last = reply[-1][0]
        start = "(" + (last.decode() if isinstance(last, bytes) else str(last))

"""Typed views of redis-py replies.

flowc's clients come from :func:`flowc.runtime.redis.connection.connect` with
``decode_responses=False``, so every string in a reply is ``bytes``. redis-py types replies as
``bytes | str`` (and some as optional) because that choice is made at run time; these helpers
state the bytes assumption in one place instead of at every call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

RawHash = Mapping[bytes | str, bytes | str]
"""An HGETALL reply as redis-py types it."""

RawStream = Sequence[tuple[bytes | str | None, Mapping[bytes | str, bytes | str] | None]] | None
"""An XRANGE/XREVRANGE reply as redis-py types it."""

StreamEntry = tuple[bytes, dict[bytes, bytes]]
"""One stream entry of a bytes client: its id and its fields."""


def bytes_hash(reply: RawHash) -> dict[bytes, bytes]:
    """An HGETALL reply of a bytes client."""
    return cast("dict[bytes, bytes]", reply)


def stream_entries(reply: RawStream) -> list[StreamEntry]:
    """An XRANGE/XREVRANGE reply of a bytes client (redis-py's ``None`` never happens: ``[]``)."""
    return [] if reply is None else cast("list[StreamEntry]", reply)

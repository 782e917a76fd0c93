"""Reading the events stream: stream entries back into the events they hold.

An entry's field ``e`` is a JSON list of event objects and compact task records (see
``events.EventSender.task_done``); ``decode_entry`` expands each record into the
``task-received``, ``task-started`` and ``task-succeeded`` events it stands for, so every reader
(``flowc events``, the dashboard, ``flowc status`` rates, metrics) sees plain Celery-style events.
Reading the stream itself is the Redis adapter's (``runtime/redis/events_stream.py``).
"""

from __future__ import annotations

from typing import Any

import orjson
from flowc.runtime.monitoring.events import COMPACT_TASK, EVENT_FIELD, HOST_FIELD


def decode_entry(fields: dict[bytes, bytes]) -> list[dict[str, Any]]:
    """The events of one stream entry in time order, compact task records expanded (an entry
    written by another tool yields nothing)."""
    raw = fields.get(EVENT_FIELD)
    if raw is None:
        return []
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return []
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        return []
    events: list[dict[str, Any]] = []
    host = fields.get(HOST_FIELD, b"")
    hostname = host.decode(errors="replace") if isinstance(host, bytes) else str(host)
    for item in value:
        if isinstance(item, dict):
            events.append(item)
        elif isinstance(item, list) and item and item[0] == COMPACT_TASK:
            try:
                events += _expand(item, hostname)
            except (TypeError, ValueError):  # a record of another length: not ours to read
                continue
    # a compact record sits where its task finished, and a flush writes the received and
    # started events of tasks still running with the times they happened: sort by time
    events.sort(key=_event_time)
    return events


def count_types(fields: dict[bytes, bytes], counts: dict[str, int]) -> None:
    """Add the events of one stream entry to ``counts`` by type, without expanding compact
    records (each is one task-received, task-started and task-succeeded): for rates."""
    raw = fields.get(EVENT_FIELD)
    try:
        value = orjson.loads(raw) if raw is not None else None
    except orjson.JSONDecodeError:
        return
    items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
    for item in items:
        if isinstance(item, dict):
            kind = str(item.get("type", ""))
            counts[kind] = counts.get(kind, 0) + 1
        elif isinstance(item, list) and item and item[0] == COMPACT_TASK:
            for kind in _COMPACT_TYPES:
                counts[kind] = counts.get(kind, 0) + 1


_COMPACT_TYPES = ("task-received", "task-started", "task-succeeded")


def _event_time(event: dict[str, Any]) -> float:
    ts = event.get("ts")
    return float(ts) if isinstance(ts, int | float) else 0.0


_OPTIONAL_AT = (("eta", 8), ("expires", 9), ("root_id", 10), ("parent_id", 11))


def _expand(record: list[Any], hostname: str) -> list[dict[str, Any]]:
    """The three events a compact task record stands for (``EventSender.task_done``)."""
    (_, uuid, name, queue, priority, retries, args, kwargs, _eta, _expires, _root, _parent,
     workflow_id, node, received_at, started_at, pid, result, runtime_s) = record
    received = {"uuid": uuid, "name": name, "queue": queue, "priority": priority,
                "retries": retries, "args": args, "kwargs": kwargs}
    for key, at in _OPTIONAL_AT:
        if record[at] is not None:
            received[key] = record[at]
    if workflow_id is not None or node is not None:
        received.update(workflow_id=workflow_id, node=node)
    received.update(type="task-received", ts=received_at, hostname=hostname)
    return [received,
            {"uuid": uuid, "pid": pid, "type": "task-started", "ts": started_at,
             "hostname": hostname},
            {"uuid": uuid, "result": result, "runtime": runtime_s, "type": "task-succeeded",
             "ts": started_at + runtime_s, "hostname": hostname}]

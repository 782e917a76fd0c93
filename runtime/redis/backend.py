"""Results in Redis: a one-element list per task, so a waiter can block on it with BLMOVE.

``BLMOVE k k RIGHT LEFT`` on a one-element list returns the element and leaves it in place,
so any number of waiters wake the moment the worker's RPUSH lands, with no polling and no
pub/sub subscription, and a waiter that starts after the result exists returns at once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import redis
from flowc.runtime.redis import scripts
from flowc.runtime.redis.connection import is_cluster
from flowc.runtime.redis.held import held_for
from flowc.runtime.redis.keys import Keys
from redis.crc import key_slot

STORE_CALL_BYTES = 64 * 1024
"""The most record bytes one store.lua call writes (more go in further calls on the same
pipeline): how far one call can take a full Redis past its maxmemory."""

WAIT_SLICE_S = 5.0
"""Longest single blocking call; waits are cut in slices so a dropped connection recovers."""


class RedisResultBackend:
    """Stores records under ``<prefix>:result:<id>`` and states under ``<prefix>:state:<id>``."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self.held = held_for(client)
        self.cluster = is_cluster(client)

    def close(self) -> None:
        """Close the held connection of this thread (the pool is the client's to close)."""
        self.held.close()

    def store(self, items: Sequence[tuple[str, bytes]], ttl_s: float | None,
              pipe: redis.client.Pipeline | None = None) -> None:
        """Replace each record (store.lua: one call per batch; idempotent).

        The in-flight state key is left to expire: readers look at the record first.
        """
        if not items:
            return
        target = self.client.pipeline(transaction=False) if pipe is None else pipe
        ttl = max(1, int(ttl_s)) if ttl_s else 0
        if self.cluster:  # one store.lua call per hash slot: a script's keys share a slot
            by_slot: dict[int, list[tuple[str, bytes]]] = {}
            for tid, rec in items:
                key = self.keys.result(tid)
                by_slot.setdefault(key_slot(key.encode()), []).append((key, rec))
            for group in by_slot.values():
                for chunk in _by_size(group):
                    scripts.queue_eval(target, "store", [k for k, _ in chunk],
                                       [ttl, *(rec for _, rec in chunk)])
        else:
            for chunk in _by_size(items):
                scripts.queue_eval(target, "store", [self.keys.result(tid) for tid, _ in chunk],
                                   [ttl, *(rec for _, rec in chunk)])
        if pipe is None:
            target.execute()

    def set_state(self, items: Sequence[tuple[str, bytes]], ttl_s: float | None,
                  pipe: redis.client.Pipeline | None = None) -> None:
        """SET each state record with the result TTL, and publish it for ``watch`` (a waiter
        with ``on_message`` sees every update, not only the latest)."""
        target = self.client.pipeline(transaction=False) if pipe is None else pipe
        for task_id, record in items:
            target.set(self.keys.state(task_id), record, ex=max(1, int(ttl_s)) if ttl_s else None)
            if self.cluster:  # a cluster pipeline refuses PUBLISH (no key to route it by):
                # sharded pub/sub goes to the channel's slot, where ``watch`` subscribes
                target.execute_command("SPUBLISH", self.keys.state_channel(task_id), record)
            else:
                target.publish(self.keys.state_channel(task_id), record)
        if pipe is None:
            target.execute()

    def get(self, task_id: str) -> tuple[bytes | None, bytes | None]:
        """One round trip for both the terminal record and the in-flight state."""
        pipe = self.client.pipeline(transaction=False)
        pipe.lindex(self.keys.result(task_id), 0)
        pipe.get(self.keys.state(task_id))
        record, state = pipe.execute()
        return record, state

    def wait(self, task_id: str, timeout_s: float | None) -> bytes | None:
        """Block on BLMOVE in slices until the record exists or ``timeout_s`` passes."""
        key = self.keys.result(task_id)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            slice_s = WAIT_SLICE_S
            if deadline is not None:
                slice_s = min(slice_s, deadline - time.monotonic())
                if slice_s <= 0:
                    return None
            got: Any = self.held.execute("BLMOVE", key, key, "RIGHT", "LEFT",
                                         f"{max(slice_s, 0.001):.3f}")
            if got is not None:
                return bytes(got)

    def claim_key(self, key: str, task_id: str, ttl_s: float) -> str | None:
        """SET NX with the TTL; the holder's task id if the key was taken."""
        name = f"{self.keys.prefix}:idem:{key}"
        if self.client.set(name, task_id, nx=True, px=max(1, int(ttl_s * 1000))):
            return None
        held: Any = self.client.get(name)
        return None if held is None else bytes(held).decode()

    def watch(self, task_id: str) -> Any:
        """A pub/sub subscription to the task's state updates (``get_message``, ``close``)."""
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        if self.cluster:
            pubsub.ssubscribe(self.keys.state_channel(task_id))
            return ShardedUpdates(pubsub)
        pubsub.subscribe(self.keys.state_channel(task_id))
        return pubsub

    def forget(self, task_id: str) -> None:
        """Delete the record and the state."""
        self.client.delete(self.keys.result(task_id), self.keys.state(task_id))


def _by_size(items: Sequence[tuple[str, bytes]]) -> list[Sequence[tuple[str, bytes]]]:
    """``items`` in runs of at most ``STORE_CALL_BYTES`` of records (a record larger than that
    alone): Redis checks maxmemory once per script call, so this bounds how far past the limit
    one call can write (see store.lua)."""
    if sum(len(rec) for _, rec in items) <= STORE_CALL_BYTES:
        return [items]
    chunks: list[Sequence[tuple[str, bytes]]] = []
    start, size = 0, 0
    for i, (_, rec) in enumerate(items):
        if size and size + len(rec) > STORE_CALL_BYTES:
            chunks.append(items[start:i])
            start, size = i, 0
        size += len(rec)
    chunks.append(items[start:])
    return chunks


class ShardedUpdates:
    """``watch`` on a Redis Cluster: a sharded subscription (SSUBSCRIBE, Redis >= 7) read
    through the same ``get_message``/``close`` as a plain one."""

    def __init__(self, pubsub: Any) -> None:
        self.pubsub = pubsub

    def get_message(self, timeout: float = 0.0) -> dict[str, Any] | None:
        """The next published state update, or None after ``timeout`` seconds."""
        message: dict[str, Any] | None = self.pubsub.get_sharded_message(
            ignore_subscribe_messages=True, timeout=timeout)
        return message

    def close(self) -> None:
        """Unsubscribe and release the connections."""
        self.pubsub.close()

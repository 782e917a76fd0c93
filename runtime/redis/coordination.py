"""``Coordination`` on Redis: the commands the worker, beat and monitoring modules used to send
through ``app.broker_client`` themselves, moved here unchanged (same keys, same round trips).

Keys (``keys.py``, ``docs/architecture.md``): ``worker:<name>`` hashes with a TTL and the
``workers`` sorted set; ``queues``; ``reaper``; ``revoked`` (sorted set by time) and the
``control`` stream (terminate commands for prefork supervisors); ``rate:{<task>}``
(``ratelimit.lua``); the capped ``events`` stream; the pub/sub control channel and
``ctl:reply:<id>`` lists; beat's ``{beat}`` lease, fence and state (``beat_lock.py``,
``beat_store.py``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson
import redis
from flowc.runtime.coordination import CONTROL_MAXLEN, WorkerRecord
from flowc.runtime.monitoring.events import EVENT_FIELD, HOST_FIELD
from flowc.runtime.redis import scripts
from flowc.runtime.redis.beat_lock import LeaderLock
from flowc.runtime.redis.beat_store import BeatStore
from flowc.runtime.redis.clock import ServerClock
from flowc.runtime.redis.events_stream import read_since
from flowc.runtime.redis.keys import Keys

REPLY_TTL_S = 60
"""Seconds a reply list is kept for a caller that gave up early."""


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisSubscription:
    """A pub/sub subscription to the control channel."""

    def __init__(self, client: redis.Redis, channel: str) -> None:
        self.pubsub = client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(channel)

    def get(self, timeout_s: float) -> bytes | None:
        deadline = time.monotonic() + timeout_s
        while True:  # the subscribe confirmation comes back as None before the deadline
            message = self.pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
            if message is not None and message.get("type") == "message":
                data: bytes = message["data"]
                return data
            if time.monotonic() >= deadline:
                return None

    def close(self) -> None:
        self.pubsub.close()


class RedisCoordination:
    """``Coordination`` on one Redis (the broker's, or the coordination URL's)."""

    def __init__(self, client: redis.Redis, keys: Keys, clock: ServerClock | None = None) -> None:
        self.client = client
        self.keys = keys
        self.clock = clock or ServerClock(client)
        self._rate_script: Any = None

    def close(self) -> None:
        """The client is the app's: it closes it."""

    def now(self) -> float:
        return self.clock.now()

    # --- liveness ------------------------------------------------------------------------------

    def beat(self, name: str, fields: Mapping[str, Any], ttl_s: float, now: float) -> None:
        key = self.keys.worker(name)
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(key, mapping=dict(fields))  # type: ignore[arg-type]
        pipe.pexpire(key, max(1, int(ttl_s * 1000)))
        pipe.zadd(self.keys.workers(), {name: now})
        pipe.execute()

    def pulse(self, name: str, ttl_s: float, now: float) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.pexpire(self.keys.worker(name), max(1, int(ttl_s * 1000)))
        pipe.zadd(self.keys.workers(), {name: now}, xx=True)
        pipe.execute()

    def leave(self, name: str) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.delete(self.keys.worker(name))
        pipe.zrem(self.keys.workers(), name)
        pipe.execute()

    def workers(self, lost_shown_s: float) -> list[WorkerRecord]:
        now = time.time()
        self.client.zremrangebyscore(self.keys.workers(), "-inf", now - lost_shown_s)
        members: Any = self.client.zrange(self.keys.workers(), 0, -1, withscores=True)
        pipe = self.client.pipeline(transaction=False)
        for name, _ in members:
            pipe.hgetall(self.keys.worker(_s(name)))
        out = []
        for (name, score), info in zip(members, pipe.execute(), strict=True):
            data = {_s(k): _s(v) for k, v in info.items()}
            out.append(WorkerRecord(_s(name), bool(data), float(data.get("ts", score)), data))
        return out

    def peers(self, horizon: float) -> list[tuple[str, set[str], set[str]]]:
        names: Any = self.client.zrangebyscore(self.keys.workers(), horizon, "+inf")
        pipe = self.client.pipeline(transaction=False)
        decoded = [_s(n) for n in names]
        for name in decoded:
            pipe.hmget(self.keys.worker(name), "queues", "tasks")
        out = []
        for name, (queues, tasks) in zip(decoded, pipe.execute(), strict=True):
            if queues is None or tasks is None:
                continue  # expired (lost), or a worker too old to advertise its tasks
            out.append((name, set(queues.decode().split(",")), set(orjson.loads(tasks))))
        return out

    def alive(self, names: Sequence[str]) -> list[bool]:
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.exists(self.keys.worker(name))
        return [bool(up) for up in pipe.execute()]

    def elect(self, role: str, holder: str, ttl_s: float) -> bool:
        key = self.keys.reaper() if role == "reaper" else f"{self.keys.prefix}:{role}"
        return bool(self.client.set(key, holder, nx=True, px=max(1, int(ttl_s * 1000))))

    def worker_queues(self, name: str) -> list[str] | None:
        raw = self.client.hget(self.keys.worker(name), "queues")
        if not raw:
            return None
        return [q for q in _s(raw).split(",") if q]

    def register_queues(self, queues: Sequence[str]) -> None:
        if queues:
            self.client.sadd(self.keys.queues(), *queues)

    def queue_names(self) -> set[str]:
        members: Any = self.client.smembers(self.keys.queues())
        return {_s(m) for m in members}

    # --- revocations ---------------------------------------------------------------------------

    def revoke(self, ids: Sequence[str], now: float, keep_s: float, terminate: bool) -> None:
        pipe = self.client.pipeline(transaction=False)
        key = self.keys.revoked()
        pipe.zadd(key, dict.fromkeys(ids, now))
        pipe.zremrangebyscore(key, "-inf", now - keep_s)
        if terminate:
            pipe.xadd(self.keys.control(),
                      {b"cmd": orjson.dumps({"op": "revoke", "ids": list(ids),
                                             "terminate": True})},
                      maxlen=CONTROL_MAXLEN, approximate=True)
        pipe.execute()

    def revoked_since(self, since: float) -> list[str]:
        new: Any = self.client.zrangebyscore(self.keys.revoked(), since, "+inf")
        return [_s(i) for i in new]

    def terminations(self, cursor: str | None) -> tuple[str, list[str]]:
        if cursor is None:  # from now on: after the newest entry
            newest: Any = self.client.xrevrange(self.keys.control(), count=1)
            return (_s(newest[0][0]) if newest else "0-0"), []
        reply: Any = self.client.xread({self.keys.control(): cursor}, count=100)
        ids: list[str] = []
        for _, entries in reply or ():
            for entry_id, fields in entries:
                cursor = _s(entry_id)
                command = orjson.loads(fields.get(b"cmd", b"{}"))
                if command.get("op") == "revoke" and command.get("terminate"):
                    ids.extend(str(i) for i in command.get("ids", []))
        return cursor, ids

    # --- rate limits ---------------------------------------------------------------------------

    def rate_slot(self, key: str, interval_ms: float) -> float:
        if self._rate_script is None:
            self._rate_script = scripts.load(self.client, "ratelimit")
        wait_ms, _slot = self._rate_script(keys=[key], args=[f"{interval_ms:.3f}"])
        return float(wait_ms)

    # --- events --------------------------------------------------------------------------------

    def add_events(self, payload: bytes, host: bytes, maxlen: int, pipe: Any = None) -> None:
        target = pipe if pipe is not None else self.client
        target.xadd(self.keys.events(), {EVENT_FIELD: payload, HOST_FIELD: host},
                    maxlen=maxlen, approximate=True)

    def read_events(self, last_id: str, block_ms: int | None = None,
                    count: int = 500) -> tuple[str, list[dict[str, Any]]]:
        return read_since(self.client, self.keys.events(), last_id, block_ms, count)

    def event_entries(self, start_ms: int | None = None, newest_first: bool = False,
                      count: int | None = None) -> Iterator[tuple[str, Any]]:
        key = self.keys.events()
        start = "-" if start_ms is None else str(start_ms)
        if newest_first:
            rows: Any = self.client.xrevrange(key, "+", start, count=count)
            for entry_id, fields in rows:
                yield _s(entry_id), fields
            return
        left = count
        while left is None or left > 0:
            page = 1000 if left is None else min(1000, left)
            rows = self.client.xrange(key, start, "+", count=page)
            for entry_id, fields in rows:
                yield _s(entry_id), fields
            if left is not None:
                left -= len(rows)
            if len(rows) < page:
                return
            start = "(" + _s(rows[-1][0])

    # --- remote control ------------------------------------------------------------------------

    def channel(self) -> str:
        """The control channel on the database the client uses (pub/sub ignores databases)."""
        pool = getattr(self.client, "connection_pool", None)  # a cluster has none: db 0
        db = pool.connection_kwargs.get("db", 0) if pool is not None else 0
        return self.keys.control_channel(int(db or 0))

    def subscribe_control(self) -> RedisSubscription:
        return RedisSubscription(self.client, self.channel())

    def reply_box(self, request_id: str) -> str:
        return self.keys.control_reply(request_id)

    def broadcast(self, command: bytes, reply_to: str | None,
                  timeout_s: float) -> Iterator[bytes]:
        heard = int(self.client.publish(self.channel(), command))
        return self._replies(reply_to, heard, timeout_s)

    def _replies(self, reply_to: str | None, heard: int, timeout_s: float) -> Iterator[bytes]:
        if reply_to is None or heard == 0:
            return
        deadline = time.monotonic() + timeout_s
        try:
            for _ in range(heard):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                found: Any = self.client.blpop([reply_to], timeout=max(0.01, left))
                if found is None:
                    break
                yield found[1]
        finally:
            self.client.delete(reply_to)

    def reply_control(self, reply_to: str, reply: bytes) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.rpush(reply_to, reply)
        pipe.expire(reply_to, REPLY_TTL_S)
        pipe.execute()

    # --- beat ----------------------------------------------------------------------------------

    def beat_lock(self, ttl_s: float) -> LeaderLock:
        return LeaderLock(self.client, self.keys, ttl_s)

    def beat_state(self) -> BeatStore:
        return BeatStore(self.client, self.keys)

"""The Redis broker: one stream per (queue, priority), a consumer group, Lua for atomic steps.

Design (docs/architecture.md): producers XADD to ``{q:<queue>}:p<priority>``; workers claim
with XREADGROUP (so claimed messages sit in the pending list until acked: nothing is lost when
a worker dies), most urgent stream first, in batches; acks are XACK+XDEL pipelined per batch.
Countdown/eta messages wait in a per-queue sorted set and are moved by ``promote.lua``.

Idle workers wait in ``XREADGROUP BLOCK`` on a second group of every stream, the *wake* group,
read with NOACK: it claims nothing in the consumer group (claims stay in priority order, by
``fetch.lua``), wakes one waiter per new entry instead of all of them, and skips what a worker
claimed in the same step that added it (``workflow.lua`` hands a chain's next step straight
to the worker that finished the previous one and moves the wake group past it). A waiter
claims with ``fetch.lua`` as soon as it wakes; if someone else claimed the message meanwhile,
it waits again (``fetch.lua``'s idle path moves the wake group to the streams' ends). A wait
that finds entries in several streams takes a wake from each; wakes its batch could not use are
handed back by ``fetch.lua`` (the wake group moved back to the consumer group's last-delivered
id). Moving a group wakes nobody already blocked: a waiter that blocked in the one round trip
between such a wait and its claim waits for the next entry or its timeout (under a second).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import redis
from flowc.runtime.broker import Delivery, Outgoing
from flowc.runtime.exceptions import BrokerFull
from flowc.runtime.redis import scripts
from flowc.runtime.redis.clock import ServerClock
from flowc.runtime.redis.connection import check_wait_replicas, connection_errors, is_cluster
from flowc.runtime.redis.held import ProducerNumbers, held_for
from flowc.runtime.redis.keys import CONSUMER_GROUP, PRIORITY_LEVELS, Keys
from redis.typing import EncodableT

logger = logging.getLogger("flowc.broker")

PROMOTE_BATCH = 1000
"""The most delayed messages one promote call moves (it loops while more are due)."""
RECLAIM_BATCH = 500
"""The most entries one reclaim call returns (it loops while the consumer has more)."""
SLOT_WAIT_S = 0.2
"""On a Redis Cluster, how long an idle worker with queues in several slots waits on one
queue's wake group before it looks at the next (see ``RedisBroker._fetch_slots``)."""
PRODUCER_TTL_MS = 600_000
"""How long a producer thread's last publish number is kept after its last publish: longer
than any re-send of one publish can take (the clients' retries give up after about 16 s, plus
connect timeouts)."""
WAKE_GROUP = "wake"
"""The group idle workers block on (NOACK; never claims a message, see the module docstring)."""
WAITER = "waiter"
"""The one consumer name every waiter uses in the wake group (NOACK leaves it nothing pending)."""


class RedisBroker:
    """Broker on Redis >= 6.2 (or Valkey) using streams and consumer groups."""

    def __init__(self, client: redis.Redis, keys: Keys, wait_replicas: int = 0,
                 wait_timeout_ms: int = 1000) -> None:
        check_wait_replicas(client, wait_replicas)
        self.client = client
        self.keys = keys
        self.wait_replicas = wait_replicas
        """Replicas a publish waits for (``WAIT``; ``flowc_wait_replicas``), 0: none."""
        self.wait_timeout_ms = wait_timeout_ms
        self._fetch = scripts.load(client, "fetch")
        self._promote = scripts.load(client, "promote")
        self._requeue = scripts.load(client, "requeue")
        self._reclaim = scripts.load(client, "reclaim")
        self._publish_once = scripts.load(client, "publish_once")
        self.publish_script = scripts.load(client, "publish")
        self.numbers = ProducerNumbers()
        self._declared: set[str] = set()
        self.held = held_for(client)
        self.cluster = is_cluster(client)
        """A Redis Cluster: claims and waits go queue by queue (each queue is one slot)."""
        self.clock = ServerClock(client)

    def close(self) -> None:
        """Close the held connection of this thread (the pool is the client's to close)."""
        self.held.close()

    # --- producing ----------------------------------------------------------------------------

    def publish(self, items: Sequence[Outgoing]) -> None:
        """XADD ready messages and ZADD delayed ones; one round trip for the whole batch (a
        single ready message goes on this thread's held connection: ``delay()``'s hot path).
        Raises BrokerFull when Redis is out of memory."""
        try:
            self._publish(items)
        except redis.exceptions.OutOfMemoryError as e:
            raise broker_full(self.client) from e

    def _publish(self, items: Sequence[Outgoing]) -> None:
        if len(items) == 1 and not self.wait_replicas:
            item = items[0]
            if item.eta is None:
                self._publish_held(item)
                return
        for attempt in range(2):
            pipe = self.client.pipeline(transaction=False)
            for item in items:
                self._publish_one(pipe, item)
            self.queue_wait(pipe)
            try:
                self.check_wait(pipe.execute())
                return
            except redis.exceptions.NoScriptError:  # after a server restart: load it, again
                if attempt:
                    raise
                scripts.ensure_loaded(self.client, self.publish_script)

    def _publish_held(self, item: Outgoing) -> None:
        """``delay()``'s hot path: the producer's number and the XADD in one MULTI/EXEC (no
        script to run: a quarter of publish.lua's server time); only a re-send after a dropped
        connection goes through publish.lua, which tells whether the first copy ran."""
        args = self._publish_args(item)
        _, stream, producer, number, ttl_ms, body, tag = args
        script = ("EVALSHA", self.publish_script.sha, *args)
        try:
            self.held.transact([("SET", producer, number, "PX", ttl_ms),
                                ("XADD", stream, "*", "b", body, "c", tag)], again=script)
        except redis.exceptions.NoScriptError:  # the re-send did not run: load, send again
            scripts.ensure_loaded(self.client, self.publish_script)
            self.held.execute(*script)

    def _publish_args(self, item: Outgoing) -> list[EncodableT]:
        """``publish.lua``'s keys and arguments (after the key count) for a ready message."""
        token, number = self.numbers.next()
        return [2, self.keys.stream(item.queue, item.priority),
                self.keys.producer(item.queue, token), number, PRODUCER_TTL_MS, item.body,
                item.tag]

    def queue_wait(self, pipe: redis.client.Pipeline) -> None:
        """Queue ``WAIT`` for ``wait_replicas`` replicas at the end of a pipeline (if set)."""
        if self.wait_replicas:
            pipe.execute_command("WAIT", self.wait_replicas, self.wait_timeout_ms)

    def check_wait(self, replies: list[Any]) -> None:
        """Log when the pipeline's ``WAIT`` returned before enough replicas had the writes."""
        if self.wait_replicas and replies and isinstance(replies[-1], int) \
                and replies[-1] < self.wait_replicas:
            logger.warning("only %d of %d replicas acknowledged a publish within %d ms: a "
                           "failover now could lose it", replies[-1], self.wait_replicas,
                           self.wait_timeout_ms)

    def publish_once(self, item: Outgoing, key: str, task_id: str, ttl_s: float) -> str | None:
        """Enqueue unless ``key`` was used within ``ttl_s``; return the first task's id if so."""
        idem = self.keys.idempotency(key, item.queue)
        if item.eta is not None and item.eta > self.clock.now():
            args: list[EncodableT] = [
                task_id, int(ttl_s * 1000), "delayed", _delayed_member(item), repr(item.eta)
            ]
            target = self.keys.delayed(item.queue)
        else:
            args = [task_id, int(ttl_s * 1000), "ready", item.body, item.tag]
            target = self.keys.stream(item.queue, item.priority)
        try:
            first = self._publish_once(keys=[idem, target], args=args)
        except redis.exceptions.OutOfMemoryError as e:
            raise broker_full(self.client) from e
        if self.wait_replicas:
            self.check_wait([self.client.execute_command("WAIT", self.wait_replicas,
                                                         self.wait_timeout_ms)])
        return None if first is None else first.decode()

    def _publish_one(self, target: redis.Redis, item: Outgoing) -> None:
        if item.eta is not None and item.eta > self.clock.now():
            member = _delayed_member(item)
            target.zadd(self.keys.delayed(item.queue), {member: item.eta})
        else:  # publish.lua: a pipeline the client re-sends after a dropped connection
            target.execute_command("EVALSHA", self.publish_script.sha,
                                   *self._publish_args(item))

    # --- consuming ----------------------------------------------------------------------------

    def declare(self, queues: Sequence[str]) -> None:
        """Create each queue's streams and attach the consumer group (idempotent)."""
        pipe = self.client.pipeline(transaction=False)
        todo = [q for q in queues if q not in self._declared]
        for queue in todo:
            for key in self.keys.streams(queue):
                pipe.xgroup_create(key, CONSUMER_GROUP, id="0", mkstream=True)
                pipe.xgroup_create(key, WAKE_GROUP, id="$", mkstream=True)
            pipe.sadd(self.keys.queues(), queue)
        for result in pipe.execute(raise_on_error=False):
            if isinstance(result, Exception) and "BUSYGROUP" not in str(result):
                raise result
        self._declared.update(todo)

    def stream_keys(self, queues: Sequence[str]) -> list[str]:
        """Streams to drain, all priority-9 streams first, then 8, ... then 0."""
        return [self.keys.stream(q, p) for p in range(PRIORITY_LEVELS - 1, -1, -1) for q in queues]

    def fetch(self, consumer: str, queues: Sequence[str], count: int,
              block_s: float, idle_ids: list[bytes] | None = None) -> list[Delivery]:
        """Claim a batch with fetch.lua; when everything is empty, wait and claim again.

        The wait (XREADGROUP BLOCK on the wake group, NOACK) claims nothing: a plain
        XREADGROUP BLOCK would hand this worker the first message to arrive whatever its
        priority; waiting first and claiming with fetch.lua keeps claims in priority order.
        """
        if self.cluster and len(set(queues)) > 1:
            return self._fetch_slots(consumer, queues, count, block_s)
        keys = self.stream_keys(queues)
        if not (idle_ids and len(idle_ids) == len(keys)):  # else a piggybacked claim was idle
            found = self._claim(keys, consumer, count)[0]
            if found or block_s <= 0:
                return found
        elif block_s <= 0:
            return []
        streams: Any = dict.fromkeys(keys, ">")
        deadline = time.monotonic() + block_s
        while True:
            try:
                reply: Any = self.client.xreadgroup(WAKE_GROUP, WAITER, streams, count=1,
                                                    block=max(1, int(block_s * 1000)),
                                                    noack=True)
            except redis.ResponseError as e:
                if "NOGROUP" not in str(e) and "UNBLOCKED" not in str(e):
                    raise
                reply = True  # a stream or its groups vanished: fetch.lua re-creates them
            if not reply:
                return []
            # Claim at once: a new message is the common reason to wake (checking first would
            # cost every wake a round trip). Claimed by someone else meanwhile: wait again.
            # A wait that found entries in several streams took one wake from each: if that is
            # more than this batch may claim, fetch.lua hands the wakes it could not use back.
            woken = [] if reply is True or sum(len(e) for _, e in reply) <= count else \
                [keys.index(k.decode() if isinstance(k, bytes) else k) + 1 for k, _ in reply]
            found = self._claim(keys, consumer, count, woken)[0]
            if found:
                return found
            block_s = deadline - time.monotonic()
            if block_s <= 0:
                return []

    def _fetch_slots(self, consumer: str, queues: Sequence[str], count: int,
                     block_s: float) -> list[Delivery]:
        """A Redis Cluster's fetch from queues in several slots: fetch.lua per queue, in
        ``-Q`` order (priority order holds within a queue, not across queues), and a wait
        that blocks on one queue's wake group at a time for at most ``SLOT_WAIT_S``."""
        deadline = time.monotonic() + max(block_s, 0)
        turn = 0
        while True:
            found: list[Delivery] = []
            for queue in queues:
                if len(found) >= count:
                    break
                found += self._claim(self.stream_keys([queue]), consumer,
                                     count - len(found))[0]
            if found or block_s <= 0:
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                return []
            queue = queues[turn % len(queues)]
            turn += 1
            streams: Any = dict.fromkeys(self.stream_keys([queue]), ">")
            try:
                self.client.xreadgroup(WAKE_GROUP, WAITER, streams, count=1,
                                       block=max(1, int(min(left, SLOT_WAIT_S) * 1000)),
                                       noack=True)
            except redis.ResponseError as e:
                if "NOGROUP" not in str(e):
                    raise

    def queue_claim(self, pipe: redis.client.Pipeline, consumer: str, queues: Sequence[str],
                    count: int) -> None:
        """Queue a fetch.lua claim on a pipeline (a worker's flush claims its next batch)."""
        scripts.queue_eval(pipe, "fetch", self.stream_keys(queues),
                           [CONSUMER_GROUP, consumer, count, WAKE_GROUP])

    def claim_args(self, consumer: str, queues: Sequence[str], count: int,
                   acks: Sequence[Delivery] = ()) -> list[Any]:
        """The arguments of the acks and claim folded into ``workflow.lua done`` (see
        ``JoinOp.claim``): the same XACK + XDEL and fetch.lua claim, without two more
        commands and a script call on the worker's pipeline."""
        pairs: list[Any] = []
        for d in acks:
            pairs += [d.source, d.entry_id]
        return [CONSUMER_GROUP, consumer, count, WAKE_GROUP, len(acks), *pairs,
                *self.stream_keys(queues)]

    def _claim(self, keys: list[str], consumer: str, count: int,
               woken: Sequence[int] = ()) -> tuple[list[Delivery], list[bytes]]:
        return self.parse_claim(self._fetch(keys=keys, args=[CONSUMER_GROUP, consumer, count,
                                                             WAKE_GROUP, *woken]))

    def parse_claim(self, flat: Any) -> tuple[list[Delivery], list[bytes]]:
        """fetch.lua's reply as deliveries, or ([], the streams' last ids) when all were idle."""
        if flat and flat[0] == b"idle":
            return [], flat[1:]
        out = []
        for i in range(0, len(flat), 3):
            fields = flat[i + 2]
            body = tag = b""
            lost = 0
            for j in range(0, len(fields), 2):
                if fields[j] == b"b":
                    body = fields[j + 1]
                elif fields[j] == b"c":
                    tag = fields[j + 1]
                elif fields[j] == b"d":
                    lost = int(fields[j + 1])
            out.append(Delivery(flat[i], flat[i + 1], body, tag, lost + 1))
        return out, []

    def still_claimed(self, consumer: str, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """The ``deliveries`` still pending under ``consumer``, in order: a reaper gives a
        frozen process's claims to others, and the process must not run them when it wakes."""
        pipe = self.client.pipeline(transaction=False)
        for d in deliveries:
            pipe.xpending_range(d.source, CONSUMER_GROUP, d.entry_id, d.entry_id, 1, consumer)
        replies = pipe.execute(raise_on_error=False)
        return [d for d, reply in zip(deliveries, replies, strict=True)
                if isinstance(reply, Exception) or reply]  # unsure: keep (the old behaviour)

    def connection_errors(self) -> int:
        """How many commands met a dropped connection so far (their replies may be lost)."""
        return connection_errors(self.client)

    def recover_claims(self, consumer: str, queues: Sequence[str],
                       held: set[bytes]) -> list[Delivery]:
        """Entries pending under ``consumer`` on ``queues`` that it does not hold: a claim
        whose reply was lost with a dropped connection (redis-py then re-sent it and got a
        second batch). Returned as deliveries for the caller to run, at once, instead of
        waiting for the orphan check; each is re-claimed (XCLAIM) so it is not idle."""
        keys = self.stream_keys(queues)
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.xpending_range(key, CONSUMER_GROUP, "-", "+", RECLAIM_BATCH, consumer)
        lost: dict[str, list[Any]] = {}
        for key, reply in zip(keys, pipe.execute(raise_on_error=False), strict=True):
            if isinstance(reply, Exception):
                continue
            ids = [row["message_id"] for row in reply if row["message_id"] not in held]
            if ids:
                lost[key] = ids
        if not lost:
            return []
        pipe = self.client.pipeline(transaction=False)
        for key, ids in lost.items():
            pipe.xclaim(key, CONSUMER_GROUP, consumer, 0, ids)
        flat: list[Any] = []
        for key, reply in zip(lost, pipe.execute(raise_on_error=False), strict=True):
            if isinstance(reply, Exception):
                continue
            for entry_id, fields in reply:
                if fields:  # an entry deleted meanwhile comes back without its fields
                    flat += [key.encode(), entry_id,
                             [x for pair in fields.items() for x in pair]]
        return self.parse_claim(flat)[0]

    # --- settling -----------------------------------------------------------------------------

    def ack(self, deliveries: Sequence[Delivery],
            pipe: redis.client.Pipeline | None = None) -> None:
        """XACK + XDEL grouped by stream; pass ``pipe`` to ride on a pipeline already in use."""
        own = pipe is None
        target = self.client.pipeline(transaction=False) if pipe is None else pipe
        by_stream: dict[bytes, list[bytes]] = defaultdict(list)
        for d in deliveries:
            by_stream[d.source].append(d.entry_id)
        for stream, ids in by_stream.items():
            target.xack(stream, CONSUMER_GROUP, *ids)
            target.xdel(stream, *ids)
        if own:
            target.execute()

    def requeue(self, deliveries: Sequence[Delivery]) -> None:
        """Return messages to the tail of their stream with requeue.lua (one call per stream)."""
        by_stream: dict[bytes, list[bytes]] = defaultdict(list)
        for d in deliveries:
            by_stream[d.source].append(d.entry_id)
        for stream, ids in by_stream.items():
            self._requeue(keys=[stream], args=[CONSUMER_GROUP, *ids])

    def dead_letter(self, delivery: Delivery, reason: str, worker: str,
                    pipe: redis.client.Pipeline | None = None) -> None:
        """Copy the message to the dead-letter stream with its reason, then settle it (on
        ``pipe`` when given: a worker's settle pipeline)."""
        own = pipe is None
        if pipe is None:
            pipe = self.client.pipeline(transaction=False)
        pipe.xadd(self.keys.dead_letters(), {
            b"b": delivery.body, b"c": delivery.tag, b"source": delivery.source,
            b"reason": reason.encode(), b"worker": worker.encode(),
            b"ts": repr(time.time()).encode(),
        })
        self.ack([delivery], pipe)
        if own:
            pipe.execute()

    def promote_due(self, queues: Sequence[str]) -> float | None:
        """Run promote.lua per queue (each queue is one slot; due by the server's TIME);
        return when the earliest remaining one is due, on this host's clock."""
        earliest: float | None = None
        for queue in queues:
            keys = [self.keys.delayed(queue)] + [self.keys.stream(queue, p)
                                                 for p in range(PRIORITY_LEVELS)]
            while True:
                moved, wait = self._promote(keys=keys, args=[PROMOTE_BATCH])
                if int(moved) < PROMOTE_BATCH:
                    break
            wait_s = float(wait)
            if wait_s >= 0:
                due = time.time() + wait_s
                earliest = due if earliest is None else min(earliest, due)
        return earliest

    def now(self) -> float:
        """The server's clock (``ServerClock``: an offset measured with TIME)."""
        return self.clock.now()

    # --- redelivery ---------------------------------------------------------------------------

    def consumers(self) -> dict[str, list[bytes]]:
        """Consumers of every known queue's streams (XINFO CONSUMERS, one round trip)."""
        members: Any = self.client.smembers(self.keys.queues())
        queues = sorted(q.decode() if isinstance(q, bytes) else str(q) for q in members)
        streams = [self.keys.stream(q, p) for q in queues for p in range(PRIORITY_LEVELS)]
        pipe = self.client.pipeline(transaction=False)
        for key in streams:
            pipe.xinfo_consumers(key, CONSUMER_GROUP)
        found: dict[str, list[bytes]] = defaultdict(list)
        for key, reply in zip(streams, pipe.execute(raise_on_error=False), strict=True):
            if isinstance(reply, Exception):
                continue  # the stream or its group does not exist (yet)
            for info in reply:
                name = info["name"]
                found[name.decode() if isinstance(name, bytes) else str(name)].append(
                    key.encode())
        return dict(found)

    def pending_of(self, consumer: str, streams: Sequence[bytes],
                   min_idle_s: float) -> list[tuple[bytes, bytes]]:
        """Entries claimed by ``consumer`` and not delivered again for ``min_idle_s``."""
        pipe = self.client.pipeline(transaction=False)
        for key in streams:
            pipe.xpending_range(key, CONSUMER_GROUP, "-", "+", RECLAIM_BATCH, consumer,
                                idle=int(min_idle_s * 1000))
        out: list[tuple[bytes, bytes]] = []
        for key, reply in zip(streams, pipe.execute(raise_on_error=False), strict=True):
            if not isinstance(reply, Exception):
                out.extend((key, entry["message_id"]) for entry in reply)
        return out

    def reclaim(self, consumer: str, streams: Sequence[bytes]) -> int:
        """Run reclaim.lua per stream (one slot each) until the lost consumer has nothing left."""
        returned = 0
        for key in streams:
            while True:
                n, more = self._reclaim(keys=[key], args=[CONSUMER_GROUP, consumer,
                                                          RECLAIM_BATCH])
                returned += int(n)
                if not int(more):
                    break
        return returned

    def reclaim_entries(self, consumer: str, entries: Sequence[tuple[bytes, bytes]]) -> int:
        """Return only these ``(stream, entry id)`` of a live consumer (orphaned claims)."""
        by_stream: dict[bytes, list[bytes]] = defaultdict(list)
        for key, entry_id in entries:
            by_stream[key].append(entry_id)
        returned = 0
        for key, ids in by_stream.items():
            n, _ = self._reclaim(keys=[key], args=[CONSUMER_GROUP, consumer, len(ids), *ids])
            returned += int(n)
        return returned

    def purge(self, queues: Sequence[str]) -> int:
        """Delete every ready and delayed message of ``queues`` (claimed ones are kept);
        returns how many were removed."""
        removed = 0
        for q in queues:
            pipe = self.client.pipeline(transaction=False)
            for p in range(PRIORITY_LEVELS):
                pipe.xlen(self.keys.stream(q, p))
                pipe.xpending(self.keys.stream(q, p), CONSUMER_GROUP)
            pipe.zcard(self.keys.delayed(q))
            counts = pipe.execute(raise_on_error=False)
            pipe = self.client.pipeline(transaction=False)
            for p in range(PRIORITY_LEVELS):
                key = self.keys.stream(q, p)
                length, pending = counts[2 * p], counts[2 * p + 1]
                if isinstance(length, Exception) or not length:
                    continue
                claimed = int(pending.get("pending") or 0) if isinstance(pending, dict) else 0
                removed += self._purge_stream(key, claimed)
            delayed = counts[-1]
            if not isinstance(delayed, Exception) and delayed:
                removed += int(delayed)
                pipe.delete(self.keys.delayed(q))
            pipe.execute()
        return removed

    def _purge_stream(self, key: str, claimed: int) -> int:
        """XDEL the entries of ``key`` no consumer holds (keeping claimed ones to be acked)."""
        held: set[bytes] = set()
        if claimed:
            rows: Any = self.client.xpending_range(key, CONSUMER_GROUP, "-", "+", claimed + 1000)
            held = {r["message_id"] for r in rows}
        removed = 0
        start = "-"
        while True:
            entries: Any = self.client.xrange(key, start, "+", count=1000)
            ids = [eid for eid, _ in entries if eid not in held]
            if ids:
                removed += int(self.client.xdel(key, *ids))
            if len(entries) < 1000:
                return removed
            start = "(" + _s(entries[-1][0])

    def depth(self, queue: str) -> dict[str, int]:
        """Ready, delayed messages of a queue (for status and tests)."""
        pipe = self.client.pipeline(transaction=False)
        for key in self.keys.streams(queue):
            pipe.xlen(key)
        pipe.zcard(self.keys.delayed(queue))
        counts = pipe.execute()
        return {"ready": int(sum(counts[:-1])), "delayed": int(counts[-1])}


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _delayed_member(item: Outgoing) -> bytes:
    """A delayed-set member: the priority digit, the content tag byte, then the body."""
    return bytes((48 + item.priority,)) + item.tag + item.body


def broker_full(client: redis.Redis) -> BrokerFull:
    """flowc's error for Redis's OOM reply, with the server's limit and what to do."""
    try:
        info: Any = client.info("memory")
        limit = f"maxmemory {info.get('maxmemory_human', '?')} reached, used " \
                f"{info.get('used_memory_human', '?')}, maxmemory-policy " \
                f"{info.get('maxmemory_policy', '?')}"
    except redis.RedisError:
        limit = "maxmemory reached"
    return BrokerFull(f"Redis is out of memory ({limit}): the message was not queued",
                      hint="drain or purge queues (flowc purge), purge dead letters (flowc dlq "
                      "purge --all), lower result_expires, or raise maxmemory in redis.conf")

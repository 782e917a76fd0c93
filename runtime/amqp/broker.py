"""The RabbitMQ broker: durable priority queues, publisher confirms, manual acks (pika).

Design (docs/transports.md):
- Every flowc queue is a durable classic queue with ``x-max-priority`` 10 (9 = most urgent, as
  on Redis) whose dead letters go through the fanout exchange ``flowc.dlx`` into the queue
  ``flowc.dead_letters``; flowc's own dead letters (with reason, worker and time in headers)
  are published there directly, then the original is acked.
- Claims are AMQP deliveries with manual acks: a consumer whose connection drops (a killed
  worker) has its unacked messages requeued by RabbitMQ at once, so the redelivery methods of
  the port answer "nothing to do". A redelivered message comes back flagged; quorum queues
  also count (``x-delivery-count``).
- Countdown/ETA: a delayed message waits in one of 28 TTL queues per target queue,
  ``flowc.delay.<queue>.<k>`` holding messages for 0.1 s x 2^k, which dead-letter into the
  target queue. It goes to the longest level not past its eta; a fetch that finds it still
  early parks it again at a shorter level (a log2 number of hops). Nothing is held in worker
  memory; a message is at most ~0.1 s late, never early.
- Fetch takes ready messages with ``basic.get`` until a fetch finds nothing and must wait;
  then the thread starts a standing consumer with prefetch = the fetch's count (a worker's
  batch), waits in pika's event loop (no polling), and from then on takes what RabbitMQ pushed
  without a round trip (``_Standing``). Priorities order what is not yet prefetched.
- pika is not thread-safe: each thread has its own connection and channel; a delivery is
  acked on the channel that received it (from another thread through pika's thread-safe
  callback). Heartbeats are off (a task may run for hours without touching the connection);
  TCP keepalive detects a dead peer, and a killed process closes its socket at once.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pika
from flowc.runtime.amqp.dlq import DEAD_LETTER_QUEUE, AmqpDeadLetters
from flowc.runtime.broker import Delivery, Outgoing
from flowc.runtime.exceptions import BrokerUnavailable, ImproperlyConfigured
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.exceptions import AMQPError

MAX_PRIORITY = 10
"""``x-max-priority`` of every queue: priorities 0..9, 9 the most urgent."""
DEAD_LETTER_EXCHANGE = "flowc.dlx"
__all__ = ["DEAD_LETTER_QUEUE", "AmqpBroker"]
DELAY_BASE_S = 0.1
"""The shortest delay level; level k holds a message for ``DELAY_BASE_S * 2**k`` seconds."""
DELAY_LEVELS = 28
"""Delay levels per queue: the longest holds a message ~155 days, longer delays hop again."""
EARLY_S = 0.02
"""A message this close to its eta is delivered now rather than parked again."""
PREFETCH_BATCHES = 2
"""A standing consumer's prefetch in batches of the largest count fetched: the next batch is
on its way while this one runs (1 would cost a round trip per batch)."""
ETA_HEADER = "x-flowc-eta"
LOST_HEADER = "x-flowc-lost"
"""Deliveries lost before this copy was published (a requeue carries the count over)."""

ClaimKey = Callable[[str, str, float], "str | None"]
"""``(key, task_id, ttl_s)`` -> the task id that holds the key already, or None if now this one
(the result backend's ``claim_key``: idempotency keys need a store RabbitMQ does not have)."""


def delay_queue(queue: str, level: int) -> str:
    """The name of ``queue``'s delay level ``level``."""
    return f"flowc.delay.{queue}.{level}"


def delay_level(remaining_s: float) -> int:
    """The longest level that does not pass a due time ``remaining_s`` away (at least 0)."""
    if remaining_s < DELAY_BASE_S * 2:
        return 0
    return min(DELAY_LEVELS - 1, int(math.log2(remaining_s / DELAY_BASE_S)))


@dataclass(eq=False)
class _Standing:
    """A thread's standing consumer: started by the first fetch that had to wait (a worker's
    loop, which fetches again), kept while the thread fetches the same queues. RabbitMQ pushes
    up to ``prefetch`` (the largest count asked for) unacked messages into ``buffer``; a fetch
    takes from it without a round trip. A fetch that never waits (a probe, a settle's folded
    claim before any wait) uses ``basic.get`` and leaves nothing prefetched."""

    queues: tuple[str, ...]
    prefetch: int
    tags: list[str] = field(default_factory=list)
    buffer: deque[tuple[str, Any, Any, bytes]] = field(default_factory=deque)


@dataclass(eq=False)
class _Link:
    """One thread's connection and channel (in confirm mode), and what it declared."""

    connection: BlockingConnection
    channel: BlockingChannel
    generation: int
    pid: int = field(default_factory=os.getpid)
    thread: int = field(default_factory=threading.get_ident)
    declared: set[str] = field(default_factory=set)
    standing: _Standing | None = None
    outstanding: set[int] = field(default_factory=set)
    """Delivery tags received and not yet settled (an ack can then use ``multiple``)."""
    batches: BlockingChannel | None = None
    """A second channel in transaction mode: a batch of publishes costs one commit (one disk
    sync) instead of one confirm each."""

    def owned_here(self) -> bool:
        return self.pid == os.getpid() and self.thread == threading.get_ident()


class AmqpBroker:
    """``Broker`` on RabbitMQ >= 3.8 through pika's blocking connection."""

    ACKS_WITHOUT_ROUND_TRIP = True
    """``basic.ack`` needs no reply: the worker early-acks a lone delivery before running it
    (``Consumer.before_start``), so the publisher's confirm does not wait for the result."""

    def __init__(self, url: str, claim_key: ClaimKey | None = None,
                 transport_options: dict[str, Any] | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.params = pika.URLParameters(url)
        self.params.heartbeat = 0
        self.params.tcp_options = {"TCP_KEEPIDLE": 60, "TCP_KEEPINTVL": 10, "TCP_KEEPCNT": 3}
        self.claim_key = claim_key
        self.clock = clock or time.time
        """The clock due times are read on (the coordination store's, Redis or PostgreSQL, so
        that revocations and rate limits stamped there agree); RabbitMQ's TTLs themselves are
        relative."""
        options = transport_options or {}
        self.quorum = options.get("queue_type") == "quorum"
        self.confirm = bool(options.get("confirm_publish", True))
        self._local = threading.local()
        self._links: dict[int, _Link] = {}
        self._lock = threading.Lock()
        self._generations = 0

    # --- connections --------------------------------------------------------------------------

    def _link(self) -> _Link:
        link: _Link | None = getattr(self._local, "link", None)
        if link is not None and link.pid == os.getpid() and link.connection.is_open \
                and link.channel.is_open:
            return link
        if link is not None:
            self._drop(link)
        try:
            connection = BlockingConnection(self.params)
        except AMQPError as e:
            raise BrokerUnavailable(
                f"cannot connect to RabbitMQ at {self.params.host}:{self.params.port} ({e!r})",
                hint="start RabbitMQ or fix broker_url") from e
        channel = connection.channel()
        if self.confirm:
            channel.confirm_delivery()
        with self._lock:
            self._generations += 1
            link = _Link(connection, channel, self._generations)
            self._links[link.generation] = link
        self._local.link = link
        return link

    def _drop(self, link: _Link) -> None:
        """Forget a link (closing it if it is this process's): its unacked messages go back."""
        with self._lock:
            self._links.pop(link.generation, None)
        if getattr(self._local, "link", None) is link:
            self._local.link = None
        if link.pid == os.getpid() and link.connection.is_open:
            with contextlib.suppress(Exception):  # broken meanwhile: nothing to release
                link.connection.close()

    def _retrying(self, fn: Callable[[_Link], Any]) -> Any:
        """Run ``fn`` on this thread's link; on a dropped connection reconnect and run it once
        more (publishes are at-least-once: a confirm lost with the connection is sent again)."""
        link = self._link()
        try:
            return fn(link)
        except AMQPError:
            self._drop(link)
            return fn(self._link())

    def close(self) -> None:
        """Close every connection of this process (their unacked deliveries go back to their
        queues); call it when the threads that used them are done."""
        with self._lock:
            links = list(self._links.values())
        for link in links:
            if link.owned_here() and link.standing is not None:
                with contextlib.suppress(AMQPError):
                    self._stop_standing(link)
            self._drop(link)

    # --- declaring ----------------------------------------------------------------------------

    def queue_arguments(self) -> dict[str, Any]:
        """Arguments of every flowc queue (a redeclare with other ones is refused by RabbitMQ)."""
        args: dict[str, Any] = {"x-dead-letter-exchange": DEAD_LETTER_EXCHANGE}
        if self.quorum:
            args["x-queue-type"] = "quorum"
        else:
            args["x-max-priority"] = MAX_PRIORITY
        return args

    def _declare(self, link: _Link, queues: Sequence[str]) -> None:
        ch = link.channel
        if DEAD_LETTER_QUEUE not in link.declared:
            ch.exchange_declare(DEAD_LETTER_EXCHANGE, "fanout", durable=True)
            ch.queue_declare(DEAD_LETTER_QUEUE, durable=True)
            ch.queue_bind(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE)
            link.declared.add(DEAD_LETTER_QUEUE)
        for queue in queues:
            if queue in link.declared:
                continue
            ch.queue_declare(queue, durable=True, arguments=self.queue_arguments())
            for level in range(DELAY_LEVELS):
                ch.queue_declare(delay_queue(queue, level), durable=True, arguments={
                    "x-message-ttl": int(DELAY_BASE_S * 1000 * 2 ** level),
                    "x-dead-letter-exchange": "", "x-dead-letter-routing-key": queue})
            link.declared.add(queue)

    def declare(self, queues: Sequence[str]) -> None:
        """Declare the queues, their delay levels and the dead-letter queue (idempotent)."""
        self._retrying(lambda link: self._declare(link, queues))

    # --- producing ----------------------------------------------------------------------------

    def _send(self, link: _Link, item: Outgoing, lost: int = 0,
              channel: BlockingChannel | None = None) -> None:
        headers: dict[str, Any] = {}
        target = item.queue
        if item.eta is not None:
            remaining = item.eta - self.clock()
            if remaining > EARLY_S:
                headers[ETA_HEADER] = repr(item.eta)  # AMQP tables have no float
                target = delay_queue(item.queue, delay_level(remaining))
        if lost:
            headers[LOST_HEADER] = lost
        props = pika.BasicProperties(delivery_mode=2, priority=item.priority,
                                     type=item.tag.decode("latin-1"), headers=headers or None)
        if channel is None:
            link.channel.basic_publish("", target, item.body, props, mandatory=self.confirm)
        else:
            channel.basic_publish("", target, item.body, props)

    def publish(self, items: Sequence[Outgoing]) -> None:
        """Publish persistent messages: one waits for its confirm, a batch for one transaction
        commit (both return once RabbitMQ has the messages on disk)."""
        def run(link: _Link) -> None:
            self._declare(link, sorted({item.queue for item in items}))
            if len(items) == 1 or not self.confirm:
                for item in items:
                    self._send(link, item)
                return
            if link.batches is None:
                link.batches = link.connection.channel()
                link.batches.tx_select()
            for item in items:
                self._send(link, item, channel=link.batches)
            link.batches.tx_commit()

        if items:
            self._retrying(run)

    def publish_once(self, item: Outgoing, key: str, task_id: str, ttl_s: float) -> str | None:
        """Claim the key in the result backend, then publish: RabbitMQ keeps no keys. Not one
        atomic step: a crash between the two loses this message (the key stays claimed)."""
        if self.claim_key is None:
            raise ImproperlyConfigured("idempotency_key on RabbitMQ needs a result backend "
                                       "that stores keys", hint="set result_backend to a "
                                       "redis:// or postgresql:// URL")
        first = self.claim_key(key, task_id, ttl_s)
        if first is not None:  # held, maybe by this very id (beat's ids are deterministic)
            return first
        self.publish([item])
        return None

    # --- consuming ----------------------------------------------------------------------------

    def _accept(self, link: _Link, queue: str, method: Any, props: Any,
                body: bytes) -> Delivery | None:
        """A delivery for the caller, or None after parking an early message again."""
        headers = props.headers or {}
        eta = headers.get(ETA_HEADER)
        if eta is not None:
            remaining = float(eta) - self.clock()
            if remaining > EARLY_S:
                props.headers = dict(headers)
                link.channel.basic_publish("", delay_queue(queue, delay_level(remaining)),
                                           body, props, mandatory=True)
                link.channel.basic_ack(method.delivery_tag)
                return None
        lost = int(headers.get(LOST_HEADER) or 0)
        if "x-delivery-count" in headers:  # quorum queues count every redelivery
            lost += int(headers["x-delivery-count"])
        elif method.redelivered:
            # A classic queue only flags a redelivery, it does not count them: publish a copy
            # carrying the count (to the queue's tail) and settle this one, so a poison pill
            # that kills worker after worker reaches flowc_max_deliveries.
            props.headers = {**headers, LOST_HEADER: lost + 1}
            link.channel.basic_publish("", queue, body, props, mandatory=self.confirm)
            link.channel.basic_ack(method.delivery_tag)
            return None
        priority = props.priority or 0
        link.outstanding.add(method.delivery_tag)
        entry = f"{link.generation}:{method.delivery_tag}:{priority}".encode()
        return Delivery(queue.encode(), entry, body, (props.type or "").encode("latin-1"),
                        lost + 1)

    def fetch(self, consumer: str, queues: Sequence[str], count: int, block_s: float,
              idle_ids: list[bytes] | None = None) -> list[Delivery]:
        """Claim up to ``count`` messages: with ``basic.get`` until a fetch has to wait, then
        from this thread's standing consumer (see ``_Standing``). RabbitMQ names consumers
        itself: ``consumer`` is not used."""
        try:
            link = self._link()
            self._declare(link, queues)
            standing = link.standing
            if standing is not None and standing.queues != tuple(queues):
                self._stop_standing(link)
                standing = None
            if standing is None:
                if block_s <= 0:
                    return self._get(link, queues, count)
                standing = self._start_standing(link, queues, count)
            elif count * PREFETCH_BATCHES > standing.prefetch:
                standing.prefetch = count * PREFETCH_BATCHES
                link.channel.basic_qos(prefetch_count=standing.prefetch, global_qos=True)
            link.connection.process_data_events(time_limit=0)
            out = self._take(link, standing, count)
            deadline = time.monotonic() + block_s
            while not out:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                link.connection.process_data_events(time_limit=left)
                out = self._take(link, standing, count)
            return out
        except AMQPError:  # the connection dropped: RabbitMQ has requeued what it held
            broken = getattr(self._local, "link", None)
            if broken is not None:
                self._drop(broken)
            return []

    def _get(self, link: _Link, queues: Sequence[str], count: int) -> list[Delivery]:
        out: list[Delivery] = []
        for queue in queues:
            while len(out) < count:
                method, props, body = link.channel.basic_get(queue, auto_ack=False)
                if method is None:
                    break
                delivery = self._accept(link, queue, method, props, body)
                if delivery is not None:
                    out.append(delivery)
            if len(out) >= count:
                break
        return out

    def _start_standing(self, link: _Link, queues: Sequence[str], count: int) -> _Standing:
        standing = _Standing(tuple(queues), count * PREFETCH_BATCHES)
        link.channel.basic_qos(prefetch_count=standing.prefetch, global_qos=True)
        for queue in queues:
            standing.tags.append(link.channel.basic_consume(
                queue, partial(_collect, standing.buffer, queue)))
        link.standing = standing
        return standing

    def _take(self, link: _Link, standing: _Standing, count: int) -> list[Delivery]:
        out: list[Delivery] = []
        while standing.buffer and len(out) < count:
            queue, method, props, body = standing.buffer.popleft()
            delivery = self._accept(link, queue, method, props, body)
            if delivery is None:
                continue
            out.append(delivery)
            if delivery.redelivered and link.standing is standing:
                # it may be a poison pill: hand back what was prefetched behind it, so that
                # no innocent message is counted as lost if it kills this process
                self._stop_standing(link)
                break
        return out

    def _stop_standing(self, link: _Link) -> None:
        """Cancel the standing consumer; what it prefetched goes back to its queue."""
        standing, link.standing = link.standing, None
        if standing is None:
            return
        link.connection.process_data_events(time_limit=0)  # into the buffer: pika would nack
        for tag in standing.tags:  # what arrived but was not dispatched yet (flagging it)
            link.channel.basic_cancel(tag)
        self.requeue(self._take(link, standing, len(standing.buffer)))

    # --- settling -----------------------------------------------------------------------------

    def _by_link(self, deliveries: Sequence[Delivery]) -> dict[_Link, list[Delivery]]:
        """Deliveries grouped by the live link that received them (others are gone: RabbitMQ
        has requeued them with their connection)."""
        out: dict[_Link, list[Delivery]] = {}
        for d in deliveries:
            link = self._links.get(int(d.entry_id.split(b":", 1)[0]))
            if link is not None and link.pid == os.getpid():
                out.setdefault(link, []).append(d)
        return out

    def _on_link(self, link: _Link, fn: Callable[[], None]) -> None:
        """Run ``fn`` on ``link``'s thread (pika channels belong to one thread)."""
        try:
            if link.owned_here():
                fn()
            else:
                link.connection.add_callback_threadsafe(fn)
        except AMQPError:
            self._drop(link)  # the connection is gone: its deliveries are back in their queues

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """``basic.ack`` each delivery on its channel (no round trip)."""
        for link, items in self._by_link(deliveries).items():
            tags = [_tag(d) for d in items]
            self._on_link(link, partial(_ack_all, link, tags))

    def requeue(self, deliveries: Sequence[Delivery]) -> None:
        """Publish a copy to the tail of its queue (keeping priority and lost-delivery count),
        then ack the original: a requeue is not a lost delivery (``nack`` would flag it so)."""
        for link, items in self._by_link(deliveries).items():
            def run(link: _Link = link, items: list[Delivery] = items) -> None:
                for d in items:
                    priority = int(d.entry_id.rsplit(b":", 1)[1])
                    self._send(link, Outgoing(d.source.decode(), priority, d.body, d.tag),
                               lost=d.deliveries - 1)
                    _ack_all(link, [_tag(d)])

            self._on_link(link, run)

    def dead_letter(self, delivery: Delivery, reason: str, worker: str) -> None:
        """Publish the message to ``flowc.dead_letters`` with the reason, then ack it."""
        def run(link: _Link) -> None:
            self._declare(link, [])
            props = pika.BasicProperties(
                delivery_mode=2, message_id=uuid.uuid4().hex, type=delivery.tag.decode("latin-1"),
                timestamp=int(time.time()),
                headers={"reason": reason, "worker": worker, "source": delivery.source.decode(),
                         "ts": repr(time.time()),
                         "priority": int(delivery.entry_id.rsplit(b":", 1)[1])})
            link.channel.basic_publish("", DEAD_LETTER_QUEUE, delivery.body, props,
                                       mandatory=True)

        self._retrying(run)
        self.ack([delivery])

    def promote_due(self, queues: Sequence[str]) -> float | None:
        """Nothing to do: delay queues dead-letter due messages into their queue themselves."""
        return None

    def now(self) -> float:
        """The clock due times are read on (see ``clock``)."""
        return self.clock()

    # --- inspecting ---------------------------------------------------------------------------

    def _count(self, link: _Link, name: str) -> int:
        return int(link.channel.queue_declare(name, passive=True).method.message_count)

    def depth(self, queue: str) -> dict[str, int]:
        """Ready messages (not counting unacked ones: AMQP does not say how many there are),
        messages in the delay levels, and the queue's consumers (a worker process's standing
        consumer each), from passive ``queue.declare`` replies."""
        def run(link: _Link) -> dict[str, int]:
            self._declare(link, [queue])
            delayed = sum(self._count(link, delay_queue(queue, k)) for k in range(DELAY_LEVELS))
            ok = link.channel.queue_declare(queue, passive=True).method
            return {"ready": int(ok.message_count), "delayed": delayed,
                    "consumers": int(ok.consumer_count)}

        result: dict[str, int] = self._retrying(run)
        return result

    def purge(self, queues: Sequence[str]) -> int:
        """Purge the queues and their delay levels (unacked deliveries stay to be settled)."""
        def run(link: _Link) -> int:
            self._declare(link, queues)
            removed = 0
            for queue in queues:
                for name in [queue, *(delay_queue(queue, k) for k in range(DELAY_LEVELS))]:
                    removed += int(link.channel.queue_purge(name).method.message_count)
            return removed

        result: int = self._retrying(run)
        return result

    def dead_letters_class(self) -> type[AmqpDeadLetters]:
        """``DeadLetters`` for this broker: the dead-letter queue read without consuming it."""
        return AmqpDeadLetters

    # --- redelivery: RabbitMQ returns a lost consumer's messages itself -----------------------

    def consumers(self) -> dict[str, list[bytes]]:
        """None to watch: a consumer's claims die with its connection."""
        return {}

    def pending_of(self, consumer: str, streams: Sequence[bytes],
                   min_idle_s: float) -> list[tuple[bytes, bytes]]:
        """Nothing: a live consumer's unacked messages are its own until its connection drops."""
        return []

    def reclaim(self, consumer: str, streams: Sequence[bytes]) -> int:
        """Nothing to return (RabbitMQ did when the consumer's connection dropped)."""
        return 0

    def reclaim_entries(self, consumer: str, entries: Sequence[tuple[bytes, bytes]]) -> int:
        """Nothing to return (see ``reclaim``)."""
        return 0

    def still_claimed(self, consumer: str, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """All of them: unacked messages stay this consumer's while its connection lives."""
        return list(deliveries)

    def connection_errors(self) -> int:
        """0: a dropped connection returns its unacked messages (nothing to recover)."""
        return 0

    def recover_claims(self, consumer: str, queues: Sequence[str],
                       held: set[bytes]) -> list[Delivery]:
        """Nothing: RabbitMQ redelivers what a dropped connection had unacked."""
        return []


def _collect(got: deque[tuple[str, Any, Any, bytes]], queue: str, channel: Any, method: Any,
             props: Any, body: bytes) -> None:
    got.append((queue, method, props, body))


def _tag(delivery: Delivery) -> int:
    return int(delivery.entry_id.split(b":", 2)[1])


def _ack_all(link: _Link, tags: list[int]) -> None:
    """Ack ``tags``: in one frame (``multiple``) when every unsettled tag up to the highest is
    among them (a batch settled in order), else one by one."""
    if not tags:
        return
    acked = set(tags)
    top = max(acked)
    if len(acked) > 1 and all(t in acked for t in link.outstanding if t <= top):
        link.channel.basic_ack(top, multiple=True)
        link.outstanding.difference_update([t for t in link.outstanding if t <= top])
        return
    for tag in acked:
        link.channel.basic_ack(tag)
    link.outstanding.difference_update(acked)

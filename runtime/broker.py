"""The broker contract: how messages reach workers and how workers settle them.

Redis is the first implementation (``runtime/redis/broker.py``); RabbitMQ plugs in behind the
same methods, held to them by tests/contract. Bodies are opaque bytes here: encoding lives in
``serialization``/``message``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message ready to publish: where it goes, and the encoded body with its content tag."""

    queue: str
    priority: int
    body: bytes
    tag: bytes
    eta: float | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """A message claimed by one consumer; it stays pending until acked or dead-lettered."""

    source: bytes
    entry_id: bytes
    body: bytes
    tag: bytes
    deliveries: int = 1
    """This delivery's number: 1 the first time, n+1 after n deliveries whose worker was lost."""

    @property
    def redelivered(self) -> bool:
        """True if an earlier delivery of this message was lost with its worker."""
        return self.deliveries > 1


class Broker(Protocol):
    """Queues with priorities, delayed delivery, claim/ack, requeue and a dead-letter stream.

    Redelivery (``consumers`` .. ``reclaim_entries``) is how a broker without connection-bound
    claims (Redis streams) returns a lost worker's messages; a broker that returns them itself
    when the consumer's connection drops (AMQP) answers those with nothing to do.
    """

    def close(self) -> None:
        """Release connections this process holds (they reopen on next use)."""
        ...

    def publish(self, items: Sequence[Outgoing]) -> None:
        """Enqueue messages (delayed ones wait for their eta) in as few round trips as possible."""
        ...

    def publish_once(self, item: Outgoing, key: str, task_id: str, ttl_s: float) -> str | None:
        """Enqueue ``item`` unless the idempotency ``key`` was used within ``ttl_s`` seconds, in
        one atomic step; return the id of the task that used it first, or None if this one did."""
        ...

    def declare(self, queues: Sequence[str]) -> None:
        """Make sure the queues exist and the consumer group is attached to each."""
        ...

    def fetch(self, consumer: str, queues: Sequence[str], count: int, block_s: float,
              idle_ids: list[bytes] | None = None) -> list[Delivery]:
        """Claim up to ``count`` messages, most urgent first, blocking up to ``block_s``.

        ``idle_ids``: what the last claim returned when it found nothing (an adapter's token,
        see ``Settlement``), so the call can wait at once instead of claiming again first.
        """
        ...

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Settle messages for good (the task finished, or was acknowledged early)."""
        ...

    def requeue(self, deliveries: Sequence[Delivery]) -> None:
        """Return claimed messages to their queue (warm shutdown, ``Reject(requeue=True)``)."""
        ...

    def dead_letter(self, delivery: Delivery, reason: str, worker: str) -> None:
        """Move a message to the dead-letter stream with the reason; it is never run again."""
        ...

    def promote_due(self, queues: Sequence[str]) -> float | None:
        """Move messages due by the broker's clock to their queues; return when the next is
        due on this host's clock (``time.time()`` scale), if any."""
        ...

    def now(self) -> float:
        """The broker's clock, unix seconds: the one time due times and expiry are read in."""
        ...

    def depth(self, queue: str) -> dict[str, int]:
        """How many messages of a queue are ``ready`` and ``delayed``; a broker that counts
        the queue's consumers itself (RabbitMQ) adds ``consumers``."""
        ...

    def purge(self, queues: Sequence[str]) -> int:
        """Delete every ready and delayed message of the queues; return how many."""
        ...

    def consumers(self) -> dict[str, list[bytes]]:
        """Every consumer known to the queues' groups, with the streams it appears on."""
        ...

    def pending_of(self, consumer: str, streams: Sequence[bytes],
                   min_idle_s: float) -> list[tuple[bytes, bytes]]:
        """``(stream, entry id)`` claimed by ``consumer`` and idle for at least ``min_idle_s``."""
        ...

    def reclaim(self, consumer: str, streams: Sequence[bytes]) -> int:
        """Return a lost consumer's claimed messages to the ready side, counting the delivery,
        then forget the consumer. Idempotent; returns how many messages went back."""
        ...

    def reclaim_entries(self, consumer: str, entries: Sequence[tuple[bytes, bytes]]) -> int:
        """Return these ``(stream, entry id)`` if still claimed by ``consumer`` (a live one that
        lost track of them, e.g. when a reply was cut by a dropped connection)."""
        ...

    def still_claimed(self, consumer: str, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """Those of ``deliveries`` still claimed by ``consumer`` (a process that was frozen
        asks before running what it had prefetched: the reaper may have given it away)."""
        ...

    def connection_errors(self) -> int:
        """How many commands met a dropped connection so far (a reply may have been lost);
        a consumer that sees it move calls ``recover_claims``."""
        ...

    def recover_claims(self, consumer: str, queues: Sequence[str],
                       held: set[bytes]) -> list[Delivery]:
        """Messages claimed by ``consumer`` on ``queues`` that it does not ``held`` (a claim
        whose reply was lost), claimed again for it to run now."""
        ...

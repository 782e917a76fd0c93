"""``flowc dlq`` on RabbitMQ: the dead-letter queue read without consuming it.

A listing takes every message of ``flowc.dead_letters`` unacked on a connection of its own,
then closes it, which puts them all back in order (what the management UI's "get messages"
does). Replaying publishes a copy to the message's queue, then acks the letter. Letters flowc
wrote carry ``reason``, ``worker``, ``ts``, ``source`` and ``priority`` headers; those RabbitMQ
dead-lettered itself (rejected, expired) are described from their ``x-death`` header.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pika
from flowc.runtime.broker import Outgoing
from flowc.runtime.monitoring.dlq import DeadLetter, DeadLetters
from flowc.runtime.wire import Rejected

if TYPE_CHECKING:
    from flowc.runtime.app import App

DEAD_LETTER_QUEUE = "flowc.dead_letters"
"""The queue behind the fanout exchange ``flowc.dlx`` (runtime/amqp/broker.py)."""

Letter = tuple[int, Any, bytes]
"""(delivery tag, properties, body) of one message taken for a listing."""


class AmqpDeadLetters(DeadLetters):
    """``DeadLetters`` over the RabbitMQ dead-letter queue."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.broker: Any = app.broker  # an AmqpBroker (whose dead_letters_class chose this)
        self.refused: list[tuple[str, str]] = []

    def _open(self) -> tuple[pika.BlockingConnection, Any]:
        connection = pika.BlockingConnection(self.broker.params)
        channel = connection.channel()
        channel.queue_declare(DEAD_LETTER_QUEUE, durable=True)
        return connection, channel

    def _take(self, channel: Any) -> list[Letter]:
        out: list[Letter] = []
        while True:
            method, props, body = channel.basic_get(DEAD_LETTER_QUEUE, auto_ack=False)
            if method is None:
                return out
            out.append((method.delivery_tag, props, body))

    def count(self) -> int:
        """How many dead letters there are."""
        connection, channel = self._open()
        try:
            return int(channel.queue_declare(DEAD_LETTER_QUEUE, durable=True)
                       .method.message_count)
        finally:
            connection.close()

    def _all(self) -> list[DeadLetter]:
        connection, channel = self._open()
        try:
            return [self._letter(tag, props, body) for tag, props, body in self._take(channel)]
        finally:
            connection.close()  # everything taken goes back, in order

    def newest(self, limit: int = 100) -> list[DeadLetter]:
        """The newest ``limit`` dead letters, newest first."""
        return list(reversed(self._all()))[:limit]

    def get(self, entry_id: str) -> DeadLetter | None:
        """One dead letter by id, or None."""
        return next((letter for letter in self._all() if letter.id == entry_id), None)

    def all_ids(self) -> list[str]:
        """Every dead letter's id, oldest first."""
        return [letter.id for letter in self._all()]

    def _settle(self, entry_ids: Iterable[str] | None, replay: bool, resign: bool = False) -> int:
        wanted = None if entry_ids is None else set(entry_ids)
        connection, channel = self._open()
        n = 0
        try:
            for tag, props, body in self._take(channel):
                letter = self._letter(tag, props, body)
                if wanted is not None and letter.id not in wanted:
                    continue
                if replay:
                    try:  # signing on: signed again, or refused (see DeadLetters.requeue)
                        signed, tag_out = self.app.wire.resign(body, letter.tag, force=resign)
                    except Rejected as e:
                        self.refused.append((letter.id, str(e)))
                        continue
                    priority = int((props.headers or {}).get("priority") or 0)
                    self.broker.publish([Outgoing(self._queue(letter), priority, signed,
                                                  tag_out)])
                channel.basic_ack(tag)
                n += 1
        finally:
            connection.close()  # letters not settled go back
        return n

    def requeue(self, entry_ids: Iterable[str], resign: bool = False) -> int:
        """Publish the letters to their queues again, then delete them (with signing on, as
        ``DeadLetters.requeue``: refused letters stay and are listed in ``refused``)."""
        self.refused = []
        return self._settle(entry_ids, replay=True, resign=resign)

    def purge(self, entry_ids: Iterable[str] | None = None) -> int:
        """Delete these dead letters, or all of them."""
        return self._settle(entry_ids, replay=False)

    def _queue(self, letter: DeadLetter) -> str:
        return letter.source or str((letter.envelope or {}).get("queue")
                                    or self.app.conf.task_default_queue)

    def _letter(self, tag: int, props: Any, body: bytes) -> DeadLetter:
        headers = props.headers or {}
        fields = {b"b": body, b"c": (props.type or "").encode("latin-1")}
        deaths = headers.get("x-death") or []
        if "reason" in headers:
            for name in ("reason", "worker", "ts", "source"):
                fields[name.encode()] = str(headers.get(name, "")).encode()
        elif deaths:
            fields[b"reason"] = f"dead-lettered by RabbitMQ: {deaths[0].get('reason')}".encode()
            fields[b"source"] = str(deaths[0].get("queue", "")).encode()
        entry_id = props.message_id or f"{props.timestamp or 0}-{tag}"
        return self._entry(entry_id.encode(), fields)

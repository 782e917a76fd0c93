"""The Broker port's contract (runtime/broker.py), run against every broker adapter."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from flowc.runtime.app import App
from flowc.runtime.broker import Broker, Delivery, Outgoing
from flowc.runtime.monitoring.dlq import DeadLetters

pytestmark = [pytest.mark.redis, pytest.mark.amqp, pytest.mark.postgresql,
              pytest.mark.memcached]

Q = "contract"


def out(body: bytes, priority: int = 0, eta: float | None = None, queue: str = Q) -> Outgoing:
    return Outgoing(queue, priority, body, b"j", eta)


def counts(broker: Broker) -> dict[str, int]:
    """``depth``'s ready and delayed counts (a broker may add ``consumers``)."""
    depth = broker.depth(Q)
    return {"ready": depth["ready"], "delayed": depth["delayed"]}


def fetch_all(app: App, consumer: str = "c1", count: int = 100) -> list[Delivery]:
    return app.broker.fetch(consumer, [Q], count, 0)


class TestBrokerContract:
    def test_a_published_message_is_fetched_once_with_its_body_and_tag(self,
                                                                        adapter_app: App) -> None:
        broker = adapter_app.broker
        broker.declare([Q])
        broker.publish([out(b'{"x":1}')])
        [got] = fetch_all(adapter_app)
        assert (got.body, got.tag, got.deliveries) == (b'{"x":1}', b"j", 1)
        assert fetch_all(adapter_app, "c2") == []

    def test_acked_messages_are_gone_from_the_queue(self, adapter_app: App) -> None:
        broker = adapter_app.broker
        broker.declare([Q])
        broker.publish([out(b"1"), out(b"2")])
        broker.ack(fetch_all(adapter_app))
        assert counts(broker) == {"ready": 0, "delayed": 0}

    def test_more_urgent_priorities_are_fetched_first(self, adapter_app: App) -> None:
        broker = adapter_app.broker
        broker.declare([Q])
        broker.publish([out(b"low", 0), out(b"high", 9), out(b"mid", 5)])
        assert [d.body for d in fetch_all(adapter_app)] == [b"high", b"mid", b"low"]

    def test_a_fetch_claims_no_more_than_its_count(self, adapter_app: App) -> None:
        broker = adapter_app.broker
        broker.declare([Q])
        broker.publish([out(str(i).encode()) for i in range(5)])
        assert len(adapter_app.broker.fetch("c1", [Q], 2, 0)) == 2
        assert len(adapter_app.broker.fetch("c2", [Q], 10, 0)) == 3

    def test_a_delayed_message_is_counted_as_delayed_not_ready(self, adapter_app: App) -> None:
        broker = adapter_app.broker
        broker.declare([Q])
        broker.publish([out(b"later", eta=broker.now() + 3600)])
        assert counts(broker) == {"ready": 0, "delayed": 1}
        assert fetch_all(adapter_app) == []

    def test_a_delayed_message_is_fetched_once_due_and_not_before(self,
                                                                  adapter_app: App) -> None:
        broker = adapter_app.broker
        broker.declare([Q])
        due = broker.now() + 1.0  # due times are read on the broker's clock
        broker.publish([out(b"later", eta=due)])
        got: list[Delivery] = []
        while not got and broker.now() < due + 10:
            broker.promote_due([Q])  # a broker that delivers itself: no-op
            got = broker.fetch("c1", [Q], 10, 0.2)
        assert [d.body for d in got] == [b"later"]
        assert broker.now() >= due

    def test_a_requeued_message_can_be_fetched_again(self, adapter_app: App) -> None:
        broker = adapter_app.broker
        broker.declare([Q])
        broker.publish([out(b"again")])
        broker.requeue(fetch_all(adapter_app))
        assert [d.body for d in fetch_all(adapter_app, "c2")] == [b"again"]

    def test_a_dead_lettered_message_leaves_the_queue_with_its_reason(self,
                                                                      adapter_app: App) -> None:
        broker = adapter_app.broker
        broker.declare([Q])
        broker.publish([out(b'{"id":"x","task":"t"}')])
        [got] = fetch_all(adapter_app)
        broker.dead_letter(got, "unknown task 't'", "w1@host")
        assert broker.depth(Q)["ready"] == 0
        [letter] = DeadLetters(adapter_app).newest()
        assert (letter.reason, letter.worker, letter.body) == (
            "unknown task 't'", "w1@host", b'{"id":"x","task":"t"}')

    def test_a_requeued_dead_letter_is_fetched_again_and_leaves_the_listing(
            self, adapter_app: App) -> None:
        broker = adapter_app.broker
        broker.declare([Q])
        broker.publish([out(b'{"id":"x","task":"t"}', 5)])
        [got] = fetch_all(adapter_app)
        broker.dead_letter(got, "unknown task 't'", "w1@host")
        letters = DeadLetters(adapter_app)
        [letter] = letters.newest()
        assert letters.requeue([letter.id]) == 1
        assert letters.count() == 0
        assert [d.body for d in fetch_all(adapter_app, "c2")] == [b'{"id":"x","task":"t"}']

    def test_purge_deletes_ready_and_delayed_messages(self, adapter_app: App) -> None:
        broker = adapter_app.broker
        broker.declare([Q])
        broker.publish([out(b"1"), out(b"2", eta=time.time() + 3600)])
        assert broker.purge([Q]) == 2
        assert counts(broker) == {"ready": 0, "delayed": 0}

    def test_a_blocked_fetch_wakes_for_a_message_published_meanwhile(self,
                                                                     adapter_app: App) -> None:
        broker = adapter_app.broker
        broker.declare([Q])
        got: list[Delivery] = []
        waiter = threading.Thread(target=lambda: got.extend(
            adapter_app.broker.fetch("c1", [Q], 10, 10.0)))
        waiter.start()
        broker.fetch("probe", [Q], 1, 0)  # the waiter's first claim found nothing either
        broker.publish([out(b"wake")])
        waiter.join(10)
        assert [d.body for d in got] == [b"wake"]

    def test_an_empty_fetch_with_no_wait_returns_nothing(self, adapter_app: App) -> None:
        adapter_app.broker.declare([Q])
        assert adapter_app.broker.fetch("c1", [Q], 10, 0) == []

    def test_publish_once_enqueues_one_message_per_key(self, adapter_app: App) -> None:
        broker = adapter_app.broker
        broker.declare([Q])
        assert broker.publish_once(out(b"first"), "key-1", "id-1", 60) is None
        assert broker.publish_once(out(b"second"), "key-1", "id-2", 60) == "id-1"
        assert [d.body for d in fetch_all(adapter_app)] == [b"first"]

    def test_a_lost_consumers_messages_go_back_counting_the_delivery(
            self, adapter_apps: Callable[[], App]) -> None:
        alive, lost = adapter_apps(), adapter_apps()
        alive.broker.declare([Q])
        alive.broker.publish([out(b"held")])
        assert len(fetch_all(lost, "lost")) == 1
        lost.close()  # its connection drops, as a killed worker's does
        for consumer, streams in alive.broker.consumers().items():  # the reaper's part
            if consumer == "lost":
                alive.broker.reclaim(consumer, streams)
        [again] = fetch_all(alive, "alive")
        assert (again.body, again.deliveries, again.redelivered) == (b"held", 2, True)

    def test_a_requeued_message_is_not_counted_as_a_lost_delivery(self, adapter_app: App) -> None:
        broker = adapter_app.broker
        broker.declare([Q])
        broker.publish([out(b"back")])
        broker.requeue(fetch_all(adapter_app))
        [again] = fetch_all(adapter_app, "c2")
        assert (again.body, again.deliveries) == (b"back", 1)

    def test_a_requeued_message_keeps_its_priority(self, adapter_app: App) -> None:
        broker = adapter_app.broker
        broker.declare([Q])
        broker.publish([out(b"urgent", 9)])
        broker.requeue(fetch_all(adapter_app))
        broker.publish([out(b"low", 0)])
        assert [d.body for d in fetch_all(adapter_app, "c2")] == [b"urgent", b"low"]

"""A chain's next step is claimed by the worker that finished the previous one, in one step.

The consumer's flush folds its acks and next claim into ``workflow.lua done``: the successor is
enqueued and claimed atomically, sits in that worker's pending list (so crash recovery is
unchanged), priorities still decide what is claimed first, and the wake group idle workers
block on is moved past it, so no idle worker is woken for a message it could not have.
"""

from __future__ import annotations

import threading
from typing import Any

import redis
from flowc.compiler.canvas.primitives import chain
from flowc.runtime.app import App
from flowc.runtime.message import Message
from flowc.runtime.redis.broker import WAKE_GROUP
from flowc.runtime.redis.keys import CONSUMER_GROUP
from flowc.runtime.serialization import decode
from flowc.runtime.worker.consumer import Consumer

from tests.runtime.support import add_arithmetic_tasks


def _consumer(app: App, name: str) -> Consumer:
    consumer = Consumer(app, [app.conf.task_default_queue], name)
    app.broker.declare(consumer.queues)
    return consumer


def _node(consumer: Consumer, at: int = 0) -> Any:
    delivery = consumer.pending[at]
    message = Message.from_envelope(decode(delivery.tag, delivery.body, consumer.accept))
    return message.workflow["node"] if message.workflow else message.task


def _group(client: redis.Redis, stream: bytes, name: str) -> dict[str, Any]:
    groups: Any = client.xinfo_groups(stream)
    return next(g for g in groups if g["name"].decode() == name)


def _wait_in_background(app: App, client: redis.Redis, waiter: Consumer,
                        count: int) -> tuple[threading.Thread, list[Any]]:
    """Start ``waiter`` fetching up to ``count`` messages (30 s at most) on a thread; return
    once it blocks on the wake group, with the thread and the list its deliveries go to."""
    got: list[Any] = []

    def wait() -> None:
        got.extend(app.broker.fetch(waiter.name, waiter.queues, count, 30.0,
                                    idle_ids=[b"-"] * 10))

    thread = threading.Thread(target=wait)
    thread.start()
    for _ in range(50):
        clients: Any = client.client_list()
        if any(c.get("cmd") == "xreadgroup" for c in clients):
            break
        threading.Event().wait(0.05)
    return thread, got


def test_the_next_step_is_claimed_by_the_finishing_worker(app: App,
                                                           redis_client: redis.Redis) -> None:
    add_arithmetic_tasks(app)
    add = app.tasks["add"]
    result = chain(add.s(1, 1), add.s(10), add.s(100)).delay()
    worker = _consumer(app, "w1@host")
    worker.run_once()  # runs n0; its flush enqueues n1 and claims it for w1 in the same step
    assert [_node(worker)] == ["n1"]
    handed = worker.pending[0]
    owners: Any = redis_client.xpending_range(handed.source, CONSUMER_GROUP, "-", "+", 10)
    assert [(e["message_id"], e["consumer"]) for e in owners] == [(handed.entry_id, b"w1@host")]
    assert redis_client.xlen(handed.source) == 1  # n0's entry was acknowledged and deleted
    # nothing is left for an idle worker to wake up for
    assert _group(redis_client, handed.source, WAKE_GROUP)["last-delivered-id"] == \
        handed.entry_id
    assert _group(redis_client, handed.source, CONSUMER_GROUP)["lag"] == 0
    worker.run_once()
    worker.run_once()
    assert result.get(timeout=5) == 112
    assert worker.pending == []


def test_a_more_urgent_message_is_still_claimed_first(app: App,
                                                      redis_client: redis.Redis) -> None:
    add_arithmetic_tasks(app)
    add = app.tasks["add"]
    sent: list[Any] = []

    @app.task(name="send_urgent")
    def send_urgent(x: int) -> int:
        sent.append(add.apply_async((5, 5), priority=9))  # arrives while this step runs
        return x

    result = chain(app.tasks["send_urgent"].s(1), add.s(10)).delay()
    worker = _consumer(app, "w1@host")
    worker.run_once()  # runs n0; the folded claim takes the urgent message first, then n1
    assert [_node(worker, 0), _node(worker, 1)] == ["add", "n1"]
    assert worker.pending[0].source.endswith(b":p9")
    worker.run_once()
    assert sent[0].get(timeout=5) == 10
    assert result.get(timeout=5) == 11


def test_an_idle_waiter_still_gets_new_work_and_never_a_claimed_message(
        app: App, redis_client: redis.Redis) -> None:
    add_arithmetic_tasks(app)
    add = app.tasks["add"]
    waiter = _consumer(app, "idle@host")
    assert app.broker.fetch(waiter.name, waiter.queues, 4, 0.0) == []  # goes idle (wake group)
    thread, got = _wait_in_background(app, redis_client, waiter, 4)
    sent = add.delay(2, 3)  # a new message wakes the waiter, which claims it
    thread.join(30)
    assert [d.body for d in got] and b'"id":"' + sent.id.encode() in got[0].body
    worker = _consumer(app, "busy@host")
    worker.batch_size = 1
    chain(add.s(1, 1), add.s(10)).delay()
    worker.run_once()
    assert [_node(worker)] == ["n1"]  # handed over; the waiter below finds nothing to claim
    assert app.broker.fetch(waiter.name, waiter.queues, 4, 0.2, idle_ids=[b"-"] * 10) == []
    worker.run_once()


def test_a_waiter_survives_its_streams_being_deleted(app: App,
                                                     redis_client: redis.Redis) -> None:
    add_arithmetic_tasks(app)
    waiter = _consumer(app, "idle@host")
    thread, got = _wait_in_background(app, redis_client, waiter, 4)
    redis_client.delete(*app.broker.stream_keys(waiter.queues))  # a purge, a FLUSHDB...
    sent = app.tasks["add"].delay(2, 3)  # re-creates the stream without its groups
    thread.join(30)
    assert [d.body for d in got] and b'"id":"' + sent.id.encode() in got[0].body


def test_a_waiter_takes_what_a_fan_out_left_after_the_finishing_worker_took_one(
        app: App, redis_client: redis.Redis) -> None:
    from flowc.compiler.canvas.primitives import group

    add_arithmetic_tasks(app)
    add = app.tasks["add"]
    result = chain(add.s(1, 1), group(add.s(i) for i in range(10))).delay()
    worker = _consumer(app, "busy@host")
    worker.pending = app.broker.fetch(worker.name, worker.queues, 1, 0.0)  # n0, not run yet
    waiter = _consumer(app, "idle@host")
    assert app.broker.fetch(waiter.name, waiter.queues, 4, 0.0) == []
    thread, got = _wait_in_background(app, redis_client, waiter, 10)
    worker.batch_size = 1
    worker.run_once()  # runs n0; its done step fans out 10 members and claims one of them
    thread.join(30)
    assert len(worker.pending) == 1 and len(got) == 9  # the waiter took the rest at once
    nodes = {_node(worker, 0)}
    for d in got:
        nodes.add(Message.from_envelope(decode(d.tag, d.body, worker.accept)).workflow["node"])
        worker.handle(d)
    assert nodes == {f"n{i}" for i in range(1, 11)}  # every member claimed exactly once
    while worker.pending:
        worker.run_once()
    worker.settler.flush(worker.name)
    assert result.get(timeout=5) == [2 + i for i in range(10)]


def test_a_batch_of_members_settles_in_one_call_and_a_repeat_is_a_no_op(
        app: App, redis_client: redis.Redis) -> None:
    from flowc.compiler.canvas.primitives import group
    from flowc.runtime.worker.settle import Settler
    from flowc.runtime.workflows.join import JoinOp

    add_arithmetic_tasks(app)
    add = app.tasks["add"]
    result = group(add.s(i, i) for i in range(3)).delay()
    wid = result.workflow_id
    settler = Settler(app.settlement)
    for node, value in (("n0", b"0"), ("n1", b"2"), ("n1", b"99"), ("n2", b"4")):
        settler.join(JoinOp("done", wid, node, result_json=value))
    settler.join(JoinOp("done", "another-run", "n0"))  # another run: a call of its own
    assert len(settler.joins) == 2
    assert [n for n, _ in settler.joins[0].more] == ["n1", "n1", "n2"]
    settler.joins.pop()
    settler.flush("w@host")
    keys = app.keys.workflow(wid)
    results: Any = redis_client.hgetall(keys[2])
    assert results == {b"n0": b"0", b"n1": b"2", b"n2": b"4"}  # the repeat changed nothing
    assert app.workflow(wid).meta()["status"] == "SUCCESS"
    assert redis_client.hget(keys[4], "left") == b"0"


def test_a_step_claimed_in_the_join_of_a_worker_that_then_dies_runs_once_elsewhere(
        app: App, redis_client: redis.Redis) -> None:
    from flowc.runtime.worker.reaper import Reaper

    app.conf.task_acks_late = True
    runs: list[int] = []

    @app.task(name="count")
    def count(x: int) -> int:
        runs.append(x)
        return x + 1

    step = app.tasks["count"]
    result = chain(step.s(0), step.s(), step.s()).delay()
    doomed = _consumer(app, "doomed@host")
    doomed.run_once()  # runs n0; its join enqueues n1 and claims it for this process
    assert [_node(doomed)] == ["n1"] and runs == [0]
    # the process dies here, between the join and running n1: it never beat, so it is lost
    survivor = _consumer(app, "survivor@host")
    assert Reaper(app, survivor.name).reap_lost() == 1
    for _ in range(5):  # n1 then n2: each claimed by the previous step's flush
        if redis_client.exists(app.keys.result(result.id)):
            break
        survivor.run_once()
    assert result.get(timeout=5) == 3
    assert runs == [0, 1, 2]  # n1 ran once, on the survivor; nothing ran twice


def test_a_step_whose_successor_runs_elsewhere_leaves_its_worker_waiting_without_a_claim(
        app: App, redis_client: redis.Redis) -> None:
    add_arithmetic_tasks(app)
    add = app.tasks["add"]
    result = chain(add.s(1, 1), add.s(10).set(queue="other")).delay()
    worker = _consumer(app, "w1@host")
    worker.run_once()  # runs n0; its join enqueues n1 on "other", which w1 does not consume
    assert worker.pending == []
    # the folded claim found nothing: its reply is an idle one, so the next fetch waits at once
    assert worker.idle_ids == [b"-"] * len(app.broker.stream_keys(worker.queues))
    other = _consumer(app, "w2@host")
    other.queues = ["other"]
    other.run_once()
    assert result.get(timeout=5) == 12

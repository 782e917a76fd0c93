"""The ``Coordination`` contract (runtime/coordination.py): every adapter (Redis, and PostgreSQL
for a deployment without Redis) keeps worker records, revocations, rate slots, events, remote
control and beat's fenced lease the same way."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import orjson
import pytest
from flowc.runtime.app import App
from flowc.runtime.redis.beat_store import ALREADY_HANDLED, CLAIMED, LeaseLost


def test_a_worker_record_is_alive_until_it_expires_or_leaves(coordination_app: App) -> None:
    c = coordination_app.coordination
    c.beat("w1", {"queues": "celery", "tasks": '["t.add"]', "pid": 7}, 5.0, c.now())
    c.beat("w2", {"queues": "other", "tasks": "[]"}, 0.05, c.now())
    assert c.alive(["w1", "nobody"]) == [True, False]
    assert ("w1", {"celery"}, {"t.add"}) in c.peers(c.now() - 5)
    c.leave("w1")
    threading.Event().wait(0.2)  # the duration is the behaviour: w2's 50 ms record expires
    assert c.alive(["w1", "w2"]) == [False, False]
    assert [(w.name, w.alive) for w in c.workers(300)] == [("w2", False)]


def test_one_process_wins_an_election_until_it_expires(coordination_app: App) -> None:
    c = coordination_app.coordination
    assert c.elect("reaper", "a", 5.0)
    assert not c.elect("reaper", "b", 5.0)


def test_revocations_and_terminations_are_read_since_a_point(coordination_app: App) -> None:
    c = coordination_app.coordination
    start = c.now()
    cursor, _ = c.terminations(None)
    c.revoke(["t1"], c.now(), 3600, terminate=False)
    c.revoke(["t2"], c.now(), 3600, terminate=True)
    assert sorted(c.revoked_since(start - 1)) == ["t1", "t2"]
    assert c.terminations(cursor)[1] == ["t2"]


def test_rate_slots_are_spaced_by_the_interval(coordination_app: App) -> None:
    c = coordination_app.coordination
    waits = [c.rate_slot("contract:rate", 200.0) for _ in range(3)]
    assert waits[0] == pytest.approx(0, abs=20)
    assert waits[1] == pytest.approx(200, abs=60) and waits[2] == pytest.approx(400, abs=60)


def test_a_blocked_events_reader_wakes_for_a_new_entry(coordination_app: App) -> None:
    c = coordination_app.coordination
    c.add_events(orjson.dumps([{"type": "worker-heartbeat", "ts": 0.5}]), b"w1", 100)
    last, first = c.read_events("0-0")
    assert [e["type"] for e in first] == ["worker-heartbeat"]
    got: list[list[dict[str, object]]] = []
    reader = threading.Thread(target=lambda: got.append(c.read_events(last, block_ms=5000)[1]))
    reader.start()
    c.add_events(orjson.dumps([{"type": "worker-online", "ts": 1.0}]), b"w1", 100)
    reader.join(10)
    assert [e["type"] for e in got[0]] == ["worker-online"]
    assert len(list(c.event_entries())) == 2


def test_a_broadcast_gathers_each_subscribers_reply(coordination_app: App) -> None:
    c = coordination_app.coordination
    c.beat("w1", {"queues": "celery"}, 5.0, c.now())  # PostgreSQL counts live workers
    subscription = c.subscribe_control()

    def answer() -> None:
        command = orjson.loads(subscription.get(5.0) or b"{}")
        c.reply_control(command["reply_to"], orjson.dumps({"worker": "w1", "ok": "pong"}))

    worker = threading.Thread(target=answer)
    worker.start()
    try:
        box = c.reply_box("contract")
        replies = list(c.broadcast(orjson.dumps({"op": "ping", "reply_to": box}), box, 5.0))
    finally:
        worker.join(5)
        subscription.close()
    assert [orjson.loads(r) for r in replies] == [{"worker": "w1", "ok": "pong"}]


def test_beat_state_is_fenced_by_the_current_lease(coordination_app: App) -> None:
    c = coordination_app.coordination
    first, second = c.beat_lock(5.0), c.beat_lock(5.0)
    lease = first.refresh()
    assert lease is not None and second.refresh() is None
    state, due = c.beat_state(), datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    assert state.claim(lease, "e", due) == CLAIMED
    state.record(lease, "e", due)
    assert state.read(["e"])["e"].last == due and state.claim(lease, "e", due) == ALREADY_HANDLED
    first.release()
    taken = second.refresh()
    assert taken is not None and taken.fence > lease.fence
    with pytest.raises(LeaseLost):
        state.claim(lease, "e", due)

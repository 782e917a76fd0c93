"""Fewer duplicates: a task runs twice only where docs/reliability.md says it can.

A frozen worker does not run the prefetched messages the reaper gave away while it was
stopped; a claim whose reply was lost with the connection is recovered at once; a publish
re-sent after a dropped connection is not queued twice.
"""

from __future__ import annotations

import signal
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
import reliability_app as ra
from flowc.runtime.app import App
from flowc.runtime.broker import Outgoing
from flowc.runtime.redis.scripts import lua_source

from tests.faults import ReplyDropper
from tests.reliability.conftest import Cluster
from tests.runtime.support import wait_settled
from tests.waiting import wait_until

BATCH = 6


def test_a_worker_resumed_after_a_freeze_does_not_run_the_prefetched_tasks_given_away(
        cluster: Cluster, rel_app: App) -> None:
    # Given a worker that claimed a long task and six more behind it, then froze (SIGSTOP)
    ra.sleeper.delay(1.0)
    records = [ra.record.delay(i) for i in range(BATCH)]
    frozen = cluster.start("-P", "solo", env={"REL_PREFETCH": "8"})
    wait_until(lambda: cluster.logged("sleeper"), 10, "the long task to start", cluster.logs)
    frozen.proc.send_signal(signal.SIGSTOP)
    try:
        # When its heartbeat lapses and a live worker runs everything it held
        cluster.start("-P", "solo")
        assert [r.get(timeout=15) for r in records] == list(range(BATCH)), cluster.logs()
        wait_until(lambda: len(cluster.logged("sleeper")) == 2, 10, "the long task again")
    finally:
        frozen.proc.send_signal(signal.SIGCONT)
    # Then, resumed, it finishes the task it was running but drops the six it had prefetched
    wait_until(lambda: "given to other workers meanwhile" in frozen.log, 10,
               "the resumed worker to drop its given-away batch", cluster.logs)
    wait_settled(rel_app)
    runs = Counter(int(v) for v in cluster.logged("runs"))
    assert runs == Counter(range(BATCH)), (runs, cluster.logs())


@pytest.fixture
def dropper(cluster: Cluster) -> Iterator[ReplyDropper]:
    """A proxy in front of the cluster's server that can lose one reply."""
    proxy = ReplyDropper(cluster.server.socket_path)
    yield proxy
    proxy.stop()


def _produce_through(app: App, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWC_BROKER_URL", url)
    app.close()
    for name in ("broker_url", "backend_url"):
        app.__dict__.pop(name, None)


@pytest.mark.parametrize("how", ["delay", "batch"])
def test_a_publish_whose_reply_was_lost_is_queued_once_although_the_client_sends_it_again(
        cluster: Cluster, rel_app: App, dropper: ReplyDropper,
        monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    # Given a producer whose connection drops right after the server ran its publish
    _produce_through(rel_app, dropper.url, monkeypatch)
    cluster.redis.script_load(lua_source("publish"))  # (else the reply lost is NOSCRIPT)
    task_id = str(uuid.uuid4())
    dropper.arm(task_id.encode())
    # When it publishes (one message on the held connection, or a batch in one pipeline)
    if how == "delay":
        ra.record.apply_async((1,), task_id=task_id)
    else:
        rel_app.broker.publish([Outgoing("celery", 0, f"{task_id}:{i}".encode(), b"j")
                                for i in range(3)])
    # Then the client re-sent it, and the server queued each message once
    assert dropper.dropped == 1
    assert rel_app.broker.depth("celery")["ready"] == (1 if how == "delay" else 3)


def test_a_claim_whose_reply_was_lost_is_run_at_once_not_after_the_orphan_check(
        cluster: Cluster, rel_app: App, dropper: ReplyDropper) -> None:
    # Given four queued tasks and a worker (two per claim) whose first claim's reply is lost
    results = [ra.record.delay(i) for i in range(4)]
    sha = cluster.redis.script_load(lua_source("fetch")).encode()  # (else NOSCRIPT is lost)
    dropper.arm(b"EVALSHA\r\n$40\r\n" + sha)
    worker = cluster.start("-P", "solo", env={"REL_PREFETCH": "2"}, broker_url=dropper.url)
    # When its client re-sends the claim (which takes the next two)
    # Then the first two, claimed under its name by the lost call, run at once as well
    assert [r.get(timeout=5) for r in results] == list(range(4)), worker.log
    assert dropper.dropped == 1
    assert "recovered 2 message(s)" in worker.log, worker.log
    assert Counter(int(v) for v in cluster.logged("runs")) == Counter(range(4))

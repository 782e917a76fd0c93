"""A Redis restart without persistence: every key is gone, groups included. Workers must get
back to work on the fresh server: claim new messages, wait on re-created wake groups, and still
return the messages of a worker that dies after the restart."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import reliability_app as ra
from flowc.runtime.app import App
from flowc.runtime.redis.embedded import EmbeddedServer

from tests.reliability.conftest import Cluster
from tests.waiting import wait_until


@pytest.fixture
def volatile(embedded_server_factory: Callable[..., EmbeddedServer], process_reaper: Any,
             tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Cluster, App]]:
    """Workers on a private server with persistence off, and the producer app on it."""
    server = embedded_server_factory(appendonly=False)
    c = Cluster(server, process_reaper, tmp_path)
    monkeypatch.setenv("FLOWC_BROKER_URL", server.url)
    app = ra.app
    app.close()
    for name in ("broker_url", "backend_url"):
        app.__dict__.pop(name, None)
    yield c, app
    app.close()
    for name in ("broker_url", "backend_url"):
        app.__dict__.pop(name, None)
    for worker in c.workers:
        if worker.alive:
            worker.proc.kill()
    c.redis.close()


def test_workers_recover_from_a_restart_that_lost_every_key(
        volatile: tuple[Cluster, App]) -> None:
    cluster, _ = volatile
    a = cluster.start("-P", "solo")
    b = cluster.start("-P", "solo")
    assert ra.record.delay(1).get(timeout=10) == 1
    cluster.server.restart()  # no AOF: streams, groups, the queue registry are all gone
    # new work is claimed by the idle workers (wake groups re-created)
    assert [ra.record.delay(i).get(timeout=20) for i in range(2, 6)] == [2, 3, 4, 5]
    # a worker that dies holding a message after the restart: the message comes back
    held = ra.sleeper.delay(60)
    wait_until(lambda: len(cluster.logged("sleeper")) == 1, 20, "the sleeper to start",
             cluster.logs)
    pid = int(cluster.logged("sleeper")[0])
    victim, survivor = (a, b) if a.proc.pid == pid else (b, a)
    victim.proc.send_signal(signal.SIGKILL)
    wait_until(lambda: len(cluster.logged("sleeper")) == 2, 20,
             "the dead worker's message to run on the other worker", cluster.logs)
    assert int(cluster.logged("sleeper")[1]) == survivor.proc.pid
    assert held.state != "SUCCESS"

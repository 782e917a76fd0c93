"""At-least-once delivery on RabbitMQ: SIGKILLed workers lose nothing, poison pills stop.

No reaper is involved: RabbitMQ requeues a killed consumer's unacked messages the moment its
connection drops. Results, heartbeats and the tasks' run log use the cluster's Redis
(``FLOWC_COORDINATION_URL``).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
import reliability_app as ra
from flowc.runtime.app import App
from flowc.runtime.monitoring.dlq import DeadLetters

from tests.reliability.conftest import Cluster
from tests.transports import empty_vhost
from tests.waiting import WorkerProcess, wait_until

pytestmark = [pytest.mark.amqp, pytest.mark.process]

Start = Callable[..., WorkerProcess]


@pytest.fixture
def start(cluster: Cluster, amqp_url: str) -> Start:
    """Start a reliability_app worker on RabbitMQ (an emptied vhost), coordinated through the
    cluster's Redis."""
    empty_vhost(amqp_url, ["celery"])
    env = {"FLOWC_BROKER_URL": amqp_url, "FLOWC_COORDINATION_URL": cluster.server.url}

    def run(*args: str, expect: int = 1) -> WorkerProcess:
        return cluster.start(*args, env=env, expect=expect)

    return run


@pytest.fixture
def amqp_app(cluster: Cluster, amqp_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    """``reliability_app.app`` as the producer on RabbitMQ, results in the cluster's Redis."""
    monkeypatch.setenv("FLOWC_BROKER_URL", amqp_url)
    monkeypatch.setenv("FLOWC_COORDINATION_URL", cluster.server.url)
    app = ra.app
    cached = ("broker_url", "backend_url", "coordination_url", "broker_client", "coordination")
    app.close()
    for name in cached:
        app.__dict__.pop(name, None)
    yield app
    app.close()
    for name in cached:
        app.__dict__.pop(name, None)


def test_500_acks_late_tasks_survive_5_sigkills_of_solo_workers(start: Start, cluster: Cluster,
                                                                 amqp_app: App) -> None:
    # Given three solo acks_late workers on RabbitMQ
    solos = [start("-P", "solo") for _ in range(3)]
    rng = random.Random(7)
    # When 500 tasks run while five of the workers are SIGKILLed (and replaced)
    results = [ra.record.delay(i, rng.uniform(0.005, 0.015)) for i in range(500)]
    for _ in range(5):
        time.sleep(rng.uniform(0.15, 0.45))
        victim = rng.choice([w for w in solos if w.alive])
        victim.proc.kill()
        solos.remove(victim)
        solos.append(start("-P", "solo", expect=0))
    # Then every task ends SUCCESS and each ran at least once
    assert [r.get(timeout=60) for r in results] == list(range(500)), cluster.logs()
    assert set(Counter(int(v) for v in cluster.logged("runs"))) == set(range(500))


def test_a_poison_pill_is_dead_lettered_after_max_deliveries_and_the_rest_finish(
        start: Start, cluster: Cluster, amqp_app: App) -> None:
    # Given a prefork worker whose pool processes die when they run the poison task
    start("-P", "prefork", "-c", "2", expect=2)
    poison = ra.poison.delay()
    others = [ra.record.delay(i) for i in range(50)]
    # Then the poison pill reaches the dead-letter queue after five deliveries
    letters = DeadLetters(amqp_app)
    wait_until(lambda: letters.count() >= 1, 60, "the poison pill's dead letter", cluster.logs)
    [letter] = letters.newest()
    assert "delivered 5 times and its worker was lost each time" in letter.reason
    assert letter.task_id == poison.id
    assert len(cluster.logged("poison")) == 5
    # And every other task finished
    assert [r.get(timeout=20) for r in others] == list(range(50))

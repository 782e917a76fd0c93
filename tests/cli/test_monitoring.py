"""``flowc status``, ``inspect``, ``control``, ``purge`` and ``events`` against a real Redis."""

from __future__ import annotations

import orjson
import pytest
from click.testing import CliRunner
from flowc.runtime.app import App
from flowc.runtime.monitoring.events import EventSender
from flowc.runtime.monitoring.worker_side import attach
from flowc.runtime.worker.consumer import Consumer

from flowc.cli import main


@pytest.fixture
def cluster(redis_url, redis_client):
    app = App("cli", broker=redis_url)

    @app.task(name="cli.add")
    def add(x: int, y: int) -> int:
        return x + y

    consumer = Consumer(app, ["celery"], "cli@host.1.tok")
    attach(consumer)
    yield app, consumer
    consumer.shutdown()
    app.close()


def run(redis_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--broker", redis_url])
    return result.exit_code, result.output


def test_status_shows_queues_delayed_dead_letters_and_masks_the_password(cluster, redis_url):
    app, _ = cluster
    app.tasks["cli.add"].delay(1, 2)
    app.tasks["cli.add"].apply_async((1, 2), countdown=60)
    code, out = run(redis_url, "status")
    assert code == 0 and "celery" in out and "dead letters: 0" in out
    code, out = run(redis_url, "status", "--json")
    report = orjson.loads(out)
    assert report["queues"][0] == {"name": "celery", "ready": 1, "delayed": 1, "in_flight": 0,
                                   "by_priority": {"0": 1}, "workers": 0, "holders": 0,
                                   "consumers": None}
    masked = CliRunner().invoke(main, ["status", "--broker",
                                       redis_url.replace("redis://", "redis://:pw123@")])
    assert "pw123" not in masked.output


def test_inspect_and_control_gather_each_workers_reply(cluster, redis_url):
    code, out = run(redis_url, "inspect", "registered")
    assert code == 0 and "cli@host.1.tok: 1 registered" in out and "cli.add" in out
    code, out = run(redis_url, "control", "rate_limit", "cli.add", "10/m")
    assert code == 0 and "rate limit of cli.add set to 10/m" in out
    code, out = run(redis_url, "control", "pool_grow", "2")
    assert code == 1 and "cannot be resized" in out
    code, out = run(redis_url, "inspect", "active", "-d", "someone@else", "-t", "0.3")
    assert code == 1 and "no worker replied" in out


def test_control_adds_and_cancels_a_consumer_and_inspect_shows_the_queues(cluster, redis_url):
    code, out = run(redis_url, "control", "add_consumer", "reports")
    assert code == 0 and "now consuming from reports" in out
    code, out = run(redis_url, "inspect", "active_queues", "--json")
    assert code == 0 and "reports" in out
    code, out = run(redis_url, "control", "cancel_consumer", "reports")
    assert code == 0 and "no longer consuming from reports" in out
    code, out = run(redis_url, "inspect", "stats", "--json")
    assert code == 0 and '"pool"' in out and "reports" not in out


def test_control_revoke_records_the_revocation_even_without_workers(redis_url, redis_client):
    app = App("cli", broker=redis_url)
    pending = app.send_task("cli.add", (1, 2), countdown=60)
    code, out = run(redis_url, "control", "revoke", pending.id, "-t", "0.2")
    assert code == 0 and "revoked 1 task(s)" in out and "no worker replied" in out
    assert app.AsyncResult(pending.id).state == "REVOKED"
    app.close()


def test_purge_deletes_waiting_messages_after_confirmation(cluster, redis_url):
    app, _ = cluster
    for i in range(3):
        app.tasks["cli.add"].delay(i, i)
    app.tasks["cli.add"].apply_async((1, 1), countdown=60)
    aborted = CliRunner().invoke(main, ["purge", "--broker", redis_url], input="n\n")
    assert aborted.exit_code == 1 and "delete 4 waiting message(s)" in aborted.output
    code, out = run(redis_url, "purge", "-f")
    assert code == 0 and "purged 4 message(s)" in out
    assert app.broker.depth("celery") == {"ready": 0, "delayed": 0}


def test_events_prints_past_events_as_lines_or_json(redis_url, redis_client):
    app = App("cli", broker=redis_url)
    sender = EventSender(app, "w@h")
    sender.send("task-failed", uuid="t1", exception="ValueError('x')", traceback="Traceback\n")
    sender.send("worker-online")
    sender.flush()
    code, out = run(redis_url, "events", "--since", "all", "-n", "2", "--traceback")
    assert code == 0 and "task-failed" in out and "worker-online" in out and "Traceback" in out
    code, out = run(redis_url, "events", "--since", "1h", "-n", "1", "--type", "worker-",
                    "--json")
    assert orjson.loads(out.splitlines()[0])["type"] == "worker-online"
    code, out = run(redis_url, "events", "--since", "soon")
    assert code == 2 and "30s, 5m, 1h or all" in out
    app.close()

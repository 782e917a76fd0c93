"""Real ``flowc worker`` subprocesses: every pool, bad messages, warm shutdown, the banner."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from flowc.runtime.app import App

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "apps"))
import sample_app

from tests.waiting import WorkerProcess, wait_until

Start = Callable[..., WorkerProcess]


@pytest.mark.parametrize("pool", ["solo", "prefork", "threads", "asyncio"])
def test_every_pool_runs_sync_and_async_tasks(start_worker: Start, client_app: App,
                                              pool: str) -> None:
    worker = start_worker("-P", pool, "-c", "2", expect=2 if pool == "prefork" else 1)
    assert sample_app.add.delay(2, 3).get(timeout=10) == 5
    assert sample_app.async_add.delay(4, 5).get(timeout=10) == 9
    assert worker.stop() == 0


def test_prefork_runs_tasks_in_several_processes(start_worker: Start, client_app: App) -> None:
    start_worker("-P", "prefork", "-c", "2", expect=2)
    results = [sample_app.sleep_then.delay(0.3, i) for i in range(4)]
    pids = {sample_app.whoami.delay().get(timeout=10) for _ in range(6)}
    assert [r.get(timeout=10) for r in results] == [0, 1, 2, 3]
    assert len(pids) >= 1


def test_asyncio_pool_runs_coroutines_concurrently(start_worker: Start, client_app: App) -> None:
    start_worker("-P", "asyncio", "-c", "10")
    started = time.monotonic()
    results = [sample_app.async_sleep.delay(0.5) for _ in range(10)]
    assert [r.get(timeout=10) for r in results] == [0.5] * 10
    assert time.monotonic() - started < 3.0  # ten 0.5 s sleeps overlapped


def test_failure_in_a_worker_is_reraised_as_the_tasks_own_type(start_worker: Start,
                                                                client_app: App) -> None:
    start_worker("-P", "solo")
    with pytest.raises(sample_app.CustomError, match="nope") as caught:
        sample_app.fail_custom.delay("nope").get(timeout=10)
    assert "fail_custom" in caught.value.__notes__[0]


def test_malformed_message_is_dead_lettered_and_the_worker_keeps_working(
        start_worker: Start, client_app: App, redis_client: redis.Redis) -> None:
    worker = start_worker("-P", "solo")
    redis_client.xadd("flowc:{q:celery}:p0", {b"b": b"{not json", b"c": b"j"})
    assert sample_app.add.delay(1, 1).get(timeout=10) == 2
    [(_, fields)] = redis_client.xrange("flowc:dlq")
    assert fields[b"reason"].startswith(b"malformed message")
    assert fields[b"b"] == b"{not json"
    assert worker.proc.poll() is None
    assert "dead-lettered message" in worker.log


def test_unknown_task_is_dead_lettered_with_its_name(start_worker: Start, client_app: App,
                                                     redis_client: redis.Redis) -> None:
    start_worker("-P", "solo")
    client_app.send_task("sample_app.does_not_exist", args=[1])
    assert sample_app.add.delay(1, 2).get(timeout=10) == 3
    [(_, fields)] = redis_client.xrange("flowc:dlq")
    assert b"unknown task 'sample_app.does_not_exist'" in fields[b"reason"]


def test_pickle_message_is_refused_when_only_json_is_accepted(
        start_worker: Start, client_app: App, redis_client: redis.Redis) -> None:
    start_worker("-P", "solo")
    redis_client.xadd("flowc:{q:celery}:p0", {b"b": b"\x80\x04K\x01.", b"c": b"p"})
    assert sample_app.add.delay(2, 2).get(timeout=10) == 4
    [(_, fields)] = redis_client.xrange("flowc:dlq")
    assert b"refusing to decode 'pickle'" in fields[b"reason"]


def test_warm_shutdown_finishes_the_running_task_and_returns_prefetched_ones(
        start_worker: Start, client_app: App, redis_client: redis.Redis) -> None:
    worker = start_worker("-P", "solo")
    running = sample_app.sleep_started.delay(1.0, "done")
    wait_until(lambda: running.state == "STARTED", 10, "the task to start")
    queued = [sample_app.add.delay(i, i) for i in range(3)]
    assert worker.stop(signal.SIGTERM) == 0
    assert running.get(timeout=1) == "done"
    pending = redis_client.xpending("flowc:{q:celery}:p0", "workers")["pending"]
    assert pending == 0
    assert all(r.state == "PENDING" for r in queued)
    assert redis_client.xlen("flowc:{q:celery}:p0") == 3  # still queued for the next worker


def test_banner_lists_tasks_and_masks_the_broker_password(start_worker: Start,
                                                          redis_url: str) -> None:
    # A server without requirepass accepts any password, so the worker still connects.
    if redis_url.startswith("redis://"):
        url = redis_url.replace("redis://", "redis://:s3cret@")
    else:
        url = redis_url + ("&" if "?" in redis_url else "?") + "password=s3cret"
    worker = start_worker("-P", "solo", env={"FLOWC_BROKER_URL": url})
    log = wait_until(lambda: worker.log if "sample_app.add" in worker.log else "", 10,
                     "the banner")
    assert "s3cret" not in log and "****" in log
    assert "sample_app.add" in log and "solo" in log


def test_a_worker_only_consumes_the_queues_it_was_given(
        start_worker: Start, client_app: App, redis_client: redis.Redis) -> None:
    start_worker("-P", "solo", "-Q", "media_heavy")
    on_other = sample_app.add.apply_async((1, 1), queue="elsewhere")
    on_mine = sample_app.add.apply_async((2, 2), queue="media_heavy")
    assert on_mine.get(timeout=10) == 4
    # the worker fetched from media_heavy after the message to elsewhere was queued
    assert on_other.state == "PENDING"
    assert redis_client.xlen("flowc:{q:elsewhere}:p0") == 1


def test_one_ctrl_c_to_a_prefork_workers_process_group_is_a_warm_shutdown(
        start_worker: Start, client_app: App) -> None:
    """The terminal sends SIGINT to every process of the group; children must not count it."""
    worker = start_worker("-P", "prefork", "-c", "2", expect=2, popen={"start_new_session": True})
    running = sample_app.sleep_started.delay(1.0, "finished")
    wait_until(lambda: running.state == "STARTED", 10, "the task to start")
    os.killpg(worker.proc.pid, signal.SIGINT)
    assert worker.proc.wait(20) == 0
    assert running.get(timeout=1) == "finished"
    assert "cold shutdown" not in worker.log


def test_pool_processes_share_the_clients_built_before_the_fork_and_each_connects_its_own(
        app: App, redis_client: redis.Redis) -> None:
    # Given an app whose ports were built, prepared for forking (what a prefork worker does)
    app.broker.declare([app.conf.task_default_queue])
    db = str(redis_client.connection_pool.connection_kwargs.get("db", 0))

    def on_this_db() -> int:  # other test runs share the server, never this run's database
        return sum(1 for c in redis_client.client_list() if c.get("db") == db)

    before = on_this_db()
    app.prepare_fork()
    kept = {name: app.__dict__[name] for name in ("broker_client", "broker", "settlement")}
    # Then its connections are closed (no socket is inherited) but its objects kept
    wait_until(lambda: on_this_db() < before, 5, "the app's sockets to close")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a pool process: the same objects, its own connections
        code = 1
        try:
            app.after_fork()
            same = all(app.__dict__.get(n) is obj for n, obj in kept.items())
            code = 0 if same and app.broker_client.ping() else 2
        finally:
            os.write(write, bytes([code]))
            os._exit(code)
    os.close(write)
    assert os.read(read, 1) == b"\x00"
    os.waitpid(pid, 0)
    assert app.broker_client.ping()  # and the parent reconnects on its own

"""The index of workflow runs forgets runs whose keys expired, and keeps the ones still running."""

from __future__ import annotations

import time

import redis
from flowc.compiler.canvas.primitives import chain
from flowc.runtime.app import App
from flowc.runtime.redis.workflow_index import IndexPruner

from tests.runtime.support import BackgroundConsumer, add_arithmetic_tasks
from tests.waiting import wait_until


def _pruner(app: App, batch: int = 500) -> IndexPruner:
    return IndexPruner(app.broker_client, app.keys, lambda: app.conf.result_ttl, batch)


def _index(app: App, client: redis.Redis) -> set[str]:
    return {m.decode() for m in client.zrange(app.keys.workflows(), 0, -1)}


def test_a_finished_run_whose_keys_expired_leaves_the_index_and_a_running_one_stays(
        app: App, redis_client: redis.Redis) -> None:
    app.conf.result_expires = 1
    add_arithmetic_tasks(app)
    add = app.tasks["add"]
    worker = BackgroundConsumer(app)
    try:
        finished = chain(add.s(1, 1), add.s(1)).delay()
        assert finished.get(timeout=5) == 3
    finally:
        worker.stop()
    running = chain(add.s(1, 1).set(queue="nobody-consumes"), add.s(1)).delay()
    meta = app.keys.workflow(finished.workflow_id)[4]
    wait_until(lambda: not redis_client.exists(meta), 10, "the finished run's keys to expire")

    removed = _pruner(app).prune(now=time.time() + 5)

    assert removed == 1
    assert _index(app, redis_client) == {running.workflow_id}


def test_old_running_runs_do_not_stop_the_pruning_of_expired_runs_behind_them(
        app: App, redis_client: redis.Redis) -> None:
    index = app.keys.workflows()
    for i in range(3):  # the oldest entries: runs still going (their meta hash exists)
        redis_client.zadd(index, {f"alive-{i}": 100 + i})
        redis_client.hset(app.keys.workflow(f"alive-{i}")[4], "status", "RUNNING")
    redis_client.zadd(index, {"expired": 200, "recent": time.time()})
    pruner = _pruner(app, batch=2)

    removed = [pruner.prune(), pruner.prune()]

    assert removed == [0, 1]  # the first batch held only live runs; the walk went on past them
    assert _index(app, redis_client) == {"alive-0", "alive-1", "alive-2", "recent"}


def test_nothing_is_pruned_when_results_never_expire(app: App, redis_client: redis.Redis) -> None:
    app.conf.result_expires = None
    redis_client.zadd(app.keys.workflows(), {"gone-long-ago": 1})

    assert _pruner(app).prune() == 0
    assert _index(app, redis_client) == {"gone-long-ago"}

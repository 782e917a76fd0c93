"""The submit fast path: root messages built in Python match what workflow.lua builds itself.

``plan`` precomputes the message body of every root that can be enqueued at once, so the submit
script XADDs it without decoding its record. These tests submit the same plan twice, once with
the precomputed bodies and once without (the script then builds every root's envelope from its
record, the path every later step takes), and compare the queued messages byte for byte.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import redis
from flowc.compiler.canvas.primitives import chord, fanout, group
from flowc.compiler.validate import compile_canvas
from flowc.runtime.app import App
from flowc.runtime.workflows.plan import plan, uuid4_strings


def _register(app: App) -> None:
    @app.task(name="add")
    def add(x: int, y: int = 0, *, scale: int = 1) -> int:
        return (x + y) * scale

    @app.task(name="tsum")
    def tsum(values: list[int]) -> int:
        return sum(values)


def _stream_bodies(client: redis.Redis, app: App, queues: set[str]) -> list[bytes]:
    """Every queued message body, stream by stream (most urgent first), in order."""
    out: list[bytes] = []
    for key in app.broker.stream_keys(sorted(queues)):
        entries: Any = client.xrange(key)
        out += [fields[b"b"] for _, fields in entries]
    return out


def test_precomputed_root_bodies_equal_the_scripts_own(app: App,
                                                       redis_client: redis.Redis) -> None:
    _register(app)
    add = app.tasks["add"]
    canvas = group(
        add.s(1, 2, scale=3),
        add.s(4).set(priority=7, expires=600, acks_late=True, time_limit=30),
        add.s(5).set(queue="other", max_retries=2, rate_limit="10/s"),
        chord([], app.tasks["tsum"].s()),  # an empty chord: its body is a root receiving []
        fanout(add.s(10), items=[1, 2, 3]),  # a root map over literal items
        add.s(6, 7).set(countdown=30),  # delayed: left to the script (it is not XADDed now)
    )
    wf = compile_canvas(canvas, app.tasks)
    run = plan(app, wf, "wf-fast")
    assert run.ready and len(run.ready) == len(run.roots) - 1
    app.broker.declare(sorted(run.queues))
    app.workflow_join.submit(wf, run)
    fast = _stream_bodies(redis_client, app, run.queues)
    delayed_fast = redis_client.zrange(app.keys.delayed("celery"), 0, -1)
    redis_client.flushdb()

    app.broker._declared.clear()
    slow_run = plan(app, wf, "wf-fast")
    slow_run.task_ids, slow_run.records = run.task_ids, run.records
    slow_run.errbacks, slow_run.ready = run.errbacks, {}
    app.broker.declare(sorted(run.queues))
    app.workflow_join.submit(wf, slow_run)
    slow = _stream_bodies(redis_client, app, run.queues)
    assert fast == slow
    assert len(fast) == len(run.roots) - 1
    assert len(delayed_fast) == len(redis_client.zrange(app.keys.delayed("celery"), 0, -1)) == 1


def test_task_ids_are_version_4_uuids() -> None:
    ids = uuid4_strings(2000)
    assert len(set(ids)) == 2000
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    assert all(re.fullmatch(r"[0-9a-f-]{36}", t) for t in ids)
    assert uuid4_strings(0) == []

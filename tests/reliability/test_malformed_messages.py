"""Malformed messages in a real worker: each is dead-lettered on its first delivery with a
reason naming what is wrong, and the worker keeps serving (a property test throws arbitrary
envelopes and bytes at it)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
import pytest
import reliability_app as ra
from flowc.runtime.app import App
from flowc.runtime.redis.keys import CONSUMER_GROUP, DEFAULT_PRIORITY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.conftest import Cluster
from tests.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.process]

SETTLE_S = 5.0
"""A malformed message leaves the queue (run or dead-lettered) within this."""


def _send(cluster: Cluster, app: App, body: bytes, tag: bytes = b"j") -> bytes:
    """XADD a raw entry onto the default queue's stream, as a foreign producer would."""
    key = app.keys.stream("celery", DEFAULT_PRIORITY)
    entry: Any = cluster.redis.xadd(key, {b"b": body, b"c": tag})
    return bytes(entry)


def _dead_letters(cluster: Cluster) -> dict[bytes, dict[bytes, bytes]]:
    """Dead letters by body."""
    return {fields[b"b"]: fields for _, fields in cluster.redis.xrange("flowc:dlq")}


def _envelope(**fields: Any) -> dict[str, Any]:
    return {"v": 1, "id": str(uuid.uuid4()), "task": ra.echo.name, "args": [1], "kwargs": {},
            "queue": "celery", "priority": 0, **fields}


def test_malformed_fields_are_dead_lettered_on_first_delivery_naming_the_field(
        cluster: Cluster, rel_app: App) -> None:
    # Given a worker (acks_late, so a raising message would be redelivered until the orphan check)
    cluster.start("-P", "solo")
    bad = {"expires": "tomorrow", "workflow": "x", "priority": 99, "retries": -3}
    bodies = {field: orjson.dumps(_envelope(**{field: value})) for field, value in bad.items()}
    # When each is put on the queue
    started = time.monotonic()
    for body in bodies.values():
        _send(cluster, rel_app, body)
    # Then each is dead-lettered within seconds with its field in the reason, delivered once
    wait_until(lambda: len(_dead_letters(cluster)) == len(bad), SETTLE_S, "the dead letters",
             cluster.logs)
    assert time.monotonic() - started < SETTLE_S
    letters = _dead_letters(cluster)
    for field, body in bodies.items():
        assert f"envelope field '{field}'" in letters[body][b"reason"].decode()
    assert "raised" not in cluster.logs() and "Traceback" not in cluster.logs()


def test_a_message_over_the_size_limit_is_dead_lettered_at_fetch(cluster: Cluster,
                                                                  rel_app: App) -> None:
    # Given a worker that takes messages of at most 4 KiB
    cluster.start("-P", "solo", env={"REL_MAX_MESSAGE_BYTES": "4096"})
    # When a foreign producer sends 10 KiB, and then a small message
    big = orjson.dumps(_envelope(args=["x" * 10_000]))
    _send(cluster, rel_app, big)
    small = ra.echo.delay(2)
    # Then the big one is dead-lettered with its size and the setting, and the small one runs
    assert small.get(timeout=10) == [[2], {}]
    reason = _dead_letters(cluster)[big][b"reason"].decode()
    assert reason == (f"message of {len(big)} bytes is over flowc_max_message_bytes "
                      "(4096 bytes)")


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)
"""Any JSON value orjson can write."""
_plausible: dict[str, st.SearchStrategy[Any]] = {
    "v": st.sampled_from([1, 2, "1"]),
    "task": st.sampled_from([ra.echo.name, "unknown.task", ""]) | st.text(max_size=10),
    "priority": st.integers(-3, 12),
    "eta": st.floats(0, 3e9) | st.text(max_size=5),
    "expires": st.sampled_from([0.0, 1.0, 4e9]) | st.floats(allow_nan=False) | st.text(max_size=5),
    "retries": st.integers(-2, 5),
    "acks_late": st.booleans(), "ignore_result": st.booleans(),
    "time_limit": st.floats(0.5, 60) | st.integers(-1, 1), "soft_time_limit": st.floats(0.5, 60),
    "link": st.lists(st.dictionaries(st.text(max_size=5), _json, max_size=2), max_size=2),
    "workflow": st.fixed_dictionaries(
        {"id": st.text(max_size=6), "node": st.text(max_size=6)},
        optional={"i": st.integers(-1, 3), "expand": st.booleans(), "max": st.integers(-1, 3)}),
    "headers": st.fixed_dictionaries({}, optional={
        "options": st.fixed_dictionaries({}, optional={
            "max_retries": st.integers(-1, 3) | st.text(max_size=3),
            "rate_limit": st.sampled_from(["5/s", "x", 3]),
            "retry_backoff": st.booleans() | st.floats(-1, 2),
        }),
        "errback": _json,
        "flowc-rate-slot": _json,
    }),
}
_FIELDS = ["v", "id", "task", "args", "kwargs", "queue", "priority", "eta", "expires", "retries",
           "root_id", "parent_id", "group_id", "acks_late", "ignore_result", "time_limit",
           "soft_time_limit", "link", "link_error", "workflow", "headers", "extra"]
_envelopes = st.fixed_dictionaries({
    "set": st.dictionaries(st.sampled_from(_FIELDS), st.none(), max_size=6),
    "drop": st.lists(st.sampled_from(["v", "id", "task", "args", "kwargs"]), max_size=2),
}).flatmap(lambda plan: st.fixed_dictionaries({
    name: _plausible.get(name, _json) | _json for name in plan["set"]
}).map(lambda values, drop=plan["drop"]: {
    k: v for k, v in _envelope(**values).items() if k not in drop}))
"""Envelopes that start valid and have a few fields replaced by plausible or arbitrary values."""
_messages = (_envelopes.map(lambda env: (orjson.dumps(env), b"j"))
             | st.tuples(st.binary(max_size=64), st.sampled_from([b"j", b"p", b"", b"zz"])))


def test_every_arbitrary_message_is_run_or_dead_lettered_and_the_worker_stays_up(
        cluster: Cluster, rel_app: App) -> None:
    worker = cluster.start("-P", "solo")
    stream = rel_app.keys.stream("celery", DEFAULT_PRIORITY)
    results = rel_app.backend

    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(_messages)
    def each_message_settles(message: tuple[bytes, bytes]) -> None:
        body, tag = message
        dead_before = cluster.redis.xlen("flowc:dlq")
        _send(cluster, rel_app, body, tag)
        # Then it leaves the queue: acknowledged (run) or dead-lettered, within 5 s
        wait_until(lambda: cluster.redis.xlen(stream) == 0 and not _pending(cluster, stream),
                 SETTLE_S, f"{body[:200]!r} to be settled", cluster.logs)
        if cluster.redis.xlen("flowc:dlq") > dead_before:
            [(_, letter)] = cluster.redis.xrevrange("flowc:dlq", count=1)
            assert letter[b"b"] == body and letter[b"reason"]
        else:  # it ran (or was revoked as expired): its outcome is recorded unless ignored
            env = orjson.loads(body)
            if not env.get("ignore_result"):
                wait_until(lambda: results.get(env["id"]) != (None, None), SETTLE_S,
                         f"a result for {body[:200]!r}", cluster.logs)

    each_message_settles()
    assert worker.alive
    assert "consumer iteration failed" not in worker.log, worker.log[-3000:]


def _pending(cluster: Cluster, stream: str) -> int:
    info: Any = cluster.redis.xpending(stream, CONSUMER_GROUP)
    return int(info["pending"])

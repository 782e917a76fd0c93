"""Signed messages in real workers: a message whose arguments were changed in the stream is
dead-lettered as "bad signature" and never runs; workflows, retries and replays stay signed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import reliability_app as ra
from click.testing import CliRunner
from flowc.compiler.canvas.primitives import chain, chord
from flowc.runtime.app import App
from flowc.runtime.redis.keys import DEFAULT_PRIORITY
from flowc.runtime.signing import SIGNED_TAG

from flowc.cli import main
from tests.reliability.conftest import Cluster
from tests.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.process]

KEY = "a-shared-secret-of-32-characters"
OLD_KEY = "the-retired-secret-0123456789"
SIGNING = {"REL_FLOWC_SIGNING_KEY": KEY}


@pytest.fixture
def signed(rel_app: App) -> Iterator[App]:
    """The producer app signing with ``KEY`` (restored afterwards)."""
    _configure(rel_app, KEY, [])
    yield rel_app
    _configure(rel_app, None, [])


def _configure(app: App, key: str | list[str] | None, accepted: list[str]) -> None:
    app.conf.flowc_signing_key = key
    app.conf.flowc_signing_keys_accepted = accepted
    for name in ("workflow_join", "settlement", "workflows"):  # built from the settings once
        app.__dict__.pop(name, None)


def _entries(cluster: Cluster, app: App) -> list[tuple[bytes, dict[bytes, bytes]]]:
    return list(cluster.redis.xrange(app.keys.stream("celery", DEFAULT_PRIORITY)))


def _reason(cluster: Cluster) -> str:
    [(_, letter)] = cluster.redis.xrange("flowc:dlq")
    return str(letter[b"reason"].decode())


def test_a_message_whose_args_were_changed_in_the_stream_is_dead_lettered_not_run(
        cluster: Cluster, signed: App) -> None:
    # Given a signed message waiting in its stream
    ra.record.delay(1)
    [(entry_id, fields)] = _entries(cluster, signed)
    assert fields[b"c"] == SIGNED_TAG
    # When someone with access to Redis changes its argument 1 -> 666
    forged = fields[b"b"].replace(b'"args":[1]', b'"args":[666]')
    assert forged != fields[b"b"]
    cluster.redis.xadd(signed.keys.stream("celery", DEFAULT_PRIORITY),
                       {b"b": forged, b"c": fields[b"c"]})
    cluster.redis.xdel(signed.keys.stream("celery", DEFAULT_PRIORITY), entry_id)
    # Then a signing worker dead-letters it as "bad signature" and never runs it
    cluster.start("-P", "solo", env=SIGNING)
    wait_until(lambda: cluster.redis.xlen("flowc:dlq") == 1, 5, "the dead letter", cluster.logs)
    assert _reason(cluster) == "bad signature"
    assert ra.record.delay(2).get(timeout=10) == 2  # an honest message still runs
    assert cluster.logged("runs") == ["2"]


def test_an_unsigned_message_is_dead_lettered_by_a_signing_worker(cluster: Cluster,
                                                                  rel_app: App) -> None:
    cluster.start("-P", "solo", env=SIGNING)
    ra.record.delay(1)  # this producer does not sign
    wait_until(lambda: cluster.redis.xlen("flowc:dlq") == 1, 5, "the dead letter", cluster.logs)
    assert _reason(cluster) == "bad signature: the message is not signed"
    assert cluster.logged("runs") == []


def test_workflows_and_retries_run_signed_end_to_end(cluster: Cluster, signed: App) -> None:
    # Given a signing worker; the join cannot sign, so the worker publishes what it made ready
    cluster.start("-P", "solo", env=SIGNING)
    result = chain(ra.step.s(0, 1), ra.step.s(10), chord([ra.step.s(100) for _ in range(3)],
                                                          ra.total.s())).delay()
    assert result.get(timeout=20) == 3 * 111
    assert ra.flaky.delay(2).get(timeout=10) == 3  # two signed retries
    assert cluster.redis.xlen("flowc:dlq") == 0, cluster.logs()


def test_dlq_requeue_signs_again_with_the_current_key_and_keeps_a_forgery(
        cluster: Cluster, rel_app: App) -> None:
    # Given two messages signed with a key since retired, one of them forged, both dead-lettered
    _configure(rel_app, OLD_KEY, [])
    try:
        ra.record.delay(1)
        ra.record.delay(2)
    finally:
        _configure(rel_app, None, [])
    entries = _entries(cluster, rel_app)
    stream = rel_app.keys.stream("celery", DEFAULT_PRIORITY)
    cluster.redis.xdel(stream, *[eid for eid, _ in entries])
    for i, (_, fields) in enumerate(entries):
        body = fields[b"b"].replace(b'"args":[2]', b'"args":[666]') if i else fields[b"b"]
        cluster.redis.xadd("flowc:dlq", {b"b": body, b"c": fields[b"c"], b"source": stream,
                                         b"reason": b"test"})
    # When an operator whose app accepts the old key and signs with the new one replays them
    _configure(rel_app, KEY, [OLD_KEY])
    try:
        out = CliRunner().invoke(main, ["dlq", "-A", "reliability_app", "requeue", "--all"])
    finally:
        _configure(rel_app, None, [])
    # Then the genuine one is re-signed and runs on a worker that knows only the new key
    assert "requeued 1 message(s)" in out.output, out.output
    assert "kept" in out.output and "bad signature" in out.output
    cluster.start("-P", "solo", env=SIGNING)
    wait_until(lambda: cluster.logged("runs") == ["1"], 10, "the replayed task", cluster.logs)
    assert cluster.redis.xlen("flowc:dlq") == 1  # the forgery stays for inspection

"""Scale: a 10,000-task chord header and a 1,000-step chain complete; join state is O(nodes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from flowc.compiler.canvas.primitives import chain, chord
from flowc.runtime.app import App

from tests.runtime.support import BackgroundConsumer


@pytest.fixture
def sapp(app: App) -> Iterator[App]:
    @app.task(name="inc")
    def inc(x: int) -> int:
        return x + 1

    @app.task(name="tsum")
    def tsum(values: list[int]) -> int:
        return sum(values)

    worker = BackgroundConsumer(app)
    yield app
    worker.stop()


def test_chord_with_a_ten_thousand_task_header_completes(sapp: App,
                                                         redis_client: redis.Redis) -> None:
    inc, tsum = sapp.tasks["inc"], sapp.tasks["tsum"]
    result = chord([inc.s(i) for i in range(10_000)], tsum.s()).delay()
    assert result.get(timeout=120) == sum(range(1, 10_001))
    keys = sapp.keys.workflow(result.workflow_id)
    assert redis_client.hlen(keys[0]) == 10_001  # one run record per node, nothing more
    assert redis_client.hlen(keys[2]) == 10_001


def test_thousand_step_chain_completes(sapp: App) -> None:
    inc = sapp.tasks["inc"]
    result = chain(inc.s(0), *[inc.s() for _ in range(999)]).delay()
    assert result.get(timeout=120) == 1000

"""``task_always_eager`` runs every workflow inline with the same results as the Redis join."""

from __future__ import annotations

import pytest
from flowc.compiler.canvas.primitives import chain, chord, fanout, group
from flowc.runtime.app import App

from tests.runtime.support import add_arithmetic_tasks


@pytest.fixture
def eager_app() -> App:
    app = App("eager")
    app.conf.task_always_eager = True
    add_arithmetic_tasks(app)

    @app.task(name="boom")
    def boom(*args: object) -> None:
        raise ValueError("boom")

    return app


def test_eager_chain_group_chord_and_fanout_give_the_same_results(eager_app: App) -> None:
    add, tsum, upto = (eager_app.tasks[n] for n in ("add", "tsum", "upto"))
    assert chain(add.s(1, 2), add.s(3)).delay().get() == 6
    assert group(add.s(i, i) for i in range(3)).delay().get() == [0, 2, 4]
    assert chord([add.s(i, 1) for i in range(3)], tsum.s()).delay().get() == 6
    assert chain(upto.s(4), fanout(add.s(10)), tsum.s()).delay().get() == 46


def test_eager_failure_skips_dependents_and_reraises(eager_app: App) -> None:
    add, boom = eager_app.tasks["add"], eager_app.tasks["boom"]
    result = chain(add.s(1, 1), boom.s(), add.s(1)).delay()
    with pytest.raises(ValueError, match="boom"):
        result.get()

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


def test_eager_failure_skips_its_dependents_but_independent_branches_run_on(
        eager_app: App) -> None:
    # As on a worker (workflow.lua) and in Celery: the failure fails the run and skips the
    # chord body that needs it; the branch beside it runs to its end
    ran: list[int] = []

    @eager_app.task(name="note")
    def note(x: int) -> int:
        ran.append(x)
        return x

    boom, tsum, note_task = (eager_app.tasks[n] for n in ("boom", "tsum", "note"))
    result = chain(group(boom.s(), chain(note_task.si(1), note_task.si(2))), tsum.s()).delay()
    assert ran == [1, 2]
    with pytest.raises(ValueError, match="boom"):
        result.get()


def test_eager_chord_body_skipped_by_its_header_calls_its_errback_once_as_itself(
        eager_app: App) -> None:
    # As on a worker: the body's errback runs once, as the body's (its task id), however many
    # header tasks fail; get() raises the header's exception, as an eager Celery chord does
    called: list[str] = []

    @eager_app.task(name="report")
    def report(task_id: str) -> None:
        called.append(task_id)

    add, boom = eager_app.tasks["add"], eager_app.tasks["boom"]
    body = add.si(0, 0)
    body.link_error(eager_app.tasks["report"].s())
    result = chord([boom.s(), add.si(1, 1), boom.s()], body).delay()
    with pytest.raises(ValueError, match="boom"):
        result.get()
    assert called == [result.id]


def test_eager_retries_run_again_at_once_without_waiting(eager_app: App) -> None:
    calls: list[int] = []

    @eager_app.task(name="flaky", bind=True, max_retries=2, default_retry_delay=3600)
    def flaky(self: object, x: int) -> int:
        calls.append(x)
        if len(calls) < 3:
            raise self.retry()  # type: ignore[attr-defined]
        return x

    add = eager_app.tasks["add"]
    assert chain(add.s(1, 1), eager_app.tasks["flaky"].s()).delay().get() == 2
    assert calls == [2, 2, 2]

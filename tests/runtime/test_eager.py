"""Eager mode: ``task_always_eager`` and ``apply()`` run inline with the same result API."""

from __future__ import annotations

import pytest
from flowc.runtime.app import App
from flowc.runtime.result import EagerResult


def test_always_eager_runs_delay_inline_without_a_broker() -> None:
    app = App("t", broker="redis://unreachable.invalid:1/0")
    app.conf.task_always_eager = True

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    result = add.delay(2, 3)
    assert isinstance(result, EagerResult)
    assert (result.get(), result.state, result.successful()) == (5, "SUCCESS", True)


def test_eager_failure_is_recorded_and_reraised_by_get() -> None:
    app = App("t")
    app.conf.task_always_eager = True

    @app.task
    def boom() -> None:
        raise KeyError("k")

    result = boom.delay()
    assert result.failed()
    with pytest.raises(KeyError):
        result.get()


def test_eager_propagates_raises_at_call_time() -> None:
    app = App("t")
    app.conf.update(task_always_eager=True, task_eager_propagates=True)

    @app.task
    def boom() -> None:
        raise KeyError("k")

    with pytest.raises(KeyError):
        boom.delay()


def test_apply_runs_retries_inline_until_success() -> None:
    app = App("t")
    calls: list[int] = []

    @app.task(bind=True, max_retries=5)
    def flaky(self) -> str:
        calls.append(self.request.retries)
        if len(calls) < 3:
            raise self.retry(countdown=60)
        return "ok"

    assert flaky.apply().get() == "ok"
    assert calls == [0, 1, 2]


def test_eager_autoretry_gives_up_with_the_original_exception() -> None:
    app = App("t")

    @app.task(autoretry_for=(ConnectionError,), retry_kwargs={"max_retries": 2})
    def down() -> None:
        raise ConnectionError("refused")

    result = down.apply()
    assert result.failed() and isinstance(result.result, ConnectionError)


def test_eager_retries_never_touch_the_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    """An eager run (``apply()``) is all in-process: even its retries need no broker."""
    monkeypatch.setenv("FLOWC_BROKER_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    app = App("t")

    @app.task(autoretry_for=(ConnectionError,), retry_kwargs={"max_retries": 2})
    def down() -> None:
        raise ConnectionError("refused")

    result = down.apply()
    assert result.failed() and isinstance(result.result, ConnectionError)
    assert "broker_client" not in app.__dict__

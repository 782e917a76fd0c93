"""``@app.task``: registration, naming, options validated at decoration, inline calls."""

from __future__ import annotations

import pytest
from flowc.runtime.app import App
from flowc.runtime.exceptions import InvalidTaskOptions, NotRegistered


def test_bare_decorator_registers_under_module_and_function_name() -> None:
    app = App("proj")

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    assert add.name == f"{__name__}.add"
    assert app.tasks[add.name] is add


def test_explicit_name_option_is_used() -> None:
    app = App("proj")

    @app.task(name="tasks.process_video_transcode")
    def transcode() -> None: ...

    assert app.tasks["tasks.process_video_transcode"] is transcode


def test_calling_a_task_runs_it_inline() -> None:
    app = App("proj")

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    assert add(2, 3) == 5


def test_async_task_called_directly_runs_to_completion() -> None:
    app = App("proj")

    @app.task
    async def double(x: int) -> int:
        return x * 2

    assert double(21) == 42


def test_bound_task_receives_itself_and_an_empty_request_when_called_directly() -> None:
    app = App("proj")

    @app.task(bind=True)
    def me(self, x: int) -> tuple[str, bool]:
        return self.name, self.request.called_directly

    assert me(1) == (me.name, True)


@pytest.mark.parametrize(("options", "message"), [
    ({"priority": 12}, "priority must be an integer from 0 to 9"),
    ({"rate_limit": "ten per minute"}, "invalid rate_limit"),
    ({"time_limit": -1}, "time_limit must be a positive number"),
    ({"max_retries": "3"}, "max_retries must be an integer"),
    ({"autoretry_for": ("nope",)}, "autoretry_for must hold exception classes"),
    ({"queue": ""}, "queue must be a non-empty name"),
    ({"acks_lat": True}, "did you mean 'acks_late'"),
])
def test_invalid_task_option_fails_when_the_decorator_runs(options: dict[str, object],
                                                           message: str) -> None:
    app = App("proj")
    with pytest.raises(InvalidTaskOptions, match=message):
        app.task(**options)


def test_valid_retry_and_limit_options_are_accepted_now() -> None:
    app = App("proj")

    @app.task(bind=True, autoretry_for=(ConnectionError,), retry_kwargs={"max_retries": 3},
              retry_backoff=True, retry_jitter=True, rate_limit="10/m", time_limit=30,
              soft_time_limit=20, acks_late=True, ignore_result=False, priority=8,
              queue="media_heavy")
    def sync(self, store_id: str) -> str:
        return store_id

    assert sync.max_retries == 3 or sync.retry_kwargs == {"max_retries": 3}


def test_unknown_task_name_raises_not_registered_with_a_suggestion() -> None:
    app = App("proj")

    @app.task(name="tasks.analyze_chunk")
    def analyze() -> None: ...

    with pytest.raises(NotRegistered, match="did you mean 'tasks.analyze_chunk'"):
        app.tasks["tasks.analyze_chunkk"]


def test_signatures_carry_partial_arguments_and_immutability() -> None:
    app = App("proj")

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    partial, fixed = add.s(2), add.si(2, 3)
    assert (partial.task, partial.args, partial.immutable) == (add.name, (2,), False)
    assert (fixed.args, fixed.immutable) == ((2, 3), True)

"""Producing: what ``delay``/``apply_async`` put in Redis, and bad calls refused at call time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import redis
from flowc.runtime.app import App
from flowc.runtime.exceptions import InvalidTaskOptions, SerializationError


def _only_message(client: redis.Redis, key: str) -> dict[str, object]:
    entries = client.xrange(key)
    assert len(entries) == 1, entries
    fields = entries[0][1]
    assert fields[b"c"] == b"j"
    return dict(orjson.loads(fields[b"b"]))


def test_delay_puts_one_json_envelope_on_the_default_queue(app: App,
                                                           redis_client: redis.Redis) -> None:
    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    result = add.delay(2, 3)
    env = _only_message(redis_client, "flowc:{q:celery}:p0")
    assert env["id"] == result.id
    assert (env["task"], env["args"], env["kwargs"]) == (add.name, [2, 3], {})


def test_apply_async_queue_and_priority_choose_the_stream(app: App,
                                                          redis_client: redis.Redis) -> None:
    @app.task
    def transcode(video_id: int, fmt: str) -> None: ...

    transcode.apply_async(args=[2048, "webm"], queue="media_heavy", priority=8)
    env = _only_message(redis_client, "flowc:{q:media_heavy}:p8")
    assert env["priority"] == 8 and env["queue"] == "media_heavy"


def test_countdown_parks_the_message_in_the_delayed_set(app: App,
                                                        redis_client: redis.Redis) -> None:
    @app.task
    def later() -> None: ...

    before = time.time()
    later.apply_async(countdown=10)
    [(member, score)] = redis_client.zrange("flowc:{q:celery}:delayed", 0, -1, withscores=True)
    assert before + 9.5 < score < time.time() + 10.5
    assert member[:2] == b"0j"
    assert redis_client.xlen("flowc:{q:celery}:p0") == 0


def test_timezone_aware_eta_is_stored_as_its_instant(app: App, redis_client: redis.Redis) -> None:
    @app.task
    def later() -> None: ...

    eta = datetime.now(UTC).astimezone() + timedelta(hours=1)
    later.apply_async(eta=eta)
    [(_, score)] = redis_client.zrange("flowc:{q:celery}:delayed", 0, -1, withscores=True)
    assert score == pytest.approx(eta.timestamp(), abs=0.01)


def test_task_id_option_is_used_as_the_result_id(app: App) -> None:
    @app.task
    def noop() -> None: ...

    assert noop.apply_async(task_id="my-id").id == "my-id"


def test_routes_then_task_queue_then_default_decide_the_queue(app: App,
                                                               redis_client: redis.Redis) -> None:
    app.conf.task_routes = {"t.routed": {"queue": "by_route"}}

    @app.task(name="t.routed", queue="by_task")
    def routed() -> None: ...

    @app.task(name="t.own", queue="by_task")
    def own() -> None: ...

    @app.task(name="t.plain")
    def plain() -> None: ...

    routed.delay()
    own.delay()
    plain.delay()
    plain.apply_async(queue="explicit")
    for queue in ("by_route", "by_task", "celery", "explicit"):
        assert redis_client.xlen(f"flowc:{{q:{queue}}}:p0") == 1, queue


def test_non_json_argument_fails_at_call_time_and_sends_nothing(
        app: App, redis_client: redis.Redis) -> None:
    @app.task
    def takes(obj: object) -> None: ...

    with pytest.raises(SerializationError, match="cannot serialize to JSON"):
        takes.delay(object())
    assert redis_client.exists("flowc:{q:celery}:p0") == 0 or \
        redis_client.xlen("flowc:{q:celery}:p0") == 0


def test_arguments_that_do_not_fit_the_function_fail_at_call_time(app: App) -> None:
    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    with pytest.raises(TypeError, match="add"):
        add.delay(1, 2, 3)


@pytest.mark.parametrize(("options", "message"), [
    ({"countdown": 5, "eta": datetime.now(UTC)}, "either eta or countdown, not both"),
    ({"countdown": -1}, "countdown must not be negative"),
    ({"priority": 10}, "priority must be an integer from 0 to 9"),
    ({"eta": "tomorrow"}, "eta must be a datetime"),
    ({"expires": -5}, "expires must be positive"),
    ({"queu": "x"}, "did you mean 'queue'"),
])
def test_bad_call_options_fail_at_call_time(app: App, options: dict[str, object],
                                            message: str) -> None:
    @app.task
    def noop() -> None: ...

    with pytest.raises(InvalidTaskOptions, match=message):
        noop.apply_async(**options)


def test_send_task_enqueues_by_name_without_the_function(app: App,
                                                         redis_client: redis.Redis) -> None:
    app.send_task("remote.only", args=[1], queue="elsewhere")
    env = _only_message(redis_client, "flowc:{q:elsewhere}:p0")
    assert env["task"] == "remote.only"


def test_explicit_false_call_options_override_the_task_default(app: App,
                                                                redis_client: redis.Redis) -> None:
    @app.task(ignore_result=True)
    def quiet() -> None: ...

    quiet.apply_async(ignore_result=False, acks_late=False)
    env = _only_message(redis_client, "flowc:{q:celery}:p0")
    assert env["ignore_result"] is False and env["acks_late"] is False


def test_changing_routes_after_a_call_routes_the_next_call_anew(
        app: App, redis_client: redis.Redis) -> None:
    @app.task(name="t.moves")
    def moves() -> None: ...

    moves.delay()
    app.conf.task_routes = {"t.moves": {"queue": "routed"}}
    moves.delay()
    assert redis_client.xlen("flowc:{q:celery}:p0") == 1
    assert redis_client.xlen("flowc:{q:routed}:p0") == 1

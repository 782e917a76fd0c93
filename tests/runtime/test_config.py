"""Settings: Celery's names and defaults, loud failures with suggestions, routing rules."""

from __future__ import annotations

import types
from datetime import timedelta

import pytest
from flowc.runtime.app import App
from flowc.runtime.config import Settings, route_for
from flowc.runtime.exceptions import ImproperlyConfigured

from tests.runtime.support import forget_app


def test_defaults_are_celerys() -> None:
    conf = Settings()
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_default_queue == "celery"
    assert conf.result_expires == timedelta(days=1)
    assert conf.result_ttl == 86400
    assert conf.worker_prefetch_multiplier == 4
    assert conf.task_acks_late is False
    assert conf.enable_utc is True


def test_update_accepts_the_seed_guides_settings() -> None:
    app = App("tasks")
    app.conf.update(task_serializer="json", accept_content=["json"], result_serializer="json",
                    timezone="UTC", enable_utc=True, task_acks_late=True)
    assert app.conf.task_acks_late is True


def test_misspelt_setting_in_update_fails_with_a_suggestion() -> None:
    with pytest.raises(ImproperlyConfigured, match="did you mean 'task_acks_late'"):
        App("t").conf.update(task_acks_lat=True)


def test_misspelt_setting_assigned_as_attribute_fails_with_a_suggestion() -> None:
    conf = Settings()
    with pytest.raises(ImproperlyConfigured, match="did you mean 'task_default_queue'"):
        conf.task_default_queeu = "x"  # type: ignore[attr-defined]


def test_wrong_value_type_is_rejected_with_the_setting_name() -> None:
    with pytest.raises(ImproperlyConfigured, match="worker_prefetch_multiplier"):
        Settings().update(worker_prefetch_multiplier="many")


def test_unknown_serializer_is_rejected() -> None:
    with pytest.raises(ImproperlyConfigured, match="unknown serializer"):
        Settings().update(task_serializer="yaml")


def test_result_expires_accepts_a_timedelta() -> None:
    conf = Settings()
    conf.result_expires = timedelta(hours=2)
    assert conf.result_expires == timedelta(hours=2)
    assert conf.result_ttl == 7200


def test_result_expires_keeps_seconds_as_given() -> None:
    conf = Settings()
    conf.result_expires = 600
    assert (conf.result_expires, conf.result_ttl) == (600, 600)


def test_result_expires_refuses_a_string() -> None:
    with pytest.raises(ImproperlyConfigured, match="result_expires"):
        Settings().update(result_expires="soon")


def test_config_from_object_reads_a_module_and_ignores_imports() -> None:
    module = types.ModuleType("celeryconfig")
    module.os = types  # type: ignore[attr-defined]
    module.task_acks_late = True  # type: ignore[attr-defined]
    module.task_default_queue = "work"  # type: ignore[attr-defined]
    module.helper_constant = 3  # type: ignore[attr-defined]
    app = App("t")
    app.config_from_object(module)
    assert (app.conf.task_acks_late, app.conf.task_default_queue) == (True, "work")


def test_config_from_object_rejects_a_misspelt_setting_when_the_config_is_read() -> None:
    module = types.ModuleType("celeryconfig")
    module.task_always_eagr = True  # type: ignore[attr-defined]
    app = App("t")
    app.config_from_object(module)  # read at the first use of app.conf, as in Celery
    for _ in range(2):  # every read, not only the first
        with pytest.raises(ImproperlyConfigured, match="did you mean 'task_always_eager'"):
            app.conf  # noqa: B018
    forget_app(app)


def test_broker_url_environment_variable_wins_like_celerys(monkeypatch: pytest.MonkeyPatch,
                                                           redis_url: str) -> None:
    monkeypatch.setenv("FLOWC_BROKER_URL", redis_url)
    app = App("t", broker="redis://elsewhere:6379/0")
    assert app.broker_url == redis_url
    assert app.broker_is_embedded is False


def test_routes_dict_matches_exact_name_then_globs() -> None:
    routes = {"tasks.video": {"queue": "media"}, "tasks.*": {"queue": "general"}}
    assert route_for(routes, "tasks.video", [], {}) == {"queue": "media"}
    assert route_for(routes, "tasks.other", [], {}) == {"queue": "general"}
    assert route_for(routes, "other.x", [], {}) is None


def test_routes_list_tries_each_router_in_order() -> None:
    def router(name: str, args: object, kwargs: object, options: object, task: object = None,
               **kw: object) -> dict[str, str] | None:
        return {"queue": "fn"} if name.endswith("b") else None

    routes = [{"x.a": "qa"}, router]
    assert route_for(routes, "x.a", [], {}) == {"queue": "qa"}
    assert route_for(routes, "x.b", [], {}) == {"queue": "fn"}


def test_routes_of_the_wrong_shape_are_rejected() -> None:
    with pytest.raises(ImproperlyConfigured, match="task_routes"):
        Settings().update(task_routes=42)


def test_a_bad_default_rate_limit_fails_when_set_not_in_the_worker() -> None:
    with pytest.raises(ImproperlyConfigured, match="invalid rate_limit"):
        Settings().update(task_default_rate_limit="ten per minute")


def test_an_unknown_time_zone_is_rejected() -> None:
    with pytest.raises(ImproperlyConfigured, match="unknown time zone"):
        Settings().update(timezone="Mars/Base")


def test_values_are_coerced_as_pydantic_did_and_bounds_hold() -> None:
    conf = Settings()
    conf.update(worker_prefetch_multiplier="8", task_acks_late="yes", task_time_limit=5,
                accept_content=("json",), task_default_priority=None)
    assert conf.worker_prefetch_multiplier == 8
    assert conf.task_acks_late is True
    assert conf.task_time_limit == 5.0 and isinstance(conf.task_time_limit, float)
    assert conf.accept_content == ["json"]
    conf.task_time_limit = timedelta(seconds=90)  # Celery accepts a timedelta here
    assert conf.task_time_limit == 90.0
    for name, value, why in (("worker_max_tasks_per_child", 0, "at least 1"),
                             ("flowc_beat_lock_ttl", 0, "greater than 0"),
                             ("flowc_most_urgent_priority", 5, "one of 9, 0"),
                             ("flowc_workflow_publish", "later", "one of 'join', 'worker'"),
                             ("task_acks_late", "perhaps", "boolean"),
                             ("imports", "tasks", "list"),
                             ("task_default_queue", 3, "str")):
        with pytest.raises(ImproperlyConfigured, match=f"invalid setting {name}: .*{why}"):
            conf.update({name: value})


def test_settings_track_what_was_set_for_setdefault() -> None:
    conf = Settings(task_default_queue="work")
    assert conf.setdefault("task_default_queue", "other") == "work"
    assert conf.setdefault("task_acks_late", True) is True
    assert conf.get("not_a_setting", 7) == 7 and "task_acks_late" in conf

"""Celery's app-level API in flowc (issue 20): accepted-but-ignored options and settings,
``app.conf`` like Celery's, the current app, ``shared_task``, import paths, eager ``apply``."""

from __future__ import annotations

import subprocess
import sys
import types
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from flowc.runtime.compat import IgnoredOptionWarning, _warned

from flowc import App
from flowc.exceptions import ImproperlyConfigured, InvalidTaskOptions
from tests.runtime.support import forget_app


@pytest.fixture(autouse=True)
def fresh_warnings() -> Iterator[None]:
    """Each test sees the once-per-process warnings afresh."""
    _warned.clear()
    yield
    _warned.clear()


@pytest.fixture
def app(redis_url: str, redis_client: redis.Redis) -> Iterator[App]:
    application = App("p", broker=redis_url)
    yield application
    application.close()


# --- options and settings flowc does not act on ------------------------------------------------


def test_celery_task_options_flowc_ignores_are_accepted_with_one_warning(app: App) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        @app.task(send_events=False, trail=False)
        def one() -> int:
            return 1

    assert [(w.category, str(w.message).split("'")[1]) for w in caught] == [
        (IgnoredOptionWarning, "send_events"), (IgnoredOptionWarning, "trail")]

    with warnings.catch_warnings():
        warnings.simplefilter("error")

        @app.task(send_events=True)
        def two() -> int:  # the same name again: no second warning
            return 2

    assert one.apply().get() == 1 and two.apply().get() == 2


def test_store_eager_result_makes_an_apply_result_readable_by_id(app: App) -> None:
    @app.task(store_eager_result=True)
    def tenfold(x: int) -> int:
        return x * 10

    eager = tenfold.apply((4,))
    assert app.AsyncResult(eager.id).get(timeout=5) == 40


def test_apply_results_are_not_stored_without_store_eager_result(app: App) -> None:
    @app.task
    def tenfold(x: int) -> int:
        return x * 10

    assert app.AsyncResult(tenfold.apply((4,)).id).state == "PENDING"


def test_an_unknown_task_option_still_fails_with_a_suggestion(app: App) -> None:
    with pytest.raises(InvalidTaskOptions, match="did you mean 'store_eager_result'"):
        app.task(store_eager_reslt=True)


def test_celery_call_options_flowc_ignores_are_accepted(app: App) -> None:
    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = add.apply_async((1, 2), retry=True, retry_policy={"max_retries": 3})
    assert {str(w.message).split("'")[1] for w in caught} == {"retry", "retry_policy"}
    assert app.broker_client.xlen(app.keys.stream("celery", 0)) == 1
    assert result.id
    with pytest.raises(InvalidTaskOptions, match="did you mean 'countdown'"):
        add.apply_async((1, 2), countdwn=3)


def test_celery_settings_flowc_ignores_are_accepted_and_read_back() -> None:
    application = App("s")
    with pytest.warns(IgnoredOptionWarning, match="broker_pool_limit"):
        application.conf.broker_pool_limit = 10
    assert application.conf.broker_pool_limit == 10
    assert application.conf["broker_pool_limit"] == 10
    assert application.conf.get("broker_pool_limit") == 10
    assert application.conf.task_queues is None  # accepted, never set
    with pytest.raises(ImproperlyConfigured, match="did you mean 'broker_pool_limit'"):
        application.conf.update(broker_pool_limt=3)


# --- app.conf ----------------------------------------------------------------------------------


def test_conf_supports_get_items_update_and_attributes() -> None:
    conf = App("c").conf
    conf.update({"task_default_queue": "a"}, task_acks_late=True)
    conf["task_serializer"] = "pickle"
    assert conf.task_default_queue == "a" and conf["task_acks_late"] is True
    assert conf.get("task_serializer") == "pickle"
    assert conf.get("not_a_setting", "fallback") == "fallback"
    assert "task_acks_late" in conf and "not_a_setting" not in conf


def test_config_from_object_with_the_celery_namespace_reads_django_style_names() -> None:
    settings = types.SimpleNamespace(CELERY_BROKER_URL="redis://h:6379/3",
                                     CELERY_TASK_ALWAYS_EAGER=True, DEBUG=True,
                                     SECRET_KEY="x", broker_url="ignored-without-prefix")
    application = App("d")
    application.config_from_object(settings, namespace="CELERY")
    assert application.conf.broker_url == "redis://h:6379/3"
    assert application.conf.task_always_eager is True


def test_a_misspelt_namespaced_setting_fails_with_a_suggestion_when_the_config_is_read(
        ) -> None:
    settings = types.SimpleNamespace(CELERY_TASK_ALWAYS_EAGRE=True)
    application = App("d")
    application.config_from_object(settings, namespace="CELERY")
    with pytest.raises(ImproperlyConfigured, match="did you mean 'task_always_eager'"):
        application.conf.task_always_eager  # noqa: B018
    forget_app(application)


def test_config_from_object_reads_its_source_at_the_first_read_of_conf(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a source that does not exist yet when named (as django.conf:settings while
    # Django is still importing the settings module that imports proj/celery.py)
    application = App("lazy")
    application.config_from_object("parity_late_settings:settings", namespace="CELERY")
    module = types.ModuleType("parity_late_settings")
    module.settings = types.SimpleNamespace(CELERY_TASK_DEFAULT_QUEUE="late")  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, "parity_late_settings", module)
    # Then the first read loads it
    assert application.conf.task_default_queue == "late"


def test_config_from_object_applies_at_once_with_force_or_once_conf_was_read() -> None:
    forced = App("f")
    with pytest.raises(ModuleNotFoundError):
        forced.config_from_object("parity_no_such_settings", force=True)
    read = App("r")
    assert read.conf.task_default_queue == "celery"
    read.config_from_object({"task_default_queue": "now"})
    assert read.__dict__["conf"].task_default_queue == "now"


def test_a_silent_config_source_that_cannot_be_imported_is_skipped() -> None:
    application = App("s")
    application.config_from_object("parity_no_such_settings", silent=True)
    assert application.conf.task_default_queue == "celery"


def test_settings_given_to_the_app_win_over_its_config_source() -> None:
    application = App("w", broker="redis://given:6379/1", task_default_queue="given")
    application.config_from_object({"broker_url": "redis://source:6379/2",
                                    "task_default_queue": "source", "task_acks_late": True})
    assert application.conf.broker_url == "redis://given:6379/1"
    assert application.conf.task_default_queue == "given"
    assert application.conf.task_acks_late is True


def test_config_from_object_takes_a_module_attribute_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("parity_settings")
    module.settings = types.SimpleNamespace(CELERY_TASK_DEFAULT_QUEUE="django")  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, "parity_settings", module)
    application = App("d")
    application.config_from_object("parity_settings:settings", namespace="CELERY")
    assert application.conf.task_default_queue == "django"


def test_config_from_envvar_loads_the_named_module(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("parity_celeryconfig")
    module.task_default_queue = "from-env"  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, "parity_celeryconfig", module)
    monkeypatch.setenv("PARITY_CONFIG", "parity_celeryconfig")
    application = App("e")
    application.config_from_envvar("PARITY_CONFIG")
    assert application.conf.task_default_queue == "from-env"


# --- the current app ---------------------------------------------------------------------------


def test_the_newest_app_is_current_and_set_current_switches() -> None:
    from flowc import current_app

    first = App("first")
    second = App("second")
    assert current_app.main == "second"
    first.set_current()
    assert current_app.main == "first" and current_app._get_current_object() is first
    assert isinstance(current_app, App)
    assert second.main == "second"


@pytest.fixture
def no_app_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    """The current-app state of a process that has created no App."""
    from flowc.runtime import current

    monkeypatch.setattr(current, "_current", None)
    monkeypatch.setattr(current, "_default", None)


@pytest.mark.usefixtures("no_app_yet")
def test_with_no_app_created_the_current_app_is_a_default_one() -> None:
    from flowc import current_app

    assert current_app.main == "default"


@pytest.mark.usefixtures("no_app_yet")
def test_without_the_app_module_the_current_app_error_says_how_to_get_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # runtime.current sits below runtime.app: until App's module loads, it cannot make one
    from flowc.runtime import current

    monkeypatch.setattr(current, "_default_factory", None)
    with pytest.raises(ImproperlyConfigured, match=r"create one \(App\('proj'"):
        current.get_current_app()


@pytest.mark.parametrize("statement", [
    "from flowc import AsyncResult; name = AsyncResult('some-id').app.main",
    "from flowc.result import AsyncResult; name = AsyncResult('some-id').app.main",
])
def test_facade_names_that_use_the_current_app_work_before_any_app_exists(
        statement: str) -> None:
    # a fresh interpreter: the facade (or Celery's module path) loads what makes the default app
    out = subprocess.run([sys.executable, "-c", f"{statement}\nprint(name)"], check=True,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "default"


def test_async_result_without_an_app_uses_the_current_app(app: App) -> None:
    from flowc.result import AsyncResult

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    sent = add.apply(args=(1, 2))
    assert AsyncResult(sent.id).app is app
    assert AsyncResult("no-such-id").state == "PENDING"


def test_signature_and_group_without_an_app_use_the_current_app(app: App) -> None:
    from flowc import group, signature

    app.conf.task_always_eager = True

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    assert signature(add.name, args=(2, 3)).delay().get() == 5
    assert signature(add.name, args=(2,)).apply(args=(4,)).get() == 6
    assert group([]).apply_async().get() == []


@pytest.fixture
def no_new_shared_tasks() -> Iterator[None]:
    """Shared tasks a test declares bind to later apps too: forget them afterwards."""
    from flowc.runtime import current

    before = list(current._shared)
    yield
    current._shared[:] = before


@pytest.mark.usefixtures("no_new_shared_tasks")
def test_shared_task_binds_to_every_app_and_resolves_on_the_current_one() -> None:
    from flowc import shared_task

    early = App("early")

    @shared_task(name="parity.shared_double")
    def double(x: int) -> int:
        return 2 * x

    late = App("late")
    assert "parity.shared_double" in early.tasks and "parity.shared_double" in late.tasks
    assert double.app is late
    early.set_current()
    assert double.app is early
    assert double(4) == 8
    assert double.apply((5,)).get() == 10


def test_app_task_is_a_base_class_whose_hooks_and_attributes_apply(app: App) -> None:
    calls: list[tuple[str, object]] = []

    class Base(app.Task):  # type: ignore[misc,name-defined]
        rate_limit = "10/s"
        max_retries = 7

        def on_success(self, retval: object, task_id: str, args: object,
                       kwargs: object) -> None:
            calls.append(("on_success", retval))

    @app.task(base=Base)
    def add(x: int, y: int) -> int:
        return x + y

    assert isinstance(add, Base) and add.app is app
    assert add.max_retries == 7 and add.options["rate_limit"] == "10/s"
    assert add.apply((1, 2)).get() == 3
    assert calls == [("on_success", 3)]


def test_a_base_that_is_not_a_task_class_is_refused(app: App) -> None:
    with pytest.raises(InvalidTaskOptions, match="base must be a Task subclass"):
        app.task(base=object)


# --- import paths --------------------------------------------------------------------------------


def test_celerys_import_paths_exist() -> None:
    from flowc.app.task import Task as AppTask
    from flowc.exceptions import (
        ChordError,
        Ignore,
        MaxRetriesExceededError,
        Reject,
        Retry,
        SoftTimeLimitExceeded,
        TaskPredicate,
        TimeLimitExceeded,
    )
    from flowc.result import AsyncResult, EagerResult, GroupResult, ResultSet
    from flowc.signals import task_prerun, worker_ready
    from flowc.states import SUCCESS
    from flowc.utils.log import get_task_logger

    assert issubclass(Retry, TaskPredicate) and issubclass(Reject, TaskPredicate)
    assert issubclass(Ignore, TaskPredicate)
    assert {ChordError, MaxRetriesExceededError, SoftTimeLimitExceeded, TimeLimitExceeded}
    assert {AsyncResult, EagerResult, GroupResult, ResultSet, AppTask}
    assert task_prerun.name == "task_prerun" and worker_ready.name == "worker_ready"
    assert SUCCESS == "SUCCESS"
    assert get_task_logger("parity.tasks").parent.name == "flowc.task"


# --- results and eager calls ---------------------------------------------------------------------


def test_get_on_an_ignored_result_returns_none_at_once(app: App) -> None:
    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    assert add.apply_async((1, 2), ignore_result=True).get(timeout=0.01) is None

    @app.task(ignore_result=True)
    def quiet() -> int:
        return 1

    assert quiet.delay().get(timeout=0.01) is None


@pytest.mark.parametrize("eta", [datetime.now(UTC) + timedelta(hours=1),
                                 datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)],
                         ids=["aware", "naive-as-utc"])
def test_eta_datetimes_are_accepted_naive_as_utc(app: App, eta: datetime) -> None:
    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    add.apply_async((1, 2), eta=eta)
    (_, due), = app.broker_client.zrange(app.keys.delayed("celery"), 0, -1, withscores=True)
    expected = eta if eta.tzinfo else eta.replace(tzinfo=UTC)
    assert abs(due - expected.timestamp()) < 0.01


def test_apply_throw_reraises_and_link_error_runs_the_errback(app: App) -> None:
    errors: list[str] = []

    @app.task
    def boom() -> None:
        raise ValueError("boom")

    @app.task
    def on_error(request: object, exc: BaseException, traceback: str) -> None:
        errors.append(repr(exc))

    assert boom.apply().state == "FAILURE"
    with pytest.raises(ValueError, match="boom"):
        boom.apply(throw=True)
    assert boom.apply(link_error=on_error.s()).state == "FAILURE"
    assert errors == ["ValueError('boom')"]


def test_update_state_in_eager_mode_is_readable_by_id(app: App) -> None:
    @app.task(bind=True)
    def step(self: object) -> str:
        self.update_state(state="PROGRESS", meta={"done": 1})  # type: ignore[attr-defined]
        return self.request.id  # type: ignore[attr-defined,no-any-return]

    result = step.apply()
    assert app.AsyncResult(result.get()).state == "PROGRESS"  # eager results are not stored
    assert app.AsyncResult(result.get()).info == {"done": 1}


@pytest.mark.parametrize("naive", [False, True], ids=["aware", "naive-as-utc"])
def test_eta_datetimes_are_accepted_by_canvases_and_callbacks(app: App, naive: bool) -> None:
    from flowc import chain

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    eta = datetime.now(UTC) + timedelta(hours=1)
    given = eta.replace(tzinfo=None) if naive else eta
    chain(add.s(1, 2), add.s(3)).apply_async(eta=given)
    add.apply_async((1, 2), eta=given, link=add.s(5))
    dues = [due for _, due in app.broker_client.zrange(app.keys.delayed("celery"), 0, -1,
                                                         withscores=True)]
    assert len(dues) == 2 and all(abs(due - eta.timestamp()) < 0.01 for due in dues)


def _parity_package(root: Path, name: str) -> None:
    (root / name).mkdir()
    (root / name / "__init__.py").write_text("")
    (root / name / "tasks.py").write_text(
        f"from flowc import current_app\n\n@current_app.task(name='{name}.ping')\n"
        "def ping():\n    return 'pong'\n")


def test_autodiscovery_imports_the_tasks_modules_when_the_worker_imports_its_modules(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _parity_package(tmp_path, "parity_pkg")
    (tmp_path / "parity_plain").mkdir()
    (tmp_path / "parity_plain" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    application = App("auto")
    application.autodiscover_tasks(["parity_pkg", "parity_plain"])
    assert "parity_pkg.ping" not in application.tasks  # Celery's laziness
    application.import_modules()  # what the worker does at start; no tasks.py: skipped
    assert application.tasks["parity_pkg.ping"].apply().get() == "pong"


def test_autodiscover_takes_a_callable_read_at_discovery_and_force_imports_now(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _parity_package(tmp_path, "parity_pkg_a")
    _parity_package(tmp_path, "parity_pkg_b")
    monkeypatch.syspath_prepend(str(tmp_path))
    application = App("auto")
    packages: list[str] = []
    application.autodiscover_tasks(lambda: packages)
    packages.append("parity_pkg_a")
    application.import_modules()
    assert "parity_pkg_a.ping" in application.tasks
    application.autodiscover_tasks(["parity_pkg_b"], force=True)
    assert "parity_pkg_b.ping" in application.tasks


def test_autodiscover_without_packages_outside_django_imports_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    application = App("auto")
    application.autodiscover_tasks()
    application.import_modules()  # no Django project here: nothing to import, no error
    application.autodiscover_tasks(force=True)


def test_a_django_projects_tasks_have_delay_on_commit_as_celerys_django_task(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("django")
    from flowc.app.task import Task
    from flowc.contrib.django.task import DjangoTask

    assert issubclass(DjangoTask, Task) and callable(DjangoTask.delay_on_commit)
    assert not hasattr(App("plain").Task, "delay_on_commit")
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "parity_django_settings")  # never imported here
    application = App("django")

    @application.task
    def ping() -> str:
        return "pong"

    assert callable(ping.delay_on_commit) and callable(ping.apply_async_on_commit)


def test_a_shared_task_defined_earlier_does_not_make_a_new_app_load_its_configuration_early(
        ) -> None:
    # Given a shared task already defined in the process (a library's, imported first)
    from flowc.runtime import current

    from flowc import shared_task

    @shared_task(name="parity.defined_before_the_app")
    def early_shared() -> int:
        return 1

    try:
        # When an app is made and then names its configuration (proj/celery.py's order)
        application = App("configured_later")
        application.config_from_object({"task_default_retry_delay": 7})
        # Then the source is read at the first read of conf, not at once
        assert "conf" not in application.__dict__
        # And the shared task is there once the app is used, with the configuration in force
        task = application.tasks["parity.defined_before_the_app"]
        assert task.default_retry_delay == 7.0
    finally:
        current._shared[:] = [s for s in current._shared
                              if s[1].get("name") != "parity.defined_before_the_app"]
        forget_app(application)

"""One Celery task module, run unchanged by Celery and by flowc: only the import lines differ.

``COMPAT_IMPL=celery`` imports Celery, ``COMPAT_IMPL=flowc`` the same names from flowc (``from
flowc import App as Celery``). Where flowc lacks a name, an option or a class, that one thing
becomes a ``Missing`` placeholder, so the module still imports and only the cases using it fail.
The tasks follow Celery's docs and the shapes of Celery's own integration tasks (``t/integration/
tasks.py``), written anew. Side effects the tests observe go to Redis under ``compat:<impl>:``.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from datetime import timedelta
from typing import Any

import redis

IMPL = os.environ.get("COMPAT_IMPL", "celery")
REDIS_URL = os.environ.get("COMPAT_REDIS_URL", "redis://127.0.0.1:6379/0")
QUEUE = f"compat_{IMPL}"
PREFIX = f"compat:{IMPL}:"

# --- the import lines: the only part a port changes ------------------------------------------
if IMPL == "celery":
    from celery import Celery, chain, chord, group, signature
else:
    from flowc import App as Celery  # type: ignore[assignment]
    from flowc import chain, chord, group, signature  # type: ignore[assignment]

PACKAGE = "celery" if IMPL == "celery" else "flowc"
__all__ = ["Celery", "app", "chain", "chord", "group", "signature"]


class MissingFeature(Exception):
    """Raised when a case uses something the implementation under test does not provide."""


class Missing:
    """Stands in for a name, option or class the implementation lacks; any use raises."""

    def __init__(self, what: str, error: BaseException) -> None:
        self.what = what
        self.error = error

    def __repr__(self) -> str:
        return f"<Missing {self.what}: {self.error!r}>"

    def _fail(self) -> MissingFeature:
        return MissingFeature(f"{self.what} is not available: {self.error!r}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise self._fail()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise self._fail()


def imp(module: str, name: str) -> Any:
    """``from <module> import <name>``, with the leading ``celery`` read as the package in use."""
    path = PACKAGE + module[len("celery"):]
    try:
        return getattr(importlib.import_module(path), name)
    except (ImportError, AttributeError) as error:
        return Missing(f"{path}.{name}", error)


def optional(factory: Any) -> Any:
    """Run ``factory`` (which defines and returns one task or class); a failure yields Missing."""
    try:
        return factory()
    except Exception as error:
        return Missing(factory.__name__, error)


states = imp("celery", "states")
shared_task = imp("celery", "shared_task")
current_app = imp("celery", "current_app")
Task = imp("celery", "Task")
chunks = imp("celery", "chunks")
xmap = imp("celery", "xmap")
xstarmap = imp("celery", "xstarmap")
AsyncResult = imp("celery.result", "AsyncResult")
GroupResult = imp("celery.result", "GroupResult")
ResultSet = imp("celery.result", "ResultSet")
EagerResult = imp("celery.result", "EagerResult")
Reject = imp("celery.exceptions", "Reject")
Ignore = imp("celery.exceptions", "Ignore")
Retry = imp("celery.exceptions", "Retry")
MaxRetriesExceededError = imp("celery.exceptions", "MaxRetriesExceededError")
TaskRevokedError = imp("celery.exceptions", "TaskRevokedError")
TimeoutError = imp("celery.exceptions", "TimeoutError")
ChordError = imp("celery.exceptions", "ChordError")
NotRegistered = imp("celery.exceptions", "NotRegistered")
ImproperlyConfigured = imp("celery.exceptions", "ImproperlyConfigured")
schedule = imp("celery.schedules", "schedule")
crontab = imp("celery.schedules", "crontab")
Scheduler = imp("celery.beat", "Scheduler")
ScheduleEntry = imp("celery.beat", "ScheduleEntry")
get_task_logger = imp("celery.utils.log", "get_task_logger")
signals = {name: imp("celery.signals", name) for name in (
    "task_prerun", "task_postrun", "task_success", "task_failure", "task_retry", "task_revoked",
    "before_task_publish", "after_task_publish", "worker_ready", "worker_shutdown",
    "worker_process_init", "beat_init", "setup_logging")}

# --- the app -----------------------------------------------------------------------------------
app = Celery("compat_tasks", broker=REDIS_URL, backend=REDIS_URL)
app.conf.task_default_queue = QUEUE
app.conf.result_expires = 600
# The one line a ported Redis app that relies on priorities adds (Celery ignores the name):
# flowc then serves 0 first, as Celery on Redis does.
app.conf.flowc_most_urgent_priority = 0

_client: redis.Redis | None = None


def store() -> redis.Redis:
    """The Redis client side effects are written with (one per process, made on first use)."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    return _client


def record(key: str, value: Any) -> None:
    """Append ``value`` (as JSON) to the list ``key``: how tasks tell the tests what happened."""
    store().rpush(key, json.dumps(value))


def recorded(key: str) -> list[Any]:
    """Everything ``record`` appended to ``key``."""
    return [json.loads(item) for item in store().lrange(key, 0, -1)]


class ExpectedException(Exception):
    """The failure the failing tasks raise; equal when the messages are."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExpectedException) and self.args == other.args

    def __hash__(self) -> int:
        return hash(self.args)


# --- plain tasks -------------------------------------------------------------------------------
@app.task
def add(x: int, y: int, z: int | None = None) -> int:
    """x + y (+ z)."""
    return x + y + (z or 0)


@app.task
def mul(x: int, y: int) -> int:
    """x * y."""
    return x * y


@app.task
def identity(x: Any) -> Any:
    """Returns its argument."""
    return x


@app.task
def tsum(values: list[Any]) -> int:
    """Sum of a list, nested lists flattened."""
    total = 0
    for value in values:
        total += tsum(value) if isinstance(value, list) else value
    return total


@app.task
def pair(a: Any, b: Any) -> list[Any]:
    """The two arguments in the order received (shows where partial arguments go)."""
    return [a, b]


@app.task
def echo_kwargs(**kwargs: Any) -> dict[str, Any]:
    """The keyword arguments received."""
    return kwargs


@app.task
def echo_args(*args: Any, key: str) -> list[Any]:
    """Records the positional arguments received (shows whether a parent result was passed)."""
    record(key, list(args))
    return list(args)


@app.task
def count(key: str) -> int:
    """Increments a counter (shows how many times a callback ran)."""
    return int(store().incr(key))


@app.task
def fail(*args: Any) -> None:
    """Always fails with ExpectedException."""
    raise ExpectedException("Task expected to fail", *args)


@app.task
def fail_value_error() -> None:
    """Fails with a builtin exception type."""
    raise ValueError("bad value")


@app.task
def sleeping(seconds: float) -> float:
    """Sleeps, then returns how long."""
    time.sleep(seconds)
    return seconds


@app.task
def wait_for(key: str, timeout: float = 5.0) -> bool:
    """Blocks until ``key`` exists in Redis (the test releases it), at most ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store().exists(key):
            return True
        time.sleep(0.02)
    return False


@app.task
def record_id(task_id: str) -> None:
    """An old-style errback: receives the failed task's id."""
    record(PREFIX + "errback-ids", task_id)


@app.task
def log_error(request: Any, exc: BaseException, traceback: Any, key: str) -> None:
    """A new-style errback (Celery docs): receives the request, the exception and traceback."""
    record(key, [request.id, type(exc).__name__])


@app.task
def record_order(key: str, label: Any) -> None:
    """Appends ``label`` to ``key`` (shows the order tasks ran in)."""
    record(key, label)


@app.task(typing=False)
def add_untyped(x: int, y: int) -> int:
    """``add`` without call-time argument checking."""
    return x + y


@app.task(ignore_result=True)
def ignored(key: str) -> int:
    """A task whose result is never stored; marks ``key`` when it has run."""
    store().set(key, 1)
    return 42


@app.task(track_started=True)
def started(key: str) -> str:
    """Reports STARTED, then waits for ``key``."""
    wait_for(key)
    return "done"


@app.task(acks_late=True, reject_on_worker_lost=True)
def late(x: int) -> int:
    """A late-acked task."""
    return x


@app.task
def get_inside() -> Any:
    """Waits on another task's result from inside a task (Celery forbids this)."""
    return add.delay(1, 1).get(timeout=2)


@app.task
def reject_for_good() -> None:
    """Rejects its message without requeueing it."""
    raise Reject("no thanks", requeue=False)


@app.task
def ignore_me(key: str) -> None:
    """Marks ``key``, then raises Ignore: no state is stored."""
    store().set(key, 1)
    raise Ignore()


@app.task(autoretry_for=(ZeroDivisionError,), max_retries=2, default_retry_delay=0)
def divide_autoretry(key: str) -> float:
    """Counts attempts in ``key`` and always divides by zero."""
    store().incr(key)
    return 1 / 0


# --- bound tasks -------------------------------------------------------------------------------
@app.task(bind=True)
def ids(self: Any, i: int) -> dict[str, Any]:
    """Its own id, root id and parent id (Celery's integration ``ids`` task)."""
    return {"id": self.request.id, "root_id": self.request.root_id,
            "parent_id": self.request.parent_id, "i": i}


@app.task(bind=True)
def group_id(self: Any) -> Any:
    """The id of the group this task runs in."""
    return self.request.group


@app.task(bind=True)
def request_fields(self: Any) -> dict[str, Any]:
    """The request fields Celery documents, as JSON-friendly values."""
    request = self.request
    delivery = dict(request.delivery_info or {})
    return {"id": request.id, "task": getattr(request, "task", None),
            "args": list(request.args or []),
            "kwargs": dict(request.kwargs or {}), "retries": request.retries,
            "hostname": request.hostname, "routing_key": delivery.get("routing_key"),
            "priority": delivery.get("priority"), "reply_to": getattr(request, "reply_to", None),
            "header": (getattr(request, "headers", None) or {}).get("x_compat"),
            "is_eager": request.is_eager, "called_directly": request.called_directly,
            "app_main": self.app.main}


@app.task(bind=True, max_retries=3, default_retry_delay=0)
def retry_once(self: Any, key: str) -> int:
    """Retries once, then returns how many retries it took."""
    store().incr(key)
    if self.request.retries == 0:
        raise self.retry(countdown=0.3)
    return int(self.request.retries)


@app.task(bind=True, max_retries=1, default_retry_delay=0)
def retry_forever(self: Any, x: int, y: int = 0) -> None:
    """Retries until the limit; past it Celery raises MaxRetriesExceededError."""
    raise self.retry(countdown=0)


@app.task(bind=True, max_retries=1, default_retry_delay=0)
def retry_with_exc(self: Any) -> None:
    """Retries with ``exc=``; past the limit that exception is raised."""
    raise self.retry(exc=ExpectedException("retried"), countdown=0)


@app.task(bind=True, max_retries=1, default_retry_delay=0)
def retry_exceeded_args(self: Any, x: int, y: int = 0) -> Any:
    """Catches MaxRetriesExceededError and returns what it says about the task's arguments."""
    try:
        raise self.retry(countdown=0)
    except MaxRetriesExceededError as error:
        return [list(error.task_args), dict(error.task_kwargs)]


@app.task(bind=True)
def progress(self: Any, steps: int) -> str:
    """Reports a custom PROGRESS state with meta at each step."""
    time.sleep(0.2)
    for step in range(steps):
        self.update_state(state="PROGRESS", meta={"step": step})
        time.sleep(0.1)
    return "done"


@app.task(bind=True)
def progress_then_wait(self: Any, key: str) -> str:
    """Reports PROGRESS, then waits for ``key``."""
    self.update_state(state="PROGRESS", meta={"step": 1})
    wait_for(key)
    return "done"


@app.task(bind=True)
def replaced_by_add(self: Any, x: int, y: int) -> Any:
    """Replaces itself with ``add(x, y)``."""
    raise self.replace(add.s(x, y))


@app.task(bind=True)
def replaced_by_chain(self: Any) -> Any:
    """Replaces itself with a chain."""
    raise self.replace(chain(add.s(1, 1), add.s(2)))


@app.task(bind=True)
def adds_to_chord(self: Any, x: int) -> int:
    """Adds ``add(x, x)`` to the chord it is in, then returns x."""
    self.add_to_chord(add.si(x, x))
    return x


@app.task(bind=True)
def current_task_name(self: Any) -> Any:
    """The name of the task current_app says is running."""
    return current_app.current_task.name


# --- tasks that need options or classes flowc may not have -----------------------------------
@optional
def shared_add() -> Any:
    """A ``shared_task``: bound to whichever app is current."""
    @shared_task
    def shared_add(x: int, y: int) -> int:
        return x + y
    return shared_add


@optional
def eager_stored() -> Any:
    """A task whose eager (``apply``) result is stored in the backend."""
    @app.task(store_eager_result=True)
    def eager_stored(x: int) -> int:
        return x * 10
    return eager_stored


@optional
def HookTask() -> Any:
    """An ``app.Task`` subclass whose hooks record that they ran."""
    class HookTask(app.Task):  # type: ignore[name-defined,misc]
        max_retries = 7

        def before_start(self, task_id: str, args: Any, kwargs: Any) -> None:
            record(PREFIX + "hooks:" + task_id, "before_start")

        def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
            record(PREFIX + "hooks:" + task_id, ["on_success", retval])

        def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any,
                       einfo: Any) -> None:
            record(PREFIX + "hooks:" + task_id, ["on_failure", type(exc).__name__])

        def on_retry(self, exc: BaseException, task_id: str, args: Any, kwargs: Any,
                     einfo: Any) -> None:
            record(PREFIX + "hooks:" + task_id, ["on_retry", type(exc).__name__])

        def after_return(self, status: str, retval: Any, task_id: str, args: Any, kwargs: Any,
                         einfo: Any) -> None:
            record(PREFIX + "hooks:" + task_id, ["after_return", status])

    return HookTask


@optional
def hooked_add() -> Any:
    """A task with ``base=HookTask``."""
    @app.task(base=HookTask)
    def hooked_add(x: int, y: int) -> int:
        return x + y
    return hooked_add


@optional
def hooked_fail() -> Any:
    """A failing task with ``base=HookTask``."""
    @app.task(base=HookTask)
    def hooked_fail() -> None:
        raise ExpectedException("hooked")
    return hooked_fail


@optional
def hooked_retry() -> Any:
    """A task with ``base=HookTask`` that retries once."""
    @app.task(base=HookTask, bind=True, default_retry_delay=0)
    def hooked_retry(self: Any) -> int:
        if self.request.retries == 0:
            raise self.retry(exc=ExpectedException("again"), countdown=0)
        return int(self.request.retries)
    return hooked_retry


@optional
def PlainBase() -> Any:
    """A subclass of the package's ``Task`` (not ``app.Task``) with a class attribute."""
    class PlainBase(Task):  # type: ignore[misc,valid-type]
        max_retries = 9

        def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
            record(PREFIX + "hooks:" + task_id, ["plain_on_success", retval])

    return PlainBase


@optional
def plain_based() -> Any:
    """A task with ``base=PlainBase``."""
    @app.task(base=PlainBase)
    def plain_based(x: int) -> int:
        return x
    return plain_based


# --- signals: receivers record into Redis --------------------------------------------------------
def _connect(name: str, receiver: Any) -> None:
    """``signal.connect(receiver)`` when the implementation has that signal."""
    signal = signals[name]
    if isinstance(signal, Missing):
        return
    try:
        signal.connect(receiver, weak=False)
    except Exception as error:  # a signal object without Celery's connect(weak=)
        signals[name] = Missing(f"{name}.connect", error)


def _task_id(task_id: Any = None, request: Any = None, **kwargs: Any) -> Any:
    if task_id is not None:
        return task_id
    if request is not None:
        return getattr(request, "id", None)
    return None


def _on_task_signal(name: str) -> Any:
    def receiver(sender: Any = None, **kwargs: Any) -> None:
        task_id = _task_id(kwargs.get("task_id"), kwargs.get("request"))
        if task_id is None and name == "task_success" and sender is not None:
            task_id = sender.request.id
        record(PREFIX + "signals", [name, task_id])
    return receiver


for _name in ("task_prerun", "task_postrun", "task_success", "task_failure", "task_retry",
              "task_revoked"):
    _connect(_name, _on_task_signal(_name))


def _on_publish(name: str) -> Any:
    def receiver(sender: Any = None, headers: Any = None, **kwargs: Any) -> None:
        record(PREFIX + "signals", [name, (headers or {}).get("id"), sender])
    return receiver


_connect("before_task_publish", _on_publish("before_task_publish"))
_connect("after_task_publish", _on_publish("after_task_publish"))


def _on_worker_ready(sender: Any = None, **kwargs: Any) -> None:
    store().set(PREFIX + "worker_ready", 1)


_connect("worker_ready", _on_worker_ready)


# --- configuration objects ------------------------------------------------------------------------
class NamespacedConfig:
    """Settings written the Django way: uppercase, with a CELERY_ prefix."""

    CELERY_TASK_DEFAULT_QUEUE = "from_namespace"
    CELERY_TASK_ACKS_LATE = True
    UNRELATED = "ignored"


class PlainConfig:
    """Settings written as Celery's lowercase names."""

    task_default_queue = "from_object"
    task_acks_late = True


EVERY_TEN_SECONDS = timedelta(seconds=10)

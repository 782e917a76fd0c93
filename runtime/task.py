"""``Task``: what ``@app.task`` returns; calling runs inline, ``delay``/``apply_async`` enqueue."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from flowc.runtime import states
from flowc.runtime.current import get_current_app
from flowc.runtime.eager import apply_eagerly
from flowc.runtime.exceptions import MaxRetriesExceededError, Retry
from flowc.runtime.options import check_priority, internal_priority
from flowc.runtime.outcome import encode_record, now_iso
from flowc.runtime.request import Request, current_request
from flowc.runtime.retry import eager_clock, next_retry_eta, policy_for
from flowc.runtime.workflows import replace as replacing

if TYPE_CHECKING:
    from flowc.compiler.canvas.signature import Signature
    from flowc.runtime.app import App
    from flowc.runtime.result import AsyncResult, EagerResult

DEFAULT_MAX_RETRIES = 3
DEFAULT_RETRY_BACKOFF_MAX = 600.0


HOOKS = ("before_start", "on_success", "on_failure", "on_retry", "after_return")
"""Methods a ``base=`` class may override; the worker calls them with Celery's signatures."""

_CLASS_OPTIONS = ("bind", "queue", "priority", "acks_late", "ignore_result", "rate_limit",
                  "autoretry_for", "retry_kwargs", "retry_backoff", "retry_backoff_max",
                  "retry_jitter", "default_retry_delay", "max_retries", "time_limit",
                  "soft_time_limit", "serializer", "track_started", "expires",
                  "reject_on_worker_lost", "store_errors_even_if_ignored", "throws", "typing",
                  "rate_limit_key", "max_deliveries")
"""Options a Task subclass may set as class attributes (``class T(app.Task): max_retries = 5``)."""

_FROM_CONFIG = (("serializer", "task_serializer"), ("rate_limit", "task_default_rate_limit"),
                ("priority", "task_default_priority"), ("track_started", "task_track_started"),
                ("acks_late", "task_acks_late"),
                ("acks_on_failure_or_timeout", "task_acks_on_failure_or_timeout"),
                ("reject_on_worker_lost", "task_reject_on_worker_lost"),
                ("ignore_result", "task_ignore_result"),
                ("store_eager_result", "task_store_eager_result"),
                ("store_errors_even_if_ignored", "task_store_errors_even_if_ignored"))
"""Celery's ``Task.from_config``: attributes whose default is the app's setting."""
_ATTRIBUTE_DEFAULTS: dict[str, Any] = {"time_limit": None, "soft_time_limit": None,
                                       "expires": None, "throws": (), "queue": None,
                                       "trail": True, "send_events": True}
"""Celery's other ``Task`` attribute defaults (options given to ``@app.task`` override them)."""


class Task:
    """A registered task: the function plus its options, bound to an App.

    Subclass it (or ``app.Task``) and pass ``base=`` to ``@app.task`` to add Celery's hooks
    (``before_start``, ``on_success``, ``on_failure``, ``on_retry``, ``after_return``) or set
    options as class attributes. A subclass defining ``run`` can be registered as a class-based
    task with ``app.register_task(MyTask())``.
    """

    app: App
    name: str
    _app: App | None = None
    """Set on ``app.Task``: the app a subclass's instances belong to by default."""
    # Celery's attributes, set per instance from the options and settings (_set_option_attributes)
    serializer: str | None
    rate_limit: str | None
    priority: int | None
    track_started: bool | None
    acks_late: bool | None
    acks_on_failure_or_timeout: bool | None
    reject_on_worker_lost: bool | None
    ignore_result: bool | None
    store_eager_result: bool | None
    store_errors_even_if_ignored: bool | None
    time_limit: float | None
    soft_time_limit: float | None
    expires: Any
    throws: Any
    queue: str | None

    def __init__(self, app: App | None = None, fn: Callable[..., Any] | None = None,
                 name: str | None = None, options: dict[str, Any] | None = None) -> None:
        cls = type(self)
        if app is None:
            app = cls._app
        if app is None:
            app = get_current_app()
        self.app = app
        options = dict(options or {})
        for key in _CLASS_OPTIONS:  # attributes a subclass sets are options unless overridden
            if key not in options:
                for klass in cls.__mro__:
                    if klass is Task:
                        break
                    if key in vars(klass):
                        options[key] = vars(klass)[key]
                        break
        if fn is not None:
            self.run = fn  # type: ignore[method-assign]
        elif cls.run is Task.run:
            raise TypeError(f"{cls.__name__} has no run() method: define one, or use it as "
                            "@app.task(base=...)")
        else:
            fn = self.run
        self.name = name or vars(cls).get("name") or \
            app.gen_task_name(cls.__name__, cls.__module__)
        self.options = options
        self.bind = bool(options.get("bind", False))
        self.is_async = inspect.iscoroutinefunction(fn)
        self.typing = options.get("typing", True)
        self.max_retries: int | None = options.get("max_retries", DEFAULT_MAX_RETRIES)
        self._default_retry_delay: float | None = (
            float(options["default_retry_delay"]) if "default_retry_delay" in options else None)
        self.autoretry_for: tuple[type[BaseException], ...] = _as_tuple(
            options.get("autoretry_for", ()))
        self.retry_kwargs: dict[str, Any] = dict(options.get("retry_kwargs") or {})
        self.retry_backoff: bool | float = options.get("retry_backoff", False)
        self.retry_backoff_max = float(options.get("retry_backoff_max", DEFAULT_RETRY_BACKOFF_MAX))
        self.retry_jitter: bool = options.get("retry_jitter", True)
        self._set_option_attributes(options)
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", self.name)
        self.__module__ = getattr(fn, "__module__", "")
        self.__wrapped__ = fn
        self.bindable_shapes: set[Any] = set()
        """Argument shapes (count, keyword names) already known to bind: checked once."""
        self.hooked = any(getattr(cls, h) is not getattr(Task, h) for h in HOOKS)
        """Whether a subclass overrides a hook (the worker skips hook calls otherwise)."""

    @property
    def default_retry_delay(self) -> float:
        """Seconds before a retry without a countdown: the task's option, else the app's
        ``task_default_retry_delay``, read when needed (defining a task must not read
        ``app.conf``: a configuration source named later is still to be loaded then)."""
        if self._default_retry_delay is None:
            return float(self.app.conf.task_default_retry_delay)
        return self._default_retry_delay

    @default_retry_delay.setter
    def default_retry_delay(self, value: float) -> None:
        self._default_retry_delay = float(value)

    def _set_option_attributes(self, options: dict[str, Any]) -> None:
        """Every option as an attribute, as Celery's tasks have them (``task.ignore_result``,
        ``task.acks_late``...): the option's value, else the setting's, else Celery's default."""
        conf = self.app.conf
        for key, setting in _FROM_CONFIG:
            setattr(self, key, options[key] if key in options else conf.get(setting))
        for key, default in _ATTRIBUTE_DEFAULTS.items():
            setattr(self, key, options.get(key, default))
        for key, value in options.items():
            if key not in ("name", "bind") and not hasattr(self, key):
                setattr(self, key, value)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """The task's body: the decorated function, or a class-based task's override."""
        raise NotImplementedError

    # --- hooks (Celery's signatures; the worker calls them where Celery's does) ----------------

    def before_start(self, task_id: str, args: Any, kwargs: dict[str, Any]) -> None:
        """Called in the worker just before the task runs."""

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: dict[str, Any]) -> None:
        """Called in the worker when the task returned ``retval``."""

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: dict[str, Any],
                   einfo: Any) -> None:
        """Called in the worker when the task raised ``exc`` (``einfo``: ExceptionInfo)."""

    def on_retry(self, exc: BaseException, task_id: str, args: Any, kwargs: dict[str, Any],
                 einfo: Any) -> None:
        """Called in the worker when the task is to be retried because of ``exc``."""

    def after_return(self, status: str, retval: Any, task_id: str, args: Any,
                     kwargs: dict[str, Any], einfo: Any) -> None:
        """Called in the worker after a task succeeded or failed (not on retry/reject/ignore)."""

    def __repr__(self) -> str:
        return f"<@task: {self.name}>"

    @cached_property
    def call_signature(self) -> inspect.Signature | None:
        """The function's signature (with ``self`` for bound tasks); None if not introspectable."""
        try:
            return inspect.signature(self.run)
        except (TypeError, ValueError):
            return None

    # --- calling ------------------------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task in this process, now (Celery: calling the task is a plain call)."""
        if self.bind:
            args = (self, *args)
        result = self.run(*args, **kwargs)
        if self.is_async and inspect.iscoroutine(result):
            import asyncio

            return asyncio.run(result)
        return result

    def delay(self, *args: Any, **kwargs: Any) -> AsyncResult:
        """Enqueue with positional and keyword arguments: ``apply_async(args, kwargs)``."""
        return self.apply_async(args, kwargs)

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> AsyncResult:
        """Enqueue with options (countdown, eta, expires, queue, priority, task_id, link...)."""
        return self.app.send_task(self.name, args, kwargs, task=self, **options)

    def apply(self, args: Any = None, kwargs: Any = None, **options: Any) -> EagerResult:
        """Run now in this process and return an ``EagerResult`` (retries run inline too).

        ``throw=True`` re-raises the task's exception (default: ``task_eager_propagates``);
        ``link``/``link_error`` callbacks run inline too, as Celery's ``apply`` does.
        """
        if options.get("link") or options.get("link_error"):
            from flowc.compiler.canvas.signature import Signature

            throw = options.pop("throw", None)
            for key in ("link", "link_error"):
                value = options.get(key)
                if value is not None and not isinstance(value, list | tuple):
                    options[key] = [value]
            sig = Signature(self.name, tuple(args or ()), dict(kwargs or {}), options,
                            app=self.app)
            result = self.app.apply_canvas_eager(sig, (), {}, {})
            if throw and result.failed():
                result.get()
            return result

        return apply_eagerly(self, list(args or ()), dict(kwargs or {}), options)

    def AsyncResult(self, task_id: str) -> AsyncResult:
        """A handle on a result of this task by id."""
        return self.app.AsyncResult(task_id)

    # --- signatures ---------------------------------------------------------------------------

    def signature(self, args: Any = None, kwargs: Any = None, **options: Any) -> Signature:
        """A ``Signature`` of this task with partial arguments and options."""
        from flowc.compiler.canvas.signature import Signature

        immutable = bool(options.pop("immutable", False))
        return Signature(self.name, tuple(args or ()), dict(kwargs or {}), options,
                         immutable=immutable, app=self.app)

    subtask = signature
    """Celery's old name for ``signature``."""

    def s(self, *args: Any, **kwargs: Any) -> Signature:
        """Partial signature: a parent's result will be prepended to ``args``."""
        return self.signature(args, kwargs)

    def si(self, *args: Any, **kwargs: Any) -> Signature:
        """Immutable signature: runs with exactly these arguments, ignoring a parent's result."""
        return self.signature(args, kwargs, immutable=True)

    def map(self, it: Any) -> Signature:
        """One task calling this one for each item of ``it`` (Celery's ``xmap``)."""
        from flowc.compiler.canvas.builtins import xmap

        return xmap(self.s(), it)

    def starmap(self, it: Any) -> Signature:
        """One task calling this one with each item of ``it`` as arguments (``xstarmap``)."""
        from flowc.compiler.canvas.builtins import xstarmap

        return xstarmap(self.s(), it)

    def chunks(self, it: Any, n: int) -> Signature:
        """The items of ``it`` in chunks of ``n``, one ``starmap`` task per chunk (a group)."""
        from flowc.compiler.canvas.builtins import chunks

        return chunks(self.s(), it, n)

    # --- inside a running task ----------------------------------------------------------------

    @property
    def request(self) -> Request:
        """The current invocation's context; an empty one when called directly."""
        req = current_request.get()
        if req is None or req.task != self.name:
            return Request(task=self.name)
        return req

    def replace(self, sig: Any) -> Any:
        """Replace this task with ``sig``, which inherits its id (Celery; see
        ``flowc.runtime.workflows.replace``). Raises ``Replaced`` in a worker."""
        return replacing.replace(self, sig)

    def add_to_chord(self, sig: Any, lazy: bool = False) -> Any:
        """Not supported: a flowc chord's header is fixed at submit (raises, saying so)."""
        return replacing.add_to_chord(self, sig, lazy)

    def update_state(self, task_id: str | None = None, state: str | None = None,
                     meta: Any = None, **kwargs: Any) -> None:
        """Record a state (a custom name such as 'PROGRESS' too) with ``meta`` for the current
        task, or ``task_id``; readers see it as ``AsyncResult.state`` and ``.info``."""
        task_id = task_id or self.request.id
        if task_id is None:
            raise ValueError("update_state() outside a running task needs task_id=")
        record = {"status": state or "PENDING", "result": meta, "task_id": task_id}
        conf = self.app.conf
        data = encode_record(record, conf.result_serializer)
        if state in states.READY_STATES:
            record["date_done"] = now_iso()
            self.app.backend.store([(task_id, encode_record(record, conf.result_serializer))],
                                   conf.result_ttl)
        else:
            self.app.backend.set_state([(task_id, data)], conf.result_ttl)

    def retry(self, args: Any = None, kwargs: Any = None, exc: BaseException | None = None,
              throw: bool = True, eta: Any = None, countdown: float | None = None,
              max_retries: int | None = None, **options: Any) -> Retry:
        """Ask the worker to run this task again later (raises ``Retry``, Celery's contract).

        With no retries left, re-raises ``exc`` if given, else ``MaxRetriesExceededError``.
        """
        req = self.request
        policy = policy_for(self, req.message)
        limit = policy.max_retries if max_retries is None else max_retries
        if limit is not None and req.retries >= limit:
            if exc is not None:
                raise exc
            raise MaxRetriesExceededError(
                f"Can't retry {self.name}[{req.id}] args:{req.args} kwargs:{req.kwargs}",
                task_args=req.args, task_kwargs=req.kwargs)
        now = eager_clock.get()() if req.is_eager or req.called_directly \
            else self.app.broker.now()
        when = next_retry_eta(policy, req.retries, countdown=countdown, eta=eta, now=now)
        err = Retry(exc=exc, when=when)
        if options.get("priority") is not None:
            options["priority"] = internal_priority(check_priority(options["priority"]), self.app)
        err.overrides = {"args": args, "kwargs": kwargs, "max_retries": limit, **options}
        if throw:
            raise err
        return err


def _as_tuple(value: Any) -> tuple[type[BaseException], ...]:
    if isinstance(value, tuple | list):
        return tuple(value)
    return (value,) if value else ()

"""The current app and ``shared_task``: what Celery's ``celery._state`` provides.

Every ``App`` becomes the current app when created (``set_as_current=True``, Celery's default)
and a worker makes its ``-A`` app current. ``current_app`` is a proxy resolving to it at each
use; with no App created yet a default one (``App('default')``) is made on first use.
``shared_task`` functions are registered on every App, existing and future. ``send_hook``
is where a task's sends go while ``flowc.testing``'s harness runs it.

This module sits below ``App`` (``Task`` and ``AsyncResult`` read the current app from it), so
it does not import ``runtime.app``: that module installs how to make the default app
(``set_default_app_factory``) when it loads, as the facade names that use this module
(``flowc.current_app``, ``flowc.shared_task``) load it.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from flowc.compiler.dispatch import set_current_dispatcher
from flowc.runtime.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from flowc.runtime.app import App
    from flowc.runtime.task import Task

NO_APP = ("no flowc App in this process: create one (App('proj', broker=...)) or import the "
          "module that does, before using the current app")

_lock = threading.RLock()
_current: App | None = None
_default: App | None = None
_default_factory: Callable[[], App] | None = None
_apps: weakref.WeakSet[App] = weakref.WeakSet()
_shared: list[tuple[Callable[..., Any], dict[str, Any]]] = []


SendHook = Callable[["App", Any, tuple[Any, ...], dict[str, Any], dict[str, Any]], Any]
"""``hook(app, canvas or Workflow, args, kwargs, options) -> result handle(s)``."""

send_hook: ContextVar[SendHook | None] = ContextVar("flowc_send_hook", default=None)
"""Where the tasks, canvases and workflows a task sends go while ``flowc.testing``'s harness
runs it (a run on the harness's virtual clock) instead of the broker; None: the broker."""


def get_current_app() -> App:
    """The current App; a default ``App('default')`` when none was created (raises
    ``ImproperlyConfigured`` if ``runtime.app`` was never loaded, so no App can be made)."""
    global _default
    if _current is not None:
        return _current
    with _lock:
        if _current is not None:
            return _current
        if _default is None:
            if _default_factory is None:
                raise ImproperlyConfigured(NO_APP)
            _default = _default_factory()
        return _default


def set_default_app_factory(factory: Callable[[], App]) -> None:
    """How ``get_current_app`` makes the default app (``runtime.app`` installs ``App``'s)."""
    global _default_factory
    _default_factory = factory


def set_current_app(app: App) -> None:
    """Make ``app`` the current one (``App.set_current``)."""
    global _current
    _current = app


def app_created(app: App) -> None:
    """Remember ``app``; its shared tasks are registered once its configuration is loaded
    (``shared_tasks_for``), as Celery adds them when an app is finalized: a task reads
    ``app.conf``, which must not load a configuration source named after ``App()``."""
    with _lock:
        _apps.add(app)
    if "conf" in app.__dict__:
        shared_tasks_for(app)


def shared_tasks_for(app: App) -> None:
    """Register on ``app`` every shared task it does not have yet (its ``conf`` was read)."""
    with _lock:
        shared = list(_shared)
    for fn, options in shared:
        name = options.get("name") or app.gen_task_name(fn.__name__, fn.__module__)
        if not dict.__contains__(app.tasks, name):
            app.task(**options)(fn)


class Proxy:
    """Forwards every attribute to the object ``lookup()`` returns now (Celery's ``Proxy``)."""

    __slots__ = ("__lookup",)

    def __init__(self, lookup: Callable[[], Any]) -> None:
        object.__setattr__(self, "_Proxy__lookup", lookup)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance(proxy, Task) holds, as with Celery's Proxy
        return type(self.__lookup())

    def _get_current_object(self) -> Any:
        """The object this proxy stands for at this moment."""
        return self.__lookup()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__lookup(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.__lookup(), name, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__lookup()(*args, **kwargs)

    def __repr__(self) -> str:
        return repr(self.__lookup())

    def __eq__(self, other: object) -> bool:
        target = other._get_current_object() if isinstance(other, Proxy) else other
        return bool(self.__lookup() == target)

    def __hash__(self) -> int:
        return hash(self.__lookup())

    def __bool__(self) -> bool:
        return bool(self.__lookup())


current_app: Any = Proxy(get_current_app)
"""The current App, resolved at each use (Celery's ``celery.current_app``)."""

set_current_dispatcher(get_current_app)


def shared_task(*args: Any, **options: Any) -> Any:
    """``@shared_task`` / ``@shared_task(bind=True, ...)``: a task registered on every App
    (existing and later ones); the returned object is the current app's task of that name."""

    def register(fn: Callable[..., Any]) -> Any:
        with _lock:
            _shared.append((fn, options))
            apps = list(_apps)
        for app in apps:
            if "conf" in app.__dict__:  # else added once its configuration is loaded
                app.task(**options)(fn)

        def lookup() -> Task:
            app = get_current_app()
            name = options.get("name") or app.gen_task_name(fn.__name__, fn.__module__)
            if name not in app.tasks:
                app.task(**options)(fn)
            return app.tasks[name]

        return Proxy(lookup)

    if len(args) == 1 and callable(args[0]) and not options:
        return register(args[0])
    if args:
        raise TypeError("use @shared_task or @shared_task(option=value, ...)")
    return register

"""``App``: the task registry, configuration, and the producer side (Celery's ``Celery``)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from flowc.runtime import current, signals
from flowc.runtime.broker import Outgoing
from flowc.runtime.config import Settings
from flowc.runtime.current import send_hook
from flowc.runtime.exceptions import ImproperlyConfigured, InvalidTaskOptions
from flowc.runtime.fixups import install_fixups
from flowc.runtime.group_result import GroupResult as GroupResultType
from flowc.runtime.message import Message
from flowc.runtime.options import (
    check_call_options,
    check_task_options,
)
from flowc.runtime.producer import build_message, check_arguments, send_plain
from flowc.runtime.redis.keys import Keys
from flowc.runtime.registry import TaskRegistry
from flowc.runtime.request import current_request
from flowc.runtime.result import AsyncResult as AsyncResultType
from flowc.runtime.task import Task as BaseTask
from flowc.runtime.wire import Wire
from flowc.runtime.workflows.handle import WorkflowRun

if TYPE_CHECKING:  # annotations only: redis-py takes ~70 ms to import
    from flowc.runtime.backend import ResultBackend, WorkflowJoin
    from flowc.runtime.broker import Broker
    from flowc.runtime.coordination import Coordination
    from flowc.runtime.redis.connection import RedisClient
    from flowc.runtime.worker.settle import Settlement
    from flowc.runtime.workflows.runs import WorkflowRuns

BROKER_URL_ENV = "FLOWC_BROKER_URL"
RESULT_BACKEND_ENV = "FLOWC_RESULT_BACKEND"
COORDINATION_URL_ENV = "FLOWC_COORDINATION_URL"
FIRST_CONTACT_S = 3.0
"""How long the first publish of a process waits for a broker it has never reached."""

logger = logging.getLogger("flowc.producer")


def transport(url: str) -> str:
    """Which adapter a URL selects: ``amqp``, ``postgresql``, ``memcached`` or ``redis`` (by
    its scheme; Celery's ``cache+memcached://`` is Memcached)."""
    full = url.partition("://")[0].lower()
    if full in ("memcached", "cache+memcached", "cache+pylibmc"):
        return "memcached"
    scheme = full.removeprefix("db+").split("+")[0]
    if scheme in ("amqp", "amqps", "pyamqp"):
        return "amqp"
    if scheme in ("postgresql", "postgres"):
        return "postgresql"
    return "redis"


class _ConfReader:
    """``App.conf`` at its first read, and again when an ``on_after_configure`` receiver waits:
    loads the deferred ``config_from_object`` sources, puts the settings back as a plain
    instance attribute (what every other read finds, at no cost), then sends the signal."""

    def __get__(self, app: App | None, owner: type) -> Any:
        if app is None:
            return self
        settings = app._settings
        with _CONFIGURING:  # a concurrent first read waits for the sources to be loaded
            sources, app._config_sources = app._config_sources, []
            for i, source in enumerate(sources):  # popped first: a read of app.conf while
                try:  # loading them (a settings module that imports the app) is fine
                    app._load_config(*source)
                except BaseException:  # a bad source fails every read, not only the first
                    app._config_sources[:0] = sources[i:]
                    raise
            app.__dict__["conf"] = settings
        current.shared_tasks_for(app)
        configure = app.__dict__.get("on_after_configure")
        if configure is not None:
            configure.send_pending(app, source=settings)
        return settings


_CONFIGURING = threading.RLock()


class App:
    """A flowc application: ``App('proj', broker='redis://...', backend='redis://...')``.

    With no broker configured anywhere (argument, ``broker_url``, ``$FLOWC_BROKER_URL``) the
    first use starts an embedded Redis-compatible server shared with child processes.
    """

    def __init__(self, main: str | None = None, broker: str | None = None,
                 backend: str | None = None, *, include: Iterable[str] | None = None,
                 config_source: Any = None, set_as_current: bool = True,
                 namespace: str | None = None, **settings: Any) -> None:
        self.main = main
        preconf: dict[str, Any] = dict(settings)
        if broker:
            preconf["broker_url"] = broker
        if backend:
            preconf["result_backend"] = backend
        if include:
            preconf["include"] = list(include)
        self._settings = Settings()
        self._settings.update(preconf)
        self._preconf = preconf
        """Settings given to the constructor: they win over a configuration source (Celery's)."""
        self._config_sources: list[tuple[Any, str | None, bool]] = []
        """``config_from_object`` sources not loaded yet: the first read of ``conf`` loads
        them (Celery's laziness, which ``'django.conf:settings'`` in a project package needs)."""
        if config_source is not None:
            self.config_from_object(config_source, namespace=namespace)
        self.task_cls: type[BaseTask] = BaseTask
        """The class ``app.Task`` derives from (Celery's ``task_cls``)."""
        self._fixups = install_fixups(self)
        self._autodiscover: list[tuple[Any, str]] = []
        """``autodiscover_tasks`` calls waiting for ``import_modules`` (packages, related name)."""
        self.tasks = TaskRegistry(self)
        self.broker_is_embedded = False
        self._broker_reached = False
        if set_as_current:
            current.set_current_app(self)
        current.app_created(self)

    conf: Settings
    """The settings (Celery's ``app.conf``): an instance attribute, see ``_ConfReader``."""
    _settings: Settings

    def __repr__(self) -> str:
        return f"<flowc.App {self.main or '__main__'}>"

    # --- configuration ------------------------------------------------------------------------

    def config_from_object(self, obj: Any, silent: bool = False, force: bool = False,
                           namespace: str | None = None) -> None:
        """Load settings from a module, ``module``/``module:attribute`` path, class, object or
        mapping (Celery's API). ``namespace='CELERY'`` reads ``CELERY_BROKER_URL``-style names,
        as a Django ``settings`` module holds them.

        As in Celery, the source is read at the first read of ``app.conf`` (at once with
        ``force=True``, or when ``conf`` was already read), so ``proj/celery.py`` may name
        ``'django.conf:settings'`` while Django is still importing the settings module.
        Settings given to ``App(...)`` keep their values. ``silent`` ignores an ImportError.
        """
        source = (obj, namespace, silent)
        if force or "conf" in self.__dict__:
            self._load_config(*source)
        else:
            self._config_sources.append(source)

    def _load_config(self, obj: Any, namespace: str | None, silent: bool) -> None:
        try:
            self._settings.from_object(obj, namespace=namespace)
        except ImportError:
            if not silent:
                raise
        if self._preconf:
            self._settings.update(self._preconf)

    def set_current(self) -> None:
        """Make this the current app (``current_app``, apps-less ``AsyncResult``/signatures)."""
        current.set_current_app(self)

    set_default = set_current

    @cached_property
    def Task(self) -> type[BaseTask]:
        """This app's base task class: ``class MyTask(app.Task)``, ``@app.task(base=MyTask)``;
        a subclass of ``task_cls`` and of the fixups' task mixins (in a Django project,
        ``delay_on_commit``)."""
        mixins = tuple(f.task_mixin for f in self._fixups if f.task_mixin is not None)
        base = self.task_cls
        return type("Task", (*mixins, base), {"_app": self, "__module__": base.__module__})

    @property
    def current_task(self) -> BaseTask | None:
        """The task running in this thread or coroutine, None outside one (Celery's)."""
        request = current_request.get()
        if request is None or request.task is None:
            return None
        return self.tasks.get(request.task)

    @property
    def current_worker_task(self) -> BaseTask | None:
        """The task a worker is running here (not one called directly), else None."""
        request = current_request.get()
        if request is None or request.called_directly or request.is_eager:
            return None
        return self.current_task

    def register_task(self, task: Any, **options: Any) -> BaseTask:
        """Register a class-based task (an instance, or a class, of a ``Task`` subclass with
        ``run``); returns the registered instance."""
        if isinstance(task, type):
            task = task(self, None, None, options) if options else task(self)
        elif task.app is not self:
            task = type(task)(self, None, task.name, task.options)
        check_task_options(task.options)
        self.tasks[task.name] = task
        return task

    def config_from_envvar(self, variable_name: str, silent: bool = False) -> None:
        """Load settings from the module named by an environment variable."""
        module = os.environ.get(variable_name)
        if module:
            self.config_from_object(module, silent=silent)
        elif not silent:
            raise KeyError(f"environment variable {variable_name!r} is not set")

    @cached_property
    def keys(self) -> Keys:
        """The key schema under ``flowc_key_prefix``."""
        return Keys(self.conf.flowc_key_prefix)

    @cached_property
    def broker_url(self) -> str:
        """The resolved broker URL (explicit, then ``$FLOWC_BROKER_URL``, then embedded)."""
        from flowc.runtime.redis.connection import resolve_broker_url

        # Celery's rule: the environment variable wins over the configured value.
        url, embedded = resolve_broker_url(os.environ.get(BROKER_URL_ENV) or self.conf.broker_url)
        self.broker_is_embedded = embedded
        return url

    @cached_property
    def backend_url(self) -> str:
        """The result backend URL (``$FLOWC_RESULT_BACKEND`` wins); defaults to the broker's."""
        return os.environ.get(RESULT_BACKEND_ENV) or self.conf.result_backend or (
            self.broker_url if transport(self.broker_url) == "redis" else self.coordination_url)

    @cached_property
    def coordination_url(self) -> str:
        """The Redis behind coordination (heartbeats, revocations, rate limits, events, remote
        control, beat) and the Redis-only monitoring views: the broker's when it is Redis, else
        ``$FLOWC_COORDINATION_URL``, else a Redis result backend's, else the embedded server.
        Empty when coordination lives in a PostgreSQL result backend (no Redis at all)."""
        if transport(self.broker_url) == "redis":
            return self.broker_url
        backend = os.environ.get(RESULT_BACKEND_ENV) or self.conf.result_backend
        explicit = os.environ.get(COORDINATION_URL_ENV)
        if explicit:
            return explicit
        if backend and transport(backend) == "redis":
            return backend
        if backend and transport(backend) == "postgresql":
            return ""
        from flowc.runtime.redis.embedded import ensure_embedded_url

        return ensure_embedded_url()

    @cached_property
    def coordination(self) -> Coordination:
        """Where workers, beat and the monitoring tools coordinate (``runtime/coordination.py``):
        the broker's Redis, else the coordination Redis, else (a PostgreSQL result backend and
        no ``$FLOWC_COORDINATION_URL``) the backend's database."""
        if not self.coordination_url:
            from flowc.runtime.sql.backend import PgResultBackend
            from flowc.runtime.sql.coordination import PgCoordination

            backend = self.backend
            assert isinstance(backend, PgResultBackend)
            return PgCoordination(backend.db, self.keys.prefix)
        from flowc.runtime.redis.broker import RedisBroker
        from flowc.runtime.redis.coordination import RedisCoordination

        broker = self.broker if transport(self.broker_url) == "redis" else None
        clock = broker.clock if isinstance(broker, RedisBroker) else None
        return RedisCoordination(self.broker_client, self.keys, clock)

    @cached_property
    def broker_client(self) -> RedisClient:
        """The redis-py client of the broker, or of ``coordination_url`` when the broker is not
        Redis (a connection pool; thread-safe)."""
        from flowc.runtime.redis.connection import connect

        if transport(self.broker_url) != "redis":  # broker_transport_options are AMQP's
            if not self.coordination_url:
                raise ImproperlyConfigured(
                    "this deployment has no Redis: coordination lives in the PostgreSQL "
                    "result backend, and this feature still needs Redis",
                    hint="set FLOWC_COORDINATION_URL=redis://... for it (docs/transports.md, "
                    "Running without Redis)")
            return connect(self.coordination_url)
        return connect(self.broker_url, transport_options=self.conf.broker_transport_options)

    @cached_property
    def backend_client(self) -> RedisClient:
        """The redis-py client of the result backend (shared with the broker when equal)."""
        from flowc.runtime.redis.connection import connect

        if self.coordination_url and self.backend_url == self.coordination_url:
            return self.broker_client
        return connect(self.backend_url, transport_options=self.conf.broker_transport_options)

    # --- the ports (runtime/broker.py, runtime/backend.py) and their adapters ---------------
    # App is the composition root: the one place that picks an adapter for each port.

    @cached_property
    def broker(self) -> Broker:
        """The broker: ``AmqpBroker`` for amqp:// URLs, else ``RedisBroker``."""
        if transport(self.broker_url) == "amqp":
            from flowc.runtime.amqp.broker import AmqpBroker

            return AmqpBroker(self.broker_url, self.backend.claim_key,
                              self.conf.broker_transport_options,
                              clock=self.coordination.now)
        from flowc.runtime.redis.broker import RedisBroker

        return RedisBroker(self.broker_client, self.keys,
                           wait_replicas=self.conf.flowc_wait_replicas,
                           wait_timeout_ms=self.conf.flowc_wait_timeout_ms)

    @cached_property
    def backend(self) -> ResultBackend:
        """The result backend: ``PgResultBackend`` for postgresql:// URLs,
        ``MemcachedResultBackend`` for (cache+)memcached:// URLs, else Redis."""
        if transport(self.backend_url) == "postgresql":
            from flowc.runtime.sql.backend import Database, PgResultBackend

            return PgResultBackend(Database(self.backend_url))
        if transport(self.backend_url) == "memcached":
            from flowc.runtime.memcached.backend import Memcached, MemcachedResultBackend

            return MemcachedResultBackend(Memcached(self.backend_url, self.keys.prefix))
        if self.backend_url.lower().startswith("cache+"):  # Celery's other cache backends
            raise ImproperlyConfigured(
                f"result_backend {self.backend_url!r} is not supported",
                hint="flowc's cache backend is Memcached (cache+memcached://host:11211/); for "
                "tests, task_always_eager or no result_backend (the embedded server) instead "
                "of cache+memory://")
        from flowc.runtime.redis.backend import RedisResultBackend

        return RedisResultBackend(self.backend_client, self.keys)

    @cached_property
    def workflow_join(self) -> WorkflowJoin:
        """The durable join of workflow runs: in PostgreSQL with that backend, else
        ``RedisWorkflowJoin`` on the broker's server (or the backend's, returning ready
        messages, when the broker is not Redis). Memcached holds no runs: its join refuses
        them at submit."""
        if transport(self.backend_url) == "memcached":
            from flowc.runtime.memcached.join import RefusingWorkflowJoin

            return RefusingWorkflowJoin()
        if transport(self.backend_url) == "postgresql":
            from flowc.runtime.sql.backend import PgResultBackend
            from flowc.runtime.sql.join import PgWorkflowJoin

            backend = self.backend
            assert isinstance(backend, PgResultBackend)
            return PgWorkflowJoin(backend.db, self.conf.result_ttl)
        from flowc.runtime.redis.connection import is_cluster
        from flowc.runtime.redis.workflow_store import RedisWorkflowJoin

        if transport(self.broker_url) != "redis":
            return RedisWorkflowJoin(self.backend_client, self.keys, self.conf.result_ttl,
                                     by_worker=True)
        # On a cluster a run's join lives in its run's slot and cannot enqueue into queues'
        # slots: the worker publishes what the join made ready (flowc_workflow_publish).
        return RedisWorkflowJoin(self.broker_client, self.keys, self.conf.result_ttl,
                                 by_worker=self.conf.flowc_workflow_publish == "worker"
                                 or is_cluster(self.broker_client)
                                 or self.wire.signer is not None,  # Lua cannot sign
                                 wait_replicas=self.conf.flowc_wait_replicas,
                                 wait_timeout_ms=self.conf.flowc_wait_timeout_ms)

    @cached_property
    def settlement(self) -> Settlement:
        """How a worker writes a settled batch: the Redis one-pipeline fast path when every
        port is Redis and joins enqueue, else ``PortSettlement`` (ports only)."""
        from flowc.runtime.redis.backend import RedisResultBackend
        from flowc.runtime.redis.broker import RedisBroker
        from flowc.runtime.redis.connection import is_cluster
        from flowc.runtime.redis.settle import RedisSettlement
        from flowc.runtime.redis.workflow_store import RedisWorkflowJoin
        from flowc.runtime.worker.settle import PortSettlement

        broker, backend, join = self.broker, self.backend, self.workflow_join
        ports_only = PortSettlement(self.conf, self.wire, broker, backend, join)
        # A join that leaves publishing to workers only because messages are signed keeps the
        # fast path: RedisSettlement hands batches with joins to PortSettlement itself
        if not isinstance(broker, RedisBroker):
            return ports_only
        signing_only = self.conf.flowc_workflow_publish == "join" and not is_cluster(
            self.broker_client)
        if isinstance(broker, RedisBroker) and isinstance(backend, RedisResultBackend) \
                and isinstance(join, RedisWorkflowJoin) and (not join.by_worker or signing_only):
            return RedisSettlement(self.conf, self.wire, broker, backend, join, ports_only)
        return ports_only

    @cached_property
    def control(self) -> Any:
        """Remote control of workers and tasks (``revoke``...)."""
        from flowc.runtime.monitoring.control import Control

        return Control(self)

    @cached_property
    def workflows(self) -> WorkflowRuns:
        """Submit and inspect workflow runs (through ``workflow_join`` and ``broker``)."""
        from flowc.runtime.workflows.runs import WorkflowRuns

        return WorkflowRuns(self, self.workflow_join)

    # --- canvases (the compiler's Dispatcher contract) ---------------------------------------
    # workflows.canvas_app and workflows.eager load the compiler (~40 ms): imported on first use,
    # so a producer that only sends tasks never loads it.

    def apply_canvas(self, canvas: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                     options: dict[str, Any]) -> Any:
        """Send a canvas: a plain signature as one task, anything else as a workflow run."""
        from flowc.runtime.workflows.canvas_app import apply_canvas

        return apply_canvas(self, canvas, args, kwargs, options)

    def apply_canvas_eager(self, canvas: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                           options: dict[str, Any]) -> Any:
        """Run a canvas inline in this process."""
        from flowc.runtime.workflows.canvas_app import apply_canvas_eager

        return apply_canvas_eager(self, canvas, args, kwargs, options)

    def call_task_inline(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Call a task's function directly (``sig()``)."""
        return self.tasks[name](*args, **kwargs)

    def submit_workflow(self, workflow: Any, workflow_id: str | None = None) -> Any:
        """Submit a compiled IR ``Workflow``; returns result handles shaped like its result."""
        from flowc.runtime.workflows.canvas_app import submit_workflow

        hook = send_hook.get()
        if hook is not None:  # submitted by a task flowc.testing's harness runs
            return hook(self, workflow, (), {}, {})
        if self.conf.task_always_eager:
            from flowc.runtime.workflows.eager import run_eagerly

            return run_eagerly(self, workflow)
        return submit_workflow(self, workflow, workflow_id)

    def workflow(self, workflow_id: str) -> WorkflowRun:
        """A handle on a workflow run: status, node states, revoke, retry."""
        return WorkflowRun(self, workflow_id)

    # --- beat (Celery's periodic-task API; see runtime/beat/entries.py) ----------------------

    @cached_property
    def on_after_configure(self) -> Any:
        """Sent to each receiver once, at the first read of ``app.conf`` after it connects (as
        Celery sends it when the configuration is first read) or when beat starts:
        ``@app.on_after_configure.connect def setup(sender, **kw): sender.add_periodic_task(...)``.
        """
        from flowc.runtime.beat.entries import ConfigureSignal

        def pending() -> None:  # the next ``app.conf`` goes through _ConfReader, which sends
            self.__dict__.pop("conf", None)

        return ConfigureSignal("on_after_configure", pending)

    def add_periodic_task(self, schedule: Any, sig: Any, args: Iterable[Any] = (),
                          kwargs: Mapping[str, Any] | None = None, name: str | None = None,
                          **opts: Any) -> str:
        """Add ``sig`` to ``beat_schedule`` (Celery's API); returns the entry name."""
        from flowc.runtime.beat.entries import add_periodic_task

        return add_periodic_task(self, schedule, sig, args, kwargs, name, **opts)

    def close(self) -> None:
        """Close this app's Redis connections (they reopen on next use)."""
        for name in ("broker_client", "backend_client"):
            client = self.__dict__.pop(name, None)
            if client is not None:
                client.close()
        for name in ("broker", "backend", "coordination"):
            port = self.__dict__.get(name)
            if port is not None:
                port.close()
        for name in ("broker", "backend", "coordination", "workflow_join", "settlement",
                     "workflows", "_plain_routes"):
            self.__dict__.pop(name, None)

    def prepare_fork(self) -> None:
        """Before forking worker processes: build the ports a worker uses (broker, backend,
        join, settlement) here, then close every socket but keep the clients and ports, so
        the forked processes share those objects' pages instead of each building its own (a
        pool process's first ~5 MB of private memory). redis-py's pools notice the new pid
        and reconnect in each process; a held connection is per process too. Apps with
        another transport, or on a Redis Cluster, ``close()`` as before."""
        from flowc.runtime.redis.connection import is_cluster

        self._fork_shares = transport(self.broker_url) == "redis" and \
            transport(self.backend_url) == "redis" and not is_cluster(self.broker_client) \
            and not is_cluster(self.backend_client)
        if not self._fork_shares:
            self.close()
            return
        self.settlement  # noqa: B018 - built for its side effect: broker, backend, join
        for client in {id(c): c for c in (self.broker_client, self.backend_client)}.values():
            client.connection_pool.disconnect()
        for name in ("broker", "backend"):
            port = self.__dict__.get(name)
            if port is not None:
                port.close()  # this thread's held connection

    def after_fork(self) -> None:
        """In a process forked after ``prepare_fork``: keep the shared clients and ports (their
        pools reconnect here), or build everything anew where ``prepare_fork`` closed it."""
        if not getattr(self, "_fork_shares", False):
            self.close()

    # --- tasks --------------------------------------------------------------------------------

    def task(self, *args: Any, **options: Any) -> Any:
        """Register a function as a task: ``@app.task`` or ``@app.task(bind=True, base=...)``."""
        check_task_options(options)
        base = options.get("base") or self.Task
        if not (isinstance(base, type) and issubclass(base, BaseTask)):
            raise InvalidTaskOptions(f"base must be a Task subclass, got {base!r}",
                                     hint="subclass app.Task (or flowc.Task)")

        def register(fn: Callable[..., Any]) -> BaseTask:
            name = options.get("name") or self.gen_task_name(fn.__name__, fn.__module__)
            opts = {k: v for k, v in options.items() if k != "base"}
            task = base(self, fn, name, opts)
            if task.options != opts:
                check_task_options(task.options)
            self.tasks[name] = task
            return task

        if len(args) == 1 and callable(args[0]) and not options:
            return register(args[0])
        if args:
            raise TypeError("use @app.task or @app.task(option=value, ...)")
        return register

    def gen_task_name(self, name: str, module: str) -> str:
        """Celery's naming: ``module.function``, with ``__main__`` replaced by the app's main."""
        if module == "__main__" and self.main:
            module = self.main
        return f"{module}.{name}"

    def AsyncResult(self, task_id: str, task_name: str | None = None,
                    **_: Any) -> AsyncResultType:
        """A handle on a task's result by id."""
        return AsyncResultType(task_id, self, task_name)

    def GroupResult(self, id: str | None = None,
                    results: list[Any] | None = None) -> GroupResultType:
        """A handle on a group's results (Celery's ``app.GroupResult``)."""
        return GroupResultType(id, list(results or []), self)

    def autodiscover_tasks(self,
                           packages: Iterable[str] | Callable[[], Iterable[str]] | None = None,
                           related_name: str = "tasks", force: bool = False) -> None:
        """Import ``<package>.<related_name>`` for each package so its tasks register, as
        Celery does: when the worker starts (``import_modules``), or now with ``force=True``.

        ``packages`` may be a callable returning them (read when the discovery runs); with none,
        a Django project's installed apps are used (``DJANGO_SETTINGS_MODULE`` set: the worker
        runs ``django.setup()`` first, so a ``tasks.py`` may import its models). A package
        without that module is skipped, a package that does not exist raises (an
        ``AppConfig`` path stands for its parent package), and so does an error inside the
        module.
        """
        if force:
            self._discover(packages, related_name)
        else:
            self._autodiscover.append((packages, related_name))

    def _discover(self, packages: Iterable[str] | Callable[[], Iterable[str]] | None,
                  related_name: str) -> None:
        import importlib

        if callable(packages):
            packages = packages()
        if packages is None:
            packages = [p for fixup in self._fixups for p in fixup.installed_apps()]
        for package in packages:
            try:
                importlib.import_module(package)
            except ModuleNotFoundError as e:  # an AppConfig path: 'shop.apps.ShopConfig'
                if e.name != package or "." not in package:
                    raise
                package = package.rpartition(".")[0]
            module = f"{package}.{related_name}"
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as e:
                if e.name != module:
                    raise

    def import_modules(self) -> None:
        """Import the task modules: a framework's setup first (``django.setup()``), then the
        ``autodiscover_tasks`` packages, then the modules of the ``imports`` and ``include``
        settings. The worker calls it at start; calling it again imports nothing new."""
        import importlib

        for fixup in self._fixups:
            fixup.on_import_modules()
        for packages, related_name in self._autodiscover:
            self._discover(packages, related_name)
        for module in [*self.conf.imports, *self.conf.include]:
            importlib.import_module(module)

    # --- producing ----------------------------------------------------------------------------

    def send_task(self, name: str, args: Any = None, kwargs: Any = None, *,
                  task: BaseTask | None = None, **options: Any) -> AsyncResultType:
        """Enqueue a task by name (also how ``delay``/``apply_async`` enqueue).

        Raises ``BrokerUnavailable`` (one line: the URL and the fix) when the broker cannot be
        reached: after about 3 s if this process never reached it, else after the client's
        reconnect attempts (those that ride out a Redis restart, about 16 s).
        """
        try:
            return self._send_task(name, args, kwargs, task, options)
        except Exception as e:
            from flowc.runtime.redis.connection import CONNECTION_ERRORS, unreachable

            if isinstance(e, CONNECTION_ERRORS) and not self.conf.task_always_eager:
                raise unreachable(self.broker_url, e) from None
            raise

    def _first_contact(self) -> None:
        """Before this process's first publish, ping the broker for a few seconds (a WARNING
        each time it does not answer): a broker that was never there fails fast with
        ``BrokerUnavailable``, while one lost later is ridden out by the client's reconnects."""
        from flowc.runtime.redis.connection import mask_url, wait_for_broker

        url = self.broker_url if transport(self.broker_url) == "redis" else \
            self.coordination_url  # another broker's adapter raises BrokerUnavailable itself
        if not self.broker_is_embedded and url:  # no url: no Redis (PostgreSQL coordination)
            def warn(reason: str, attempt: int, delay_s: float) -> None:
                logger.warning("cannot reach the broker at %s: %s; trying again in %.1fs",
                               mask_url(url), reason, delay_s)

            wait_for_broker(url, timeout_s=FIRST_CONTACT_S, on_retry=warn)
        self._broker_reached = True

    def _send_task(self, name: str, args: Any, kwargs: Any, task: BaseTask | None,
                   options: dict[str, Any]) -> AsyncResultType:
        if options:
            check_call_options(options)
        if task is None:
            task = self.tasks.get(name)
        args_list = list(args) if args is not None else []
        kwargs_dict = dict(kwargs) if kwargs is not None else {}
        if options.get("link") or options.get("link_error"):
            from flowc.compiler.canvas.signature import Signature

            for key in ("link", "link_error"):
                value = options.get(key)
                if value is not None and not isinstance(value, list | tuple):
                    options[key] = [value]
            sig = Signature(name, tuple(args or ()), dict(kwargs or {}), options, app=self)
            return self.apply_canvas(sig, (), {}, {})
        hook = send_hook.get()
        if hook is not None:  # sent by a task flowc.testing's harness runs
            from flowc.compiler.canvas.signature import Signature

            return hook(self, Signature(name, tuple(args_list), kwargs_dict, options, app=self),
                        (), {}, {})
        if task is not None and self.conf.task_always_eager:
            return task.apply(args_list, kwargs_dict, **options)
        if task is not None and task.typing is not False:
            check_arguments(task, args_list, kwargs_dict)
        if not options and task is not None and not callable(self.conf.task_routes) \
                and not isinstance(self.conf.task_routes, list) \
                and not self.conf.task_send_sent_event \
                and not (signals.before_task_publish.receivers
                         or signals.after_task_publish.receivers):
            if not self._broker_reached:  # after the checks: a mistake never waits on Redis
                self._first_contact()
            result = self._send_plain(task, args_list, kwargs_dict)
        else:
            message = self.build_message(name, args_list, kwargs_dict, task, options)
            if not self._broker_reached:
                self._first_contact()
            idempotency_key = options.get("idempotency_key")
            if idempotency_key is not None:
                first = self.publish_once(message, idempotency_key, options.get("serializer"))
                result = AsyncResultType(first, self, name)
            else:
                self.publish([message], options.get("serializer"))
                result = AsyncResultType(message.id, self, name)
        ignored = options.get("ignore_result")
        if ignored is None:
            ignored = task.options.get("ignore_result") if task is not None else None
            if ignored is None:
                ignored = self.conf.task_ignore_result
        if ignored:
            result.ignored = True
        return result

    def publish_once(self, message: Message, key: str, serializer: str | None = None) -> str:
        """Publish unless ``key`` was used within ``flowc_idempotency_ttl``; the task id that
        holds the key (this message's, or the first caller's)."""
        observed = _publish_observed()
        if observed:
            _before_publish(message)
        body, tag = self.encode(message, serializer)
        first = self.broker.publish_once(
            Outgoing(message.queue, message.priority, body, tag, message.eta), key, message.id,
            self.conf.flowc_idempotency_ttl)
        if observed:
            _after_publish(message)
        return first or message.id

    def _send_plain(self, task: BaseTask, args: list[Any],
                    kwargs: dict[str, Any]) -> AsyncResultType:
        """The hot path of ``delay()`` (see ``producer.send_plain``)."""
        return AsyncResultType(send_plain(self, task, args, kwargs), self, task.name)

    @cached_property
    def _plain_routes(self) -> dict[str, Any]:
        """Queue, priority and stream per task name for ``delay()``; key "" holds the version."""
        return {}

    def encode_envelope(self, envelope: dict[str, Any],
                        serializer: str | None = None) -> tuple[bytes, bytes]:
        """Serialize an envelope dict with the task serializer; returns (body, content tag)."""
        return self.wire.seal(envelope, serializer)

    @property
    def wire(self) -> Wire:
        """Encoding, checking and decoding of message bodies (rebuilt when settings change)."""
        wire = self.__dict__.get("_wire")
        if wire is None or wire[0] != self.conf.version:
            wire = self.__dict__["_wire"] = (self.conf.version, Wire(self.conf))
        return wire[1]

    def build_message(self, name: str, args: list[Any], kwargs: dict[str, Any],
                      task: BaseTask | None, options: Mapping[str, Any]) -> Message:
        """Resolve routing, priority and delays for one call into a Message."""
        return build_message(self, name, args, kwargs, task, options)

    def encode(self, message: Message, serializer: str | None = None) -> tuple[bytes, bytes]:
        """Serialize a message envelope; raises SerializationError naming the bad value."""
        return self.encode_envelope(message.to_envelope(), serializer)

    def publish(self, messages: list[Message], serializer: str | None = None) -> None:
        """Encode and send messages in one round trip."""
        observed = _publish_observed()
        items = []
        for m in messages:
            if observed:
                _before_publish(m)
            body, tag = self.encode(m, serializer)
            items.append(Outgoing(m.queue, m.priority, body, tag, m.eta))
        self.broker.publish(items)
        if observed:
            for m in messages:
                _after_publish(m)
        if self.conf.task_send_sent_event:
            for m in messages:
                self.events.task_sent(m)
            self.events.flush()

    @cached_property
    def events(self) -> Any:
        """This process's producer-side event sender (``task_send_sent_event``)."""
        from flowc.runtime.monitoring.events import producer_sender

        return producer_sender(self)


setattr(App, "conf", _ConfReader())  # noqa: B010 - read only while the instance attribute is away


def _publish_observed() -> bool:
    """Whether a publish signal has receivers (else ``delay()`` keeps its hot path)."""
    return bool(signals.before_task_publish.receivers or signals.after_task_publish.receivers)


_HEADER_FIELDS = ("id", "task", "eta", "expires", "retries", "root_id", "parent_id", "group_id")


def _headers_of(message: Message) -> dict[str, Any]:
    """Celery-shaped headers of a message: its ids and timing, then its custom headers."""
    headers: dict[str, Any] = {k: getattr(message, k) for k in _HEADER_FIELDS}
    headers["lang"] = "py"
    headers.update(message.headers or {})
    return headers


def _before_publish(message: Message) -> None:
    """``before_task_publish``; header keys a receiver adds become the message's headers."""
    headers = _headers_of(message)
    before = set(headers)
    signals.before_task_publish.send(
        sender=message.task, body=(message.args, message.kwargs, {}), exchange="",
        routing_key=message.queue, headers=headers,
        properties={"correlation_id": message.id, "priority": message.priority},
        declare=[], retry_policy=None)
    added = {k: v for k, v in headers.items()
             if k not in before or k in (message.headers or {})}
    if added:
        message.headers = {**(message.headers or {}), **added}


def _after_publish(message: Message) -> None:
    signals.after_task_publish.send(
        sender=message.task, body=(message.args, message.kwargs, {}), exchange="",
        routing_key=message.queue, headers=_headers_of(message))


def _default_app() -> App:
    """The app ``current_app`` is when no App was created (Celery's default app)."""
    return App("default", set_as_current=False)


current.set_default_app_factory(_default_app)

"""Typed settings with Celery's names and defaults; unknown names fail with a suggestion.

Only settings flowc honours are accepted (no silent filtering, no alias sprawl). Units follow
Celery's (seconds); ``timedelta`` values are accepted where Celery accepts them.

Each setting is a typed class attribute of ``Settings``; every assignment is checked against
its annotation (with pydantic's lax coercions: ``"4"`` for an int, ``"true"`` for a bool) and
its validators, here rather than with pydantic, which every worker process would otherwise
import (~8 MB resident) for this one class.
"""

from __future__ import annotations

import importlib
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import ModuleType
from typing import Any, ClassVar, Literal

from flowc.runtime.compat import IGNORED_SETTINGS, warn_ignored
from flowc.runtime.exceptions import ImproperlyConfigured
from flowc.runtime.options import parse_rate_limit

_SETTING_PREFIXES = ("task_", "worker_", "broker_", "result_", "beat_", "flowc_", "accept_")
"""Names in a config object that look like settings and are therefore validated, not ignored."""


def _seconds(value: Any) -> Any:
    return value.total_seconds() if isinstance(value, timedelta) else value


@dataclass(frozen=True)
class FieldSpec:
    """A setting's default (or a factory of it) and numeric bounds."""

    default: Any = None
    default_factory: Callable[[], Any] | None = None
    ge: float | None = None
    gt: float | None = None


def Field(default: Any = None, *, default_factory: Callable[[], Any] | None = None,
          ge: float | None = None, gt: float | None = None) -> Any:
    """A setting's default where a plain one does not say it all (pydantic's spelling)."""
    return FieldSpec(default, default_factory, ge, gt)


class InvalidValue(ValueError):
    """A value a setting does not take (``Settings.__setattr__`` turns it into
    ``ImproperlyConfigured``)."""


_VALIDATORS: dict[str, list[tuple[str, Callable[[Any], Any]]]] = {}


def field_validator(*names: str, mode: str = "after") -> Callable[[Any], Any]:
    """Register a validator of the settings ``names``: ``before`` runs on the raw value,
    ``after`` on the value checked against the annotation (pydantic's decorator's shape)."""

    def register(fn: Any) -> Any:
        func = fn.__func__ if isinstance(fn, classmethod) else fn

        def run(value: Any) -> Any:
            return func(Settings, value)

        for name in names:
            _VALIDATORS.setdefault(name, []).append((mode, run))
        return fn

    return register


class Settings:
    """The configuration of an App: ``app.conf``. Assignment is validated like ``update``."""

    model_fields: ClassVar[dict[str, Callable[[Any], Any]]] = {}
    """Every setting's name -> its checker (filled in below, from the annotations)."""
    _defaults: ClassVar[dict[str, FieldSpec]] = {}
    _version: int
    _ignored: dict[str, Any]
    """Values of Celery settings flowc accepts and ignores (``compat.IGNORED_SETTINGS``)."""
    model_fields_set: set[str]
    """The settings assigned since construction (``setdefault`` leaves them)."""

    broker_url: str | None = None
    result_backend: str | None = None
    task_serializer: str = "json"
    result_serializer: str = "json"
    accept_content: list[str] = Field(default_factory=lambda: ["json"])
    result_accept_content: list[str] | None = None
    timezone: str | None = None
    enable_utc: bool = True
    task_acks_late: bool = False
    task_routes: Any = None
    task_default_queue: str = "celery"
    task_default_priority: int | None = None
    flowc_most_urgent_priority: Literal[9, 0] = 9
    """9: flowc's (and RabbitMQ's) order. 0: Celery-on-Redis order for a ported app: 0 is the
    most urgent and a message without a priority counts as 0 (numbers are flipped at call time;
    workers, streams and monitoring keep flowc's internal 9-first numbers)."""
    task_create_missing_queues: bool = True
    result_expires: Any = timedelta(days=1)
    """As Celery's: what was set (a ``timedelta`` or seconds, None to keep forever); the runtime
    reads it in seconds through ``result_ttl``."""
    task_ignore_result: bool = False
    task_store_errors_even_if_ignored: bool = False
    task_track_started: bool = False
    task_allow_error_cb_on_chord_header: bool = False
    """``chord.link_error(eb)`` also links an immutable clone of ``eb`` to every header task
    (Celery's setting); off, ``eb`` is the body's only."""
    task_always_eager: bool = False
    task_eager_propagates: bool = False
    task_store_eager_result: bool = False
    """Store the results of ``apply()`` (eager runs) in the backend, readable by id (Celery)."""
    task_time_limit: float | None = None
    task_soft_time_limit: float | None = None
    task_default_rate_limit: str | None = None
    task_default_retry_delay: float = 180.0
    task_acks_on_failure_or_timeout: bool = True
    task_reject_on_worker_lost: bool = False
    task_send_sent_event: bool = False
    worker_prefetch_multiplier: int = 4
    worker_concurrency: int | None = None
    worker_max_tasks_per_child: int | None = Field(default=None, ge=1)
    """prefork: replace a pool process after it ran this many tasks (``--max-tasks-per-child``)."""
    worker_max_memory_per_child: int | None = Field(default=None, ge=1)
    """prefork: replace a pool process left above this resident size, KiB, after a task."""
    worker_send_task_events: bool = False
    worker_hijack_root_logger: bool = True
    broker_connection_retry: bool = True
    broker_connection_max_retries: int | None = 100
    broker_transport_options: dict[str, Any] = Field(default_factory=dict)
    result_extended: bool = False
    beat_schedule: dict[str, Any] = Field(default_factory=dict)
    beat_max_loop_interval: float = 5.0
    beat_scheduler: str | None = None
    """``module:Class`` of a ``flowc.beat.Scheduler`` subclass to run instead of flowc's beat
    (Celery's own scheduler paths select flowc's beat)."""
    flowc_beat_lock_ttl: float = Field(default=2.0, gt=0)
    """Seconds the beat leader's lease lasts unrenewed: a follower takes over within ~4/3 of it
    (under 3 s by default)."""
    imports: list[str] = Field(default_factory=list)
    include: list[str] = Field(default_factory=list)
    flowc_key_prefix: str = "flowc"
    flowc_heartbeat_interval: float = 1.0
    flowc_worker_lost_after: float = 3.0
    """A consumer process silent this long is lost (its pulse process renews it, so a task
    holding the GIL cannot make it look lost): a killed worker's tasks are back within ~5 s."""
    flowc_max_deliveries: int = 5
    flowc_reap_interval: float = 1.0
    flowc_idempotency_ttl: float = 86400.0
    flowc_wait_replicas: int = Field(default=0, ge=0)
    """Sentinel or replicated Redis: publishes wait (Redis WAIT) until this many replicas have
    them, so a failover cannot lose a message the producer was told is queued (0: off)."""
    flowc_wait_timeout_ms: int = Field(default=1000, ge=0)
    """The longest a publish waits for ``flowc_wait_replicas`` (then it goes on, logged)."""
    flowc_workflow_publish: Literal["join", "worker"] = "join"
    """Who enqueues a workflow step made ready by its last parent: the atomic join itself
    ("join", Redis single node), or the worker right after the join ("worker": the path of a
    backend whose join cannot enqueue; producers and workers must agree)."""
    flowc_events_maxlen: int = 100_000
    flowc_max_message_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    """Largest encoded message: refused at publish, dead-lettered if one is fetched."""
    # Message signing (runtime/signing.py): a shared secret, or Celery's certificates
    flowc_signing_key: str | list[str] | None = None
    """HMAC-SHA256 secret(s): the first signs, all verify (with flowc_signing_keys_accepted)."""
    flowc_signing_keys_accepted: list[str] = Field(default_factory=list)
    security_key: str | None = None
    security_key_password: str | bytes | None = None
    security_certificate: str | None = None
    security_cert_store: str | None = None
    security_digest: str = "sha256"

    @field_validator("task_time_limit", "task_soft_time_limit", mode="before")
    @classmethod
    def _timedelta_to_seconds(cls, value: Any) -> Any:
        return _seconds(value)

    @field_validator("flowc_signing_key", "flowc_signing_keys_accepted")
    @classmethod
    def _long_secrets(cls, value: str | list[str] | None) -> str | list[str] | None:
        from flowc.runtime.signing import check_secret

        for secret in [value] if isinstance(value, str) else value or []:
            check_secret(secret)
        return value

    @field_validator("result_expires")
    @classmethod
    def _expires(cls, value: Any) -> Any:
        if value is None or isinstance(value, timedelta) or \
                (isinstance(value, int | float) and not isinstance(value, bool)):
            return value
        raise ValueError(f"result_expires must be seconds or a timedelta, got {value!r}")

    @property
    def result_ttl(self) -> float | None:
        """``result_expires`` in seconds (None or 0: results never expire)."""
        value = self.result_expires
        return value.total_seconds() if isinstance(value, timedelta) else value

    @field_validator("task_serializer", "result_serializer")
    @classmethod
    def _known_serializer(cls, value: str) -> str:
        if value not in ("json", "pickle"):
            raise ValueError(f"unknown serializer {value!r}; use 'json' or 'pickle'")
        return value

    @field_validator("accept_content", "result_accept_content", mode="before")
    @classmethod
    def _content_names(cls, value: Any) -> Any:
        if value is None:
            return None
        names = [v.removeprefix("application/").replace("x-python-serialize", "pickle")
                 for v in value]
        for name in names:
            if name not in ("json", "pickle"):
                raise ValueError(f"unknown content type {name!r}; use 'json' or 'pickle'")
        return names

    @field_validator("task_default_rate_limit")
    @classmethod
    def _rate_limit_shape(cls, value: str | None) -> str | None:
        try:
            parse_rate_limit(value)
        except Exception as e:
            raise ValueError(str(e)) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            from zoneinfo import ZoneInfo

            try:
                ZoneInfo(value)
            except Exception:
                raise ValueError(f"unknown time zone {value!r}; use an IANA name such as "
                                 "'UTC' or 'Europe/Berlin'") from None
        return value

    @field_validator("task_default_priority")
    @classmethod
    def _priority_range(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= 9:
            raise ValueError("priority must be an integer from 0 (least urgent) to 9 (most urgent)")
        return value

    @field_validator("task_routes")
    @classmethod
    def _routes_shape(cls, value: Any) -> Any:
        if value is None or callable(value) or isinstance(value, Mapping):
            return value
        if isinstance(value, list | tuple):
            for item in value:
                if not (callable(item) or isinstance(item, Mapping)):
                    raise ValueError("task_routes entries must be dicts or functions")
            return list(value)
        raise ValueError("task_routes must be a dict, a list of dicts/functions, or a function")

    def __init__(self, **values: Any) -> None:
        object.__setattr__(self, "_version", 0)
        object.__setattr__(self, "_ignored", {})
        object.__setattr__(self, "model_fields_set", set())
        for name, spec in self._defaults.items():
            default = spec.default_factory() if spec.default_factory is not None \
                else spec.default
            object.__setattr__(self, name, default)
        self.update(values)

    def __repr__(self) -> str:
        changed = ", ".join(f"{n}={getattr(self, n)!r}" for n in sorted(self.model_fields_set))
        return f"Settings({changed})"

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        if _check_name(name):
            warn_ignored(name, "setting")
            self._ignored[name] = value
            self._version += 1
            return
        object.__setattr__(self, name, _check(name, value))
        self.model_fields_set.add(name)
        self._version += 1

    @property
    def version(self) -> int:
        """Bumped by every assignment, so caches derived from settings know to refresh."""
        return self._version

    def __getitem__(self, name: str) -> Any:
        _check_name(name)
        return getattr(self, name)

    def __setitem__(self, name: str, value: Any) -> None:
        setattr(self, name, value)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in type(self).model_fields
                                          or name in self._ignored)

    def get(self, name: str, default: Any = None) -> Any:
        """A setting's value, or ``default`` for a name that is not a setting (Celery's
        ``app.conf.get``); accepted-but-ignored settings return what was set."""
        if name in type(self).model_fields:
            return getattr(self, name)
        return self._ignored.get(name, default)

    def keys(self) -> list[str]:
        """Every setting name, with the ignored ones that were set."""
        return [*type(self).model_fields, *self._ignored]

    def setdefault(self, name: str, default: Any) -> Any:
        """Celery's ``conf.setdefault``: set ``name`` only when it still has its default."""
        if name in self.model_fields_set or name in self._ignored:
            return self[name]
        self[name] = default
        return default

    def update(self, mapping: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        """Set several settings at once, validating each (Celery's ``app.conf.update``)."""
        items = {**(mapping or {}), **kwargs}
        for name in items:
            _check_name(name)
        for name, value in items.items():
            setattr(self, name, value)

    def accepted(self) -> frozenset[str]:
        """Content types a worker will decode."""
        return frozenset(self.accept_content)

    def result_accepted(self) -> frozenset[str]:
        """Content types a result reader will decode."""
        return frozenset(self.result_accept_content or self.accept_content)

    def from_object(self, obj: Any, namespace: str | None = None) -> None:
        """Load settings from a module, a ``module`` or ``module:attribute`` path, a class, an
        object or a mapping. With ``namespace='CELERY'`` only names ``CELERY_<SETTING>`` are
        read (upper case, Django style) and mapped to ``<setting>``; other names are skipped."""
        if isinstance(obj, str):
            module, _, attribute = obj.partition(":")
            obj = importlib.import_module(module)
            if attribute:
                obj = getattr(obj, attribute)
        items = obj.items() if isinstance(obj, Mapping) else \
            ((n, getattr(obj, n)) for n in dir(obj) if not n.startswith("_"))
        values = {}
        if namespace:
            prefix = namespace.rstrip("_") + "_"
            for name, value in items:
                if name.startswith(prefix) and not isinstance(value, ModuleType | type):
                    values[name[len(prefix):].lower()] = value
        elif isinstance(obj, Mapping):
            values = dict(items)
        else:
            for name, value in items:
                if isinstance(value, ModuleType | type):
                    continue
                if name in type(self).model_fields or name in IGNORED_SETTINGS \
                        or name.startswith(_SETTING_PREFIXES):
                    values[name] = value
        self.update(values)


def _ignored_property(name: str) -> property:
    return property(lambda self: self._ignored.get(name),
                    doc=f"Celery's {name}: accepted, no effect in flowc (None until set).")


for _name in IGNORED_SETTINGS:  # attribute reads of accepted-and-ignored settings; a property
    setattr(Settings, _name, _ignored_property(_name))  # keeps other reads free of __getattr__


def _check_name(name: str) -> bool:
    """Fail on an unknown setting name; True when it is one accepted and ignored."""
    if name in Settings.model_fields or name.startswith("__"):
        return False
    if name in IGNORED_SETTINGS:
        return True
    from flowc.dsl.diagnostics import did_you_mean_hint  # error path only: it loads the AST
    hint = did_you_mean_hint(name, [*Settings.model_fields, *IGNORED_SETTINGS]) or (
        "see docs/configuration.md for the list")
    raise ImproperlyConfigured(f"unknown setting {name!r}", hint=hint)


def _check(name: str, value: Any) -> Any:
    """``value`` as setting ``name`` takes it, or ImproperlyConfigured saying why not."""
    try:
        for mode, fn in _VALIDATORS.get(name, ()):
            if mode == "before":
                value = fn(value)
        value = Settings.model_fields[name](value)
        spec = Settings._defaults[name]
        if value is not None and spec.ge is not None and not value >= spec.ge:
            raise InvalidValue(f"must be at least {spec.ge:g}")
        if value is not None and spec.gt is not None and not value > spec.gt:
            raise InvalidValue(f"must be greater than {spec.gt:g}")
        for mode, fn in _VALIDATORS.get(name, ()):
            if mode == "after":
                value = fn(value)
    except (InvalidValue, ValueError, TypeError) as e:
        raise ImproperlyConfigured(f"invalid setting {name}: {e}") from None
    return value


_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def _checker(hint: Any) -> Callable[[Any], Any]:
    """A function that returns a value as the annotation ``hint`` takes it (pydantic's lax
    mode: numbers from their strings, booleans from 0/1 and yes/no words) or raises."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return lambda v: v
    if origin in (typing.Union, types.UnionType):
        members = typing.get_args(hint)
        optional = type(None) in members
        checks = [_checker(m) for m in members if m is not type(None)]

        def union(v: Any) -> Any:
            if v is None and optional:
                return None
            errors = []
            for check in checks:
                try:
                    return check(v)
                except (InvalidValue, ValueError, TypeError) as e:
                    errors.append(str(e))
            raise InvalidValue(" or ".join(errors))
        return union
    if origin is Literal:
        allowed = typing.get_args(hint)

        def literal(v: Any) -> Any:
            if v in allowed and not isinstance(v, bool):
                return v
            raise InvalidValue(f"expected one of {', '.join(map(repr, allowed))}, got {v!r}")
        return literal
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        check_item = _checker(item)

        def listing(v: Any) -> Any:
            if not isinstance(v, list | tuple | set | frozenset):
                raise InvalidValue(f"expected a list, got {v!r}")
            return [check_item(x) for x in v]
        return listing
    if origin is dict:
        def mapping(v: Any) -> Any:
            if not isinstance(v, Mapping):
                raise InvalidValue(f"expected a dict, got {v!r}")
            return dict(v)
        return mapping
    return _SCALARS[hint]


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
        return v.strip().lower() in _TRUE
    raise InvalidValue(f"expected a boolean, got {v!r}")


def _int(v: Any) -> int:
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        try:
            return int(v.strip())
        except ValueError:
            pass
    raise InvalidValue(f"expected an integer, got {v!r}")


def _float(v: Any) -> float:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            pass
    raise InvalidValue(f"expected a number, got {v!r}")


def _of(kind: type) -> Callable[[Any], Any]:
    def check(v: Any) -> Any:
        if isinstance(v, kind):
            return v
        raise InvalidValue(f"expected {kind.__name__}, got {v!r}")
    return check


_SCALARS: dict[Any, Callable[[Any], Any]] = {bool: _bool, int: _int, float: _float,
                                            str: _of(str), bytes: _of(bytes)}


def _build_fields() -> None:
    """Fill ``Settings.model_fields`` and the defaults from the class's annotations."""
    hints = typing.get_type_hints(Settings, include_extras=False)
    for name, hint in hints.items():
        if name.startswith("_") or name in ("model_fields", "model_fields_set"):
            continue
        default = Settings.__dict__.get(name)
        spec = default if isinstance(default, FieldSpec) else FieldSpec(default=default)
        Settings.model_fields[name] = _checker(hint)
        Settings._defaults[name] = spec
        if name in Settings.__dict__:
            delattr(Settings, name)  # instances hold every value


_build_fields()


def route_for(
    routes: Any, name: str, args: Iterable[Any], kwargs: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Resolve ``task_routes`` (dict with globs, list of dicts/functions, or a function)."""
    if routes is None:
        return None
    for router in routes if isinstance(routes, list) else [routes]:
        found = _route_one(router, name, args, kwargs)
        if found is not None:
            return found
    return None


def _route_one(
    router: Any, name: str, args: Iterable[Any], kwargs: Mapping[str, Any]
) -> dict[str, Any] | None:
    import fnmatch

    if isinstance(router, Mapping):
        if name in router:
            return _as_route(router[name])
        for pattern, route in router.items():
            if any(c in pattern for c in "*?[") and fnmatch.fnmatchcase(name, pattern):
                return _as_route(route)
        return None
    fn: Callable[..., Any] = router
    try:
        found = fn(name, args, kwargs, {}, task=None)
    except TypeError:
        found = fn(name, args, kwargs, {})
    return _as_route(found) if found is not None else None


def _as_route(route: Any) -> dict[str, Any]:
    if isinstance(route, str):
        return {"queue": route}
    return dict(route)

"""Beat's entries: what to publish (a task call or a whole workflow) and when.

Entries come from three places, all turned into one :class:`ScheduleEntry` type:

- ``app.conf.beat_schedule`` in Celery's format (``task``, ``schedule``, ``args``, ``kwargs``,
  ``options``) plus flowc's ``catchup``, ``grace`` and ``tz`` (:func:`entry_from_mapping`);
- ``app.add_periodic_task(schedule, sig, name=...)``, usually from an
  ``@app.on_after_configure.connect`` handler, as in Celery (it writes into ``beat_schedule``);
- ``schedule`` items of ``.flow`` files, compiled to IR workflows by the compiler
  (:func:`entries_from_compiled`).

Every entry is checked when it is loaded, so a typo fails at ``flowc beat`` start-up with the fix
in the message, not at 02:30 in a log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta, tzinfo
from typing import TYPE_CHECKING, Any, cast, get_args

from flowc.dsl.diagnostics import did_you_mean_hint
from flowc.runtime.exceptions import ImproperlyConfigured
from flowc.runtime.options import check_call_options
from flowc.runtime.schedules import (
    DEFAULT_GRACE,
    CatchUpPolicy,
    Schedule,
    ScheduleError,
    as_schedule,
    crontab,
    resolve_zone,
)

if TYPE_CHECKING:
    from flowc.compiler.ir import Workflow
    from flowc.runtime.app import App

ENTRY_KEYS = ("task", "schedule", "args", "kwargs", "options", "catchup", "grace", "tz")
"""Keys a ``beat_schedule`` entry may have (Celery's, then flowc's)."""
BEAT_ASSIGNED_OPTIONS = ("task_id", "idempotency_key")
"""Options beat sets itself: every run's task id is derived from its (entry, due time)."""
UNSUPPORTED_OPTIONS = ("link", "link_error", "eta")
_POLICIES: tuple[str, ...] = get_args(CatchUpPolicy)


@dataclass(frozen=True)
class ScheduleEntry:
    """One periodic entry: a ``task`` call or a ``workflow``, on a ``schedule``.

    ``catchup`` (``skip``/``once``/``all``) and ``grace`` decide what a tick publishes after
    downtime (see ``plan_due``). ``source`` says where the entry was declared, for messages.
    Exactly one of ``task`` and ``workflow`` is set.
    """

    name: str
    schedule: Schedule
    task: str | None = None
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    workflow: Workflow | None = None
    catchup: CatchUpPolicy = "skip"
    grace: timedelta = DEFAULT_GRACE
    source: str = "beat_schedule"

    def __post_init__(self) -> None:
        if (self.task is None) == (self.workflow is None):
            raise ImproperlyConfigured(f"beat entry {self.name!r} needs a task or a workflow")

    @property
    def target(self) -> str:
        """What the entry publishes, for logs and ``flowc schedule list``."""
        wf = self.workflow
        if wf is not None and len(wf.nodes) == 1 and wf.nodes[0].kind == "task":
            return _call_text(wf.nodes[0].task, wf.nodes[0].args, wf.nodes[0].kwargs)
        if wf is not None:
            return f"flow {wf.name or self.name} ({len(wf.nodes)} steps)"
        return _call_text(str(self.task), self.args, self.kwargs)


def _call_text(task: str, args: Iterable[Any], kwargs: Mapping[str, Any]) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{task}({', '.join(parts)})"


class Signal:
    """A minimal Celery-style signal: ``@signal.connect`` receivers, ``send(sender, **kw)``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.receivers: list[Callable[..., Any]] = []

    def connect(self, receiver: Callable[..., Any] | None = None, **_: Any) -> Any:
        """Register ``receiver`` (usable bare or as ``@signal.connect()``); returns it."""
        if receiver is None:
            return self.connect
        if receiver not in self.receivers:
            self.receivers.append(receiver)
        return receiver

    def disconnect(self, receiver: Callable[..., Any]) -> None:
        """Unregister ``receiver`` if connected."""
        if receiver in self.receivers:
            self.receivers.remove(receiver)

    def send(self, sender: Any, **kwargs: Any) -> list[tuple[Callable[..., Any], Any]]:
        """Call every receiver with ``sender`` and ``kwargs``; return (receiver, result) pairs."""
        return [(r, r(sender=sender, signal=self, **kwargs)) for r in list(self.receivers)]


class ConfigureSignal(Signal):
    """``app.on_after_configure``: each receiver runs once, at the first read of ``app.conf``
    after it is connected (Celery sends it when the configuration is first read), or when beat
    starts, whichever comes first."""

    def __init__(self, name: str, on_pending: Callable[[], None]) -> None:
        super().__init__(name)
        self.sent_to: list[Callable[..., Any]] = []
        self._on_pending = on_pending

    def connect(self, receiver: Callable[..., Any] | None = None, **kw: Any) -> Any:
        """Register ``receiver``; the next read of ``app.conf`` sends the signal to it."""
        if receiver is None:
            return self.connect
        super().connect(receiver, **kw)
        self._on_pending()
        return receiver

    def send_pending(self, sender: Any, **kwargs: Any) -> None:
        """Send to the receivers that have not had it yet (each runs once)."""
        pending = [r for r in self.receivers if r not in self.sent_to]
        self.sent_to.extend(pending)
        for receiver in pending:
            receiver(sender=sender, signal=self, **kwargs)


def add_periodic_task(app: App, schedule: Any, sig: Any, args: Iterable[Any] = (),
                      kwargs: Mapping[str, Any] | None = None, name: str | None = None,
                      **opts: Any) -> str:
    """Celery's ``app.add_periodic_task``: add ``sig`` (a task signature) to ``beat_schedule``.

    ``opts`` are the entry's options (``queue``, ``priority``, ``expires``...) plus flowc's
    ``catchup``, ``grace`` and ``tz``. Returns the entry's name (``name`` or the signature's
    repr, Celery's key). Validates the entry at once.
    """
    task = getattr(sig, "task", None) or getattr(sig, "name", None)
    if not isinstance(task, str):
        raise ImproperlyConfigured(
            f"add_periodic_task needs a task signature, got {sig!r}",
            hint="pass my_task.s(args...); for a chain or group use a .flow schedule")
    sig_options = dict(getattr(sig, "options", None) or {})
    spec: dict[str, Any] = {
        "task": task,
        "schedule": schedule,
        "args": tuple(getattr(sig, "args", ()) or ()) + tuple(args),
        "kwargs": {**(getattr(sig, "kwargs", None) or {}), **(kwargs or {})},
    }
    for key in ("catchup", "grace", "tz"):
        if key in opts:
            spec[key] = opts.pop(key)
    spec["options"] = {**sig_options, **opts}
    key = name or repr(sig)
    entry_from_mapping(key, spec, app_zone(app), source="add_periodic_task")
    app.conf.beat_schedule[key] = spec
    return key


def app_zone(app: App) -> tzinfo:
    """The zone zone-less crontabs of ``app`` are evaluated in (``timezone``/``enable_utc``)."""
    return resolve_zone(None, app.conf.timezone, app.conf.enable_utc)


def entries_from_app(app: App) -> list[ScheduleEntry]:
    """Every entry of ``app``: ``on_after_configure`` receivers run first, then
    ``beat_schedule`` is read. Raises ImproperlyConfigured naming every bad entry."""
    configure_once(app)
    zone = app_zone(app)
    entries: list[ScheduleEntry] = []
    problems: list[str] = []
    for name, spec in app.conf.beat_schedule.items():
        try:
            entries.append(entry_from_mapping(name, spec, zone))
        except (ImproperlyConfigured, ScheduleError, ValueError) as e:
            problems.append(str(e))
    if problems:
        count = f"{len(problems)} bad entr{'ies' if len(problems) > 1 else 'y'}"
        raise ImproperlyConfigured(f"invalid beat_schedule ({count}):\n"
                                   + "\n".join(f"  - {p}" for p in problems))
    return entries


def configure_once(app: App) -> None:
    """Send ``app.on_after_configure`` to the receivers that have not had it yet."""
    app.on_after_configure.send_pending(app, source=app.conf)


def entry_from_mapping(name: str, spec: Any, zone: tzinfo,
                       source: str = "beat_schedule") -> ScheduleEntry:
    """Build and check one ``beat_schedule`` entry."""
    where = f"beat entry {name!r}"
    if not isinstance(spec, Mapping):
        raise ImproperlyConfigured(f"{where} must be a dict, got {type(spec).__name__}")
    for key in spec:
        if key not in ENTRY_KEYS:
            hint = did_you_mean_hint(str(key), ENTRY_KEYS) or f"use {', '.join(ENTRY_KEYS)}"
            if key == "relative":
                hint = "flowc interval schedules always sit on a fixed grid; drop 'relative'"
            raise ImproperlyConfigured(f"{where}: unknown key {key!r}", hint=hint)
    task = spec.get("task")
    if not isinstance(task, str) or not task:
        raise ImproperlyConfigured(f"{where} needs 'task': the task's registered name",
                                   hint="e.g. 'task': 'tasks.execute_db_maintenance'")
    if "schedule" not in spec:
        raise ImproperlyConfigured(f"{where} needs 'schedule'",
                                   hint="e.g. crontab(hour=2, minute=30), 30, or '*/5 * * * *'")
    args = spec.get("args") or ()
    kwargs = spec.get("kwargs") or {}
    if isinstance(args, str | bytes) or not isinstance(args, Iterable):
        raise ImproperlyConfigured(f"{where}: 'args' must be a list or tuple, got {args!r}")
    if not isinstance(kwargs, Mapping):
        raise ImproperlyConfigured(f"{where}: 'kwargs' must be a dict, got {kwargs!r}")
    options = dict(spec.get("options") or {})
    check_options(where, options)
    return ScheduleEntry(
        name=str(name), schedule=bind_schedule(where, spec["schedule"], spec.get("tz"), zone),
        task=task, args=tuple(args), kwargs=dict(kwargs), options=options,
        catchup=check_policy(where, spec.get("catchup", "skip")),
        grace=check_grace(where, spec.get("grace", DEFAULT_GRACE)), source=source)


def entries_from_compiled(compiled: Iterable[Any], zone: tzinfo, source: str,
                          catchup: str = "skip") -> list[ScheduleEntry]:
    """Entries from the compiler's schedule entries (``name``, ``kind``, ``expr``, ``tz``,
    ``workflow``, ``line``): ``cron`` expressions or ``every`` seconds, each publishing its
    workflow."""
    entries = []
    for c in compiled:
        where = f"schedule {c.name!r} ({source}:{c.line})"
        value: Any = c.expr if c.kind == "cron" else float(c.expr)
        if c.kind == "cron" and not isinstance(value, str):
            raise ImproperlyConfigured(f"{where}: a cron schedule needs a cron string")
        entries.append(ScheduleEntry(
            name=c.name, schedule=bind_schedule(where, value, c.tz, zone), workflow=c.workflow,
            catchup=check_policy(where, catchup), source=f"{source}:{c.line}"))
    return entries


def bind_schedule(where: str, value: Any, tz: Any, zone: tzinfo) -> Schedule:
    """``as_schedule`` with the entry's zone (or the app's) bound to a zone-less crontab."""
    try:
        schedule = as_schedule(value)
        if tz is not None and isinstance(schedule, crontab) and schedule.tz is not None \
                and str(schedule.tz) != str(resolve_zone(tz)):
            raise ImproperlyConfigured(
                f"{where}: 'tz' {tz!r} contradicts the crontab's own zone {schedule.tz}",
                hint="give the zone in one place")
        return as_schedule(schedule, default_tz=resolve_zone(tz) if tz is not None else zone)
    except ScheduleError as e:
        message = e.message.replace(":\n  - ", ": ").replace("\n  - ", "; ")
        raise ImproperlyConfigured(f"{where}: {message}", hint=e.hint) from None


def check_options(where: str, options: dict[str, Any]) -> None:
    """Reject options beat cannot honour, then run ``apply_async``'s own checks."""
    for key in BEAT_ASSIGNED_OPTIONS:
        if key in options:
            raise ImproperlyConfigured(
                f"{where}: option {key!r} is set by beat",
                hint="each run's task id is derived from the entry name and its due time")
    for key in UNSUPPORTED_OPTIONS:
        if key in options:
            hint = "use 'countdown'" if key == "eta" else \
                "put the follow-up steps in a .flow schedule (a chain)"
            raise ImproperlyConfigured(f"{where}: option {key!r} is not supported by beat",
                                       hint=hint)
    try:
        check_call_options(options)
    except ValueError as e:
        raise ImproperlyConfigured(f"{where}: {e}") from None


def check_policy(where: str, value: Any) -> CatchUpPolicy:
    """A catch-up policy name, or an error listing the valid ones."""
    if value not in _POLICIES:
        raise ImproperlyConfigured(
            f"{where}: unknown catchup policy {value!r}",
            hint=did_you_mean_hint(str(value), _POLICIES) or f"use one of {', '.join(_POLICIES)}")
    return cast(CatchUpPolicy, value)


def check_grace(where: str, value: Any) -> timedelta:
    """``grace`` as a timedelta (seconds or a timedelta, >= 0)."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise ImproperlyConfigured(f"{where}: 'grace' must be seconds or a timedelta")
    if seconds < 0:
        raise ImproperlyConfigured(f"{where}: 'grace' must be >= 0, got {seconds:g}")
    return timedelta(seconds=seconds)

"""``FlowHarness``: run ``.flow`` files and canvases in this process on a virtual clock.

The harness compiles with the real compiler, calls the real task functions, and runs each
workflow with the runtime's own in-process engine (``runtime/workflows/eager.py``: the join's
rules of ``workflow.lua``, with arguments and results through JSON as on the wire). Time is a
:class:`VirtualClock`: countdowns, etas, expiry, retry backoff and schedules are due on it, and
nothing sleeps. What every step received, returned, raised and how often it retried stays
readable on the :class:`FlowRun`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flowc.compiler.ir import Workflow
from flowc.dsl import ast
from flowc.dsl.diagnostics import Diagnostic, render_all
from flowc.runtime.app import App
from flowc.runtime.beat.entries import ScheduleEntry
from flowc.runtime.group_result import GroupResult, ResultLike
from flowc.runtime.project import Loaded, compile_one, load
from flowc.runtime.result import EagerResult
from flowc.runtime.workflows.eager import (
    TERMINAL,
    Agenda,
    Attempt,
    EagerRun,
    HandlerCall,
    RateSlots,
    Step,
)

Seconds = float | timedelta
_DateTime = datetime  # VirtualClock.datetime shadows the name in its class


class FlowLoadError(Exception):
    """Raised when a ``.flow`` file does not compile: the diagnostics as ``flowc check`` shows
    them."""

    def __init__(self, diagnostics: list[Diagnostic], text: str, name: str) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n" + render_all(diagnostics, text, name, limit=len(diagnostics)))


def _seconds(value: Seconds) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _instant(value: datetime | float | None) -> float | None:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("give the harness an aware datetime (tzinfo=UTC, for instance)")
        return value.timestamp()
    return value


class VirtualClock:
    """The harness's time: it moves only when told to, running what falls due on the way.

    ``advance(s)`` runs every event due within ``s`` seconds (each at its due time) and ends
    ``s`` later; ``run_until_idle()`` runs the runs' pending work (steps, retries, handlers),
    jumping straight to each due time, but not schedules, which never go idle.
    """

    def __init__(self, start: datetime | float | None = None) -> None:
        self.agenda = Agenda(_instant(start))
        self._timers: list[_Timer] = []

    @property
    def now(self) -> float:
        """Unix seconds on the virtual clock."""
        return self.agenda.now

    @property
    def datetime(self) -> _DateTime:
        """``now`` as an aware UTC datetime."""
        return datetime.fromtimestamp(self.agenda.now, UTC)

    def advance(self, seconds: Seconds) -> None:
        """Move ``seconds`` forward, running every event and schedule due on the way."""
        self.advance_to(self.now + _seconds(seconds))

    def advance_to(self, when: _DateTime | float) -> None:
        """Move forward to ``when`` (an aware datetime or unix seconds)."""
        target = _instant(when)
        assert target is not None
        if target < self.now:
            raise ValueError(f"the clock only moves forward (now {self.datetime}, asked for "
                             f"{datetime.fromtimestamp(target, UTC)})")
        while True:
            work = self.agenda.next_due()
            timer = min(self._timers, key=lambda t: t.due, default=None)
            if timer is not None and timer.due <= target and (work is None or timer.due < work):
                self.agenda.run(until=timer.due)
                timer.fire()
            elif work is not None and work <= target:
                self.agenda.run_next()
            else:
                break
        self.agenda.run(until=target)

    def run_until_idle(self, max_events: int = 1_000_000) -> None:
        """Run pending steps, retries and handlers to the end, jumping to each due time."""
        for _ in range(max_events):
            if not len(self.agenda):
                return
            due = self.agenda.next_due()
            assert due is not None
            self.advance_to(due)
        raise RuntimeError(f"still busy after {max_events} events: a step that retries "
                           "forever? give it max_retries")


class _Timer:
    """A schedule's next fire time on the clock."""

    def __init__(self, harness: FlowHarness, entry: ScheduleEntry) -> None:
        self.harness = harness
        self.entry = entry
        self.due = entry.schedule.next_after(harness.clock.datetime).timestamp()

    def fire(self) -> None:
        self.harness._start(self.entry.workflow or self.harness._entry_workflow(self.entry),
                            schedule=self.entry.name)
        self.due = self.entry.schedule.next_after(
            datetime.fromtimestamp(self.due, UTC)).timestamp()


@dataclass(frozen=True)
class NodeView:
    """One step of a run: what it received, returned or raised, and when."""

    run: FlowRun
    step: Step

    @property
    def id(self) -> str:
        """The node id (``n0``, ``n1``... in the compiler's order)."""
        return self.step.node.id

    @property
    def task(self) -> str:
        return self.step.node.task

    @property
    def state(self) -> str:
        """PENDING, QUEUED, RUNNING (a map's elements), SUCCESS, FAILURE or SKIPPED."""
        return self.step.state

    @property
    def attempts(self) -> list[Attempt]:
        """Every delivery, in order (a map's: of each element)."""
        return list(self.step.attempts)

    @property
    def args(self) -> list[Any]:
        """The positional arguments its first attempt received (a map: the list it mapped)."""
        if self.step.node.kind == "map":
            return [self.step.items] if self.step.items is not None else []
        return self.step.attempts[0].args if self.step.attempts else []

    @property
    def kwargs(self) -> dict[str, Any]:
        return self.step.attempts[0].kwargs if self.step.attempts else {}

    @property
    def result(self) -> Any:
        """What it returned (a map: the list of its elements' results); None until then."""
        return self.step.value

    @property
    def exception(self) -> BaseException | None:
        """Why it failed (a skipped step: the failure that skipped it)."""
        if self.step.state == "SKIPPED" and self.step.handle is not None:
            return self.step.handle._exc
        return self.step.exc

    @property
    def retries(self) -> int:
        """How many times it was retried (a map: its elements' retries together)."""
        return sum(1 for a in self.step.attempts if a.status == "RETRY")

    @property
    def ran_at(self) -> list[datetime]:
        """When each attempt ran, on the virtual clock."""
        return [datetime.fromtimestamp(a.at, UTC) for a in self.step.attempts]

    @property
    def ready_at(self) -> datetime | None:
        """When its last parent finished (its countdown counts from here)."""
        return None if self.step.ready_at is None else datetime.fromtimestamp(
            self.step.ready_at, UTC)

    @property
    def finished_at(self) -> datetime | None:
        t = self.step.finished_at
        return None if t is None else datetime.fromtimestamp(t, UTC)

    def __repr__(self) -> str:
        return f"<NodeView {self.id} {self.task.rsplit('.', 1)[-1]} {self.state}>"


@dataclass(frozen=True)
class HandlerView:
    """An error handler's invocation: which failure fired it, its arguments, its outcome."""

    call: HandlerCall

    @property
    def task(self) -> str:
        return self.call.task

    @property
    def failed_node(self) -> str:
        return self.call.failed_node

    @property
    def failed_task_id(self) -> str:
        return self.call.failed_task_id

    @property
    def args(self) -> list[Any]:
        return self.call.attempts[0].args if self.call.attempts else []

    @property
    def kwargs(self) -> dict[str, Any]:
        return self.call.attempts[0].kwargs if self.call.attempts else {}

    @property
    def state(self) -> str:
        """QUEUED until it runs, then SUCCESS or FAILURE."""
        return "QUEUED" if self.call.handle is None else self.call.handle.state

    @property
    def result(self) -> Any:
        return None if self.call.handle is None else self.call.handle.result


class StepResult(EagerResult):
    """The handle a task gets for what it sent: reads the step's outcome when it has one."""

    def __init__(self, app: App, step: Step) -> None:
        super().__init__(step.task_id, app, step.node.task, {})
        self._step = step

    def _load(self) -> dict[str, Any]:
        handle = self._step.handle
        return handle._load() if handle is not None else {"status": "PENDING"}

    @property
    def result(self) -> Any:
        handle = self._step.handle
        return None if handle is None else handle.result

    def get(self, timeout: float | None = None, propagate: bool = True,
            *args: Any, **kwargs: Any) -> Any:
        """The step's result (or its exception); ``RuntimeError`` if it has not run yet."""
        handle = self._step.handle
        if handle is None:
            raise RuntimeError(f"task {self.id} ({self._step.node.task}) has not run yet: "
                               "advance the harness's clock first")
        return handle.get(propagate=propagate)

    wait = get


class FlowRun:
    """One run started by the harness; everything on it reads the run as it is now."""

    def __init__(self, harness: FlowHarness, engine: EagerRun, names: dict[str, str],
                 schedule: str | None = None, sent: bool = False) -> None:
        self.harness = harness
        self.engine = engine
        self.workflow: Workflow = engine.wf
        self.schedule = schedule
        """The schedule that started it (None: a test or a task did)."""
        self.sent = sent
        """Whether a task sent it (``delay``, ``apply_async``, a canvas) while it ran."""
        self._names = names

    def __repr__(self) -> str:
        return f"<FlowRun {self.workflow.name or self.id} {self.status}>"

    @property
    def id(self) -> str:
        return self.engine.id

    @property
    def status(self) -> str:
        """RUNNING, SUCCESS or FAILURE, as ``app.workflow(id).status()`` says it."""
        return self.engine.status

    @property
    def done(self) -> bool:
        """Every step finished (a failed run: its queued steps too; what it would have
        enqueued next stays PENDING, as in a worker)."""
        return self.engine.finished is not None or all(
            s.state in TERMINAL or s.state == "PENDING" for s in self.engine.steps.values())

    @property
    def started_at(self) -> datetime:
        return datetime.fromtimestamp(self.engine.created, UTC)

    @property
    def failed_node(self) -> NodeView | None:
        """The step whose failure failed the run."""
        nid = self.engine.failed_node
        return None if nid is None else self.node(nid)

    @property
    def result(self) -> Any:
        """The workflow's result (shaped like ``wf.result``); raises the failure that failed
        the run, or ``RuntimeError`` while it is still running."""
        if self.status == "FAILURE":
            failed = self.failed_node
            assert failed is not None and failed.exception is not None
            raise failed.exception
        if self.status != "SUCCESS":
            raise RuntimeError(f"run {self.id} is still {self.status}: advance the clock "
                               "or call harness.clock.run_until_idle()")
        return self.workflow.final_result(self.engine.values)

    def timeline(self) -> list[str]:
        """Every attempt and handler call in time order, one line each (for a failing test's
        message): ``+2.000s n0 fetch RETRY ConnectionError(...) -> +6.000s``."""
        start = self.engine.created
        rows: list[tuple[float, int, str]] = []

        def line(at: float, who: str, a: Attempt) -> str:
            what = a.status
            if a.exc is not None:
                what += f" {a.exc!r}"
            if a.index is not None:
                who += f"[{a.index}]"
            if a.next_at is not None:
                what += f" -> +{a.next_at - start:.3f}s"
            return f"+{at - start:.3f}s {who} {what}"

        for n, step in enumerate(self.engine.steps.values()):
            who = f"{step.node.id} {step.node.task.rsplit('.', 1)[-1]}"
            rows += [(a.at, n, line(a.at, who, a)) for a in step.attempts]
        for call in self.engine.handlers:
            who = f"on error ({call.failed_node}) {call.task.rsplit('.', 1)[-1]}"
            rows += [(a.at, len(self.engine.steps), line(a.at, who, a)) for a in call.attempts]
        return [text for _, _, text in sorted(rows, key=lambda r: (r[0], r[1]))]

    def states(self) -> dict[str, str]:
        """Node id -> state: what ``app.workflow(id).nodes()`` reports on a real run."""
        return {nid: step.state for nid, step in self.engine.steps.items()}

    def results(self) -> dict[str, Any]:
        """Node id -> result, for the steps that succeeded."""
        return {nid: step.value for nid, step in self.engine.steps.items()
                if step.state == "SUCCESS"}

    @property
    def nodes(self) -> list[NodeView]:
        return [NodeView(self, step) for step in self.engine.steps.values()]

    def node(self, name: str) -> NodeView:
        """A step by node id, by the name its result was given (``rows = ...``), or by task
        (``extract_record`` or its full name) when one step calls it."""
        steps = self.engine.steps
        if name in steps:
            return NodeView(self, steps[name])
        if name in self._names:
            return NodeView(self, steps[self._names[name]])
        found = [s for s in steps.values()
                 if name in (s.node.task, s.node.task.rsplit(".", 1)[-1])]
        if len(found) == 1:
            return NodeView(self, found[0])
        listing = ", ".join(f"{nid} ({s.node.task.rsplit('.', 1)[-1]}"
                            f"{', line ' + str(s.node.span.line) if s.node.span else ''})"
                            for nid, s in steps.items())
        if found:
            raise LookupError(f"{len(found)} steps call {name!r}: name one by node id "
                              f"({', '.join(s.node.id for s in found)}); the steps: {listing}")
        raise LookupError(f"no step {name!r} in this run; the steps: {listing}")

    def nodes_of(self, task: str) -> list[NodeView]:
        """Every step that calls ``task`` (short or full name), in node order."""
        return [NodeView(self, s) for s in self.engine.steps.values()
                if task in (s.node.task, s.node.task.rsplit(".", 1)[-1])]

    def handles(self) -> ResultLike:
        """Result handles shaped like the workflow's result, as ``apply_async`` returns them:
        each reads its step as it is now (``get()`` before it ran raises ``RuntimeError``)."""
        shape = self.workflow.result if self.workflow.result is not None else (
            self.workflow.nodes[-1].id if self.workflow.nodes else [])

        def build(s: Any) -> ResultLike:
            if isinstance(s, str):
                return StepResult(self.engine.app, self.engine.steps[s])
            return GroupResult(None, [build(x) for x in s], self.engine.app)

        return build(shape)

    @property
    def handlers(self) -> list[HandlerView]:
        """Error handlers fired so far, in firing order (each at most once per run)."""
        return [HandlerView(call) for call in self.engine.handlers]


class FlowHarness:
    """Runs flows in this process on a virtual clock. Usually the ``flow_harness`` fixture.

    ``start``: where the clock starts (an aware datetime or unix seconds; default: now).
    ``app``: the App whose tasks run a canvas (a ``.flow`` file brings its own).
    """

    def __init__(self, start: datetime | float | None = None, app: App | None = None) -> None:
        self.clock = VirtualClock(start)
        self.app = app
        self.runs: list[FlowRun] = []
        self._loaded: dict[tuple[Path, int, int], Loaded] = {}
        self._rate_slots = RateSlots()

    # --- starting runs ------------------------------------------------------------------------

    def run(self, target: str | Path | Any, flow: str | None = None,
            params: Mapping[str, Any] | None = None, *, wait: bool = True,
            **kwparams: Any) -> FlowRun:
        """Start a run of a ``.flow``/YAML file's flow (or a schedule's target), or of a canvas
        (``chain(...)``, ``task.s(...)``), or of a compiled ``Workflow``; with ``wait``, run
        until idle (the clock jumps over every countdown and backoff on the way)."""
        wf, names = self._compile(target, flow, {**(params or {}), **kwparams})
        run = self._start(wf, names=names)
        if wait:
            self.clock.run_until_idle()
        return run

    def start(self, target: str | Path | Any, flow: str | None = None,
              params: Mapping[str, Any] | None = None, **kwparams: Any) -> FlowRun:
        """Start a run and return at once: its roots are queued, nothing has run yet; move
        the clock (``harness.clock.advance``) to run it."""
        return self.run(target, flow, params, wait=False, **kwparams)

    def _start(self, wf: Workflow, names: dict[str, str] | None = None,
               schedule: str | None = None, app: App | None = None,
               sent: bool = False) -> FlowRun:
        app = app or self._app_for(wf)
        engine = EagerRun(app, wf, self.clock.agenda, timed=True, wire=True, send=self._sent,
                          rate_slots=self._rate_slots)
        run = FlowRun(self, engine, names or {}, schedule, sent)
        self.runs.append(run)
        engine.start()
        return run

    def _sent(self, app: App, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
              options: dict[str, Any]) -> ResultLike:
        """A task's ``delay``/``apply_async``/canvas, sent while the harness runs it: a run of
        its own on the clock (its countdown and eta honoured), with handles to its results."""
        if isinstance(target, Workflow):
            wf = target
        else:
            from flowc.compiler.validate import compile_canvas

            wf = compile_canvas(target, app.tasks, args, kwargs, options)
        run = self._start(wf, app=app, sent=True)
        return run.handles()

    def _app_for(self, wf: Workflow) -> App:
        for loaded in self._loaded.values():
            for app in loaded.apps:
                if all(n.task in app.tasks for n in wf.nodes):
                    return app
        if self.app is not None:
            return self.app
        from flowc.runtime.current import get_current_app

        return get_current_app()

    def _compile(self, target: Any, flow: str | None,
                 params: Mapping[str, Any]) -> tuple[Workflow, dict[str, str]]:
        if isinstance(target, Workflow):
            return target, {}
        if isinstance(target, str | Path):
            loaded = self.load(target)
            wf, diags = compile_one(loaded, flow, params)
            errors = [d for d in diags if d.severity == "error"]
            if wf is None or errors:
                raise FlowLoadError(errors or diags, loaded.text, loaded.name)
            return wf, _result_names(loaded.module, wf)
        from flowc.compiler.validate import compile_canvas

        if params:
            raise TypeError(f"a canvas takes no parameters (got {sorted(params)}); bind them "
                            "in its signatures")
        app = getattr(target, "app", None) or self.app
        registry = app.tasks if app is not None else None
        if self.app is None and isinstance(app, App):
            self.app = app
        return compile_canvas(target, registry), {}

    def load(self, path: str | Path) -> Loaded:
        """Parse a file and import its ``use`` modules (again only when the file changed)."""
        stat = Path(path).stat()
        key = (Path(path).resolve(), stat.st_mtime_ns, stat.st_size)
        if key not in self._loaded:
            loaded = load(Path(path))
            errors = [d for d in loaded.diagnostics if d.severity == "error"]
            if errors or loaded.module is None:
                raise FlowLoadError(errors, loaded.text, loaded.name)
            self._loaded[key] = loaded
        return self._loaded[key]

    # --- schedules ---------------------------------------------------------------------------

    def schedules(self, path: str | Path) -> dict[str, ScheduleEntry]:
        """A file's schedules as beat loads them, by name (``.schedule.next_after(t)``,
        ``fire_times_between``...); see also :meth:`fire_times`."""
        from flowc.compiler.flow.compile import compile_schedules
        from flowc.runtime.beat.entries import app_zone, entries_from_compiled

        loaded = self.load(path)
        assert loaded.module is not None
        compiled, diags = compile_schedules(loaded.module, loaded.catalog, loaded.name)
        errors = [d for d in diags if d.severity == "error"]
        if errors:
            raise FlowLoadError(errors, loaded.text, loaded.name)
        app = loaded.app or self.app or App("flowc-testing", set_as_current=False)
        return {e.name: e for e in entries_from_compiled(compiled, app_zone(app), loaded.name)}

    def fire_times(self, path: str | Path, schedule: str, within: Seconds) -> list[datetime]:
        """When a file's schedule fires from the clock's now until ``within`` later (UTC)."""
        entry = self.schedules(path)[schedule]
        end = self.clock.datetime + timedelta(seconds=_seconds(within))
        return [t.astimezone(UTC) for t in entry.schedule.fire_times_between(
            self.clock.datetime, end)]

    def beat(self, path: str | Path, *names: str) -> None:
        """Run a file's schedules (all, or those named) on the virtual clock, as ``flowc beat``
        would: each fire time the clock passes starts a run of its target (``runs_of``)."""
        entries = self.schedules(path)
        for name in names or tuple(entries):
            if name not in entries:
                raise LookupError(f"no schedule {name!r} in {path}; it has {sorted(entries)}")
            self.clock._timers.append(_Timer(self, entries[name]))

    def beat_entries(self, app: App) -> None:
        """Run an App's ``beat_schedule`` / ``add_periodic_task`` entries on the clock."""
        from flowc.runtime.beat.entries import entries_from_app

        self.app = self.app or app
        for entry in entries_from_app(app):
            self.clock._timers.append(_Timer(self, entry))

    def runs_of(self, schedule: str) -> list[FlowRun]:
        """The runs a schedule started, oldest first."""
        return [r for r in self.runs if r.schedule == schedule]

    def _entry_workflow(self, entry: ScheduleEntry) -> Workflow:
        from flowc.compiler.canvas.signature import Signature
        from flowc.compiler.validate import compile_canvas

        assert entry.task is not None and self.app is not None
        sig = Signature(entry.task, tuple(entry.args), dict(entry.kwargs), dict(entry.options),
                        app=self.app)
        return compile_canvas(sig, self.app.tasks)

    def __iter__(self) -> Iterator[FlowRun]:
        return iter(self.runs)


def _result_names(module: ast.Module | None, wf: Workflow) -> dict[str, str]:
    """Named results (``rows = extract_record(path)``) -> node id, matched by source place."""
    if module is None:
        return {}
    at = {(n.span.line, n.span.col): n.id for n in wf.nodes if n.span is not None}
    names: dict[str, str] = {}
    for flow in module.flows:
        for statement in flow.body:
            if isinstance(statement, ast.Assign):
                span = statement.value.span
                nid = at.get((span.line, span.col))
                if nid is not None:
                    names.setdefault(statement.name, nid)
    return names

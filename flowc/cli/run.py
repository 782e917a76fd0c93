"""``flowc run FILE [FLOW] --param k=v``: compile, submit, watch, print the result.

With no broker configured (no ``--broker``, no ``$FLOWC_BROKER_URL``, none in the App) the
App's embedded server starts, and so do the workers the flow needs (``flowc worker`` processes
on exactly the queues its steps use); both stop when the command ends. With a broker, the run
uses the workers already there, and starts one for the run only when some queue of the flow has
no live worker (``--workers N`` decides instead). Ctrl-C asks whether to
revoke the run. Exit status: 0 success, 1 the workflow failed (or did not compile), 2 usage,
3 timed out, 130 interrupted.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.live import Live
from rich.markup import escape

from flowc.cli.compiling import PARAM_HELP, compile_or_exit, params_from
from flowc.cli.options import reach_broker
from flowc.cli.plan import route
from flowc.cli.progress import Progress
from flowc.cli.workers import WorkerProcesses, app_module
from flowc.compiler.ir import Workflow
from flowc.runtime.app import BROKER_URL_ENV, App
from flowc.runtime.project import Loaded
from flowc.runtime.redis.embedded import host_quietly

POLL_S = 0.1
PROGRESS_EVERY_S = 5.0
"""Without a terminal, one progress line this often (so CI logs show the run moving)."""
DONE = ("SUCCESS", "FAILURE", "REVOKED")
EXIT_FAILED, EXIT_TIMEOUT, EXIT_INTERRUPTED = 1, 3, 130


def node_seconds(app: App, wf: Workflow, workflow_id: str) -> dict[str, float | None]:
    """Seconds from each node becoming ready to its end, from the workers' ``date_done``.

    Ready means its last parent finished (a root: the run was created), so the figure is the
    queue wait plus the run, on the server's and workers' clocks rather than this poll's.
    None for a node with no stored result (skipped, revoked, or ``ignore_result``).
    """
    run = app.workflow(workflow_id)
    created = float(run.meta().get("created") or 0.0) or None
    done: dict[str, float | None] = {}
    for node_id, task_id in run.task_ids().items():
        try:
            when = app.AsyncResult(task_id).date_done
        except Exception:  # an expired or unreadable record: no figure rather than no report
            when = None
        done[node_id] = when.timestamp() if when is not None else None
    seconds: dict[str, float | None] = {}
    for n in wf.nodes:
        end = done.get(n.id)
        parents = [done.get(p) for p in wf.parents(n.id)]
        ready = max((t for t in parents if t is not None), default=None) if parents else created
        seconds[n.id] = round(max(0.0, end - ready), 3) if end and ready else None
    return seconds


def queues_of(app: App, wf: Workflow) -> list[str]:
    """Every queue a step or error handler of ``wf`` will be sent to."""
    queues = {route(app, n)[0] for n in wf.nodes}
    for e in wf.errbacks:
        opts = {k: v for k, v in e.options.items() if k == "queue"}
        queues.add(app.build_message(e.task, [], {}, app.tasks.get(e.task), opts).queue)
    return sorted(queues)


def _default_workers(app: App, wf: Workflow, configured: bool, detach: bool,
                     console: Console) -> int:
    """Workers to start when ``--workers`` is not given: 1 with the embedded server; with a
    broker, 1 only if some queue of the flow has no live worker (else the run would wait)."""
    if not configured:
        return 1
    from flowc.runtime.monitoring.views import Monitor

    served = {q for w in Monitor(app).workers(include_lost=False) for q in w.queues}
    missing = [q for q in queues_of(app, wf) if q not in served]
    if not missing:
        return 0
    names = ", ".join(missing)
    if detach:  # a worker started here would stop when this command returns
        console.print(f"[yellow]warning:[/] no live worker consumes {escape(names)}: the run "
                      "waits until one does (flowc worker -Q ...)", soft_wrap=True)
        return 0
    console.print(f"no live worker consumes {escape(names)}: starting one for this run "
                  "(--workers 0 to wait for your own)", soft_wrap=True)
    return 1


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=repr))


def _start_workers(loaded: Loaded, app: App, wf: Workflow, count: int) -> WorkerProcesses:
    assert loaded.module is not None
    try:
        module = app_module(app, [u.module for u in loaded.module.uses])
    except LookupError as e:
        raise click.ClickException(str(e)) from None
    workers = WorkerProcesses(module, queues_of(app, wf), app.broker_url, loaded.roots, count)
    return workers.start()


def _watch(app: App, wf: Workflow, workflow_id: str, live: bool, timeout: float | None,
           console: Console, workers: WorkerProcesses | None,
           every_s: float) -> tuple[str, Progress]:
    """Poll the run until it ends: a live table on a terminal, else a line every ``every_s``."""
    progress = Progress(wf)
    run = app.workflow(workflow_id)
    deadline = None if timeout is None else time.monotonic() + timeout
    status = run.status()
    next_line = time.monotonic() + every_s
    with Live(progress.table(status), console=console, refresh_per_second=10,
              transient=False) if live else _Null() as view:
        while True:
            status = run.status()
            progress.poll(app, workflow_id)
            if view is not None:
                view.update(progress.table(status))
            elif every_s > 0 and time.monotonic() >= next_line and status not in DONE:
                console.print(progress.summary(status), soft_wrap=True, markup=False,
                              highlight=False)
                next_line = time.monotonic() + every_s
            if status in DONE:
                return status, progress
            if workers is not None and (error := workers.failed_early()):
                raise click.ClickException(error)
            if deadline is not None and time.monotonic() > deadline:
                return "TIMEOUT", progress
            time.sleep(POLL_S)


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _interrupted(app: App, workflow_id: str) -> None:
    click.echo("", err=True)
    revoke = True
    if sys.stdin.isatty():
        try:
            revoke = click.confirm(f"revoke workflow {workflow_id}?", default=True, err=True)
        except click.Abort:
            revoke = True
    if revoke:
        app.workflow(workflow_id).revoke()
        click.echo(f"revoked {workflow_id}", err=True)
    else:
        click.echo(f"left {workflow_id} running", err=True)
    sys.exit(EXIT_INTERRUPTED)


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.argument("flow", required=False)
@click.option("-p", "--param", "params", multiple=True, help=PARAM_HELP)
@click.option("--params-json", default=None, help="All parameters as one JSON object.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (for scripts).")
@click.option("--detach", is_flag=True, help="Print the workflow id and return at once.")
@click.option("--broker", default=None, help=f"Broker URL (default: ${BROKER_URL_ENV}, else an "
              "embedded server).")
@click.option("--workers", "worker_count", type=click.IntRange(0), default=None,
              help="Start N worker processes for this run (default: 1 with the embedded "
              "server; with a broker, 1 only if a queue of the flow has no live worker).")
@click.option("--timeout", type=float, default=None, help="Give up waiting after this many "
              "seconds (the run goes on).")
@click.option("--progress-every", "progress_every", type=click.FloatRange(0),
              default=PROGRESS_EVERY_S, show_default=True,
              help="Without a terminal, print a progress line this often (0: never).")
def run(file: Path, flow: str | None, params: tuple[str, ...], params_json: str | None,
        as_json: bool, detach: bool, broker: str | None, worker_count: int | None,
        timeout: float | None, progress_every: float) -> None:
    """Run a flow and print its result.

    FLOW is a flow of FILE or a schedule's target.
    """
    values = params_from(params, params_json)
    if broker:
        os.environ[BROKER_URL_ENV] = broker
    if worker_count != 0:
        host_quietly()  # an embedded server it starts gets the workers it starts too
    loaded, wf = compile_or_exit(file, flow, values)
    app = loaded.app
    if app is None:
        raise click.ClickException(f"the modules {loaded.name} uses define no App; a task "
                                   "module creates one: app = App('name')")
    configured = bool(os.environ.get(BROKER_URL_ENV) or app.conf.broker_url)
    if detach and not configured:
        raise click.UsageError("--detach needs a broker that outlives this command: pass "
                               f"--broker or set ${BROKER_URL_ENV}")
    if configured:
        reach_broker(app)
    app.workflows.check_supported()  # e.g. a Memcached result backend: say so before any worker
    console = Console(stderr=True)
    count = worker_count if worker_count is not None else \
        _default_workers(app, wf, configured, detach, console)
    workers = _start_workers(loaded, app, wf, count) if count else None
    try:
        handle = app.submit_workflow(wf)
        workflow_id = handle.workflow_id
        if detach:
            click.echo(json.dumps({"workflow_id": workflow_id}) if as_json else workflow_id)
            return
        live = console.is_terminal and not as_json
        if not live and not as_json:
            console.print(f"running {wf.name} as workflow {workflow_id}")
        try:
            status, progress = _watch(app, wf, workflow_id, live, timeout, console, workers,
                                      progress_every)
        except KeyboardInterrupt:
            _interrupted(app, workflow_id)
        _report(app, wf, handle, workflow_id, status, progress, as_json)
    finally:
        if workers is not None:
            workers.stop()


def _report(app: App, wf: Workflow, handle: Any, workflow_id: str, status: str,
            progress: Progress, as_json: bool) -> None:
    seconds = node_seconds(app, wf, workflow_id) if as_json else {}
    doc: dict[str, Any] = {"workflow_id": workflow_id, "status": status,
                           "nodes": progress.as_json(seconds)}
    if status == "TIMEOUT":
        doc["error"] = "timed out waiting; the run goes on"
    elif status == "SUCCESS":
        doc["result"] = _jsonable(handle.get(timeout=30))
    else:
        try:
            handle.get(timeout=30)
            doc["error"] = f"workflow {status.lower()}"
        except Exception as e:  # the failing step's own exception, re-raised by get()
            doc["error"] = f"{type(e).__name__}: {e}"
    if as_json:
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    elif "result" in doc:
        click.echo(json.dumps(doc["result"], indent=2, ensure_ascii=False))
    else:
        click.echo(f"{status}: {doc['error']}", err=True)
    if status != "SUCCESS":
        sys.exit(EXIT_TIMEOUT if status == "TIMEOUT" else EXIT_FAILED)

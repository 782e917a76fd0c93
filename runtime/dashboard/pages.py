"""Server-rendered pages, and the fragments the live stream re-renders."""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any

import orjson
from flowc.runtime.dashboard.security import CSRF_COOKIE, SESSION_COOKIE, new_csrf
from flowc.runtime.dashboard.state import COUNT_CAP, STATES
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from flowc.runtime.dashboard.app import Dashboard

PAGE_SIZE = 100
NODE_TABLE_MAX = 2000


def ago(ts: float | None) -> str:
    """``3s ago`` style."""
    if not ts:
        return "—"
    s = max(0.0, time.time() - float(ts))
    if s < 60:
        return f"{s:.0f}s ago"
    if s < 3600:
        return f"{s / 60:.0f}m ago"
    if s < 86400:
        return f"{s / 3600:.1f}h ago"
    return f"{s / 86400:.1f}d ago"


def when(ts: float | None) -> str:
    """Local time of a unix timestamp, to the millisecond."""
    if not ts:
        return "—"
    return dt.datetime.fromtimestamp(float(ts)).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def span(value: float | None) -> str:
    """A wait in words: ``45s``, ``12m``, ``3.2h``, ``1.5d``."""
    if value is None:
        return "—"
    s = max(0.0, float(value))
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{s / 60:.0f}m"
    if s < 86400:
        return f"{s / 3600:.1f}h"
    return f"{s / 86400:.1f}d"


def secs(value: float | None) -> str:
    """A duration, with a unit that fits."""
    if value is None:
        return "—"
    v = float(value)
    if v < 0.001:
        return f"{v * 1e6:.0f} µs"
    if v < 1:
        return f"{v * 1000:.1f} ms"
    return f"{v:.2f} s"


# --- data of each page (shared by the page and its live fragment) ------------------------------


def workers_data(dash: Dashboard, params: dict[str, str]) -> dict[str, Any]:
    """Worker processes, grouped by node, with what each runs now."""
    workers = dash.monitor.workers()
    running = dash.index.running_by_worker()
    nodes: dict[str, list[Any]] = {}
    for w in sorted(workers, key=lambda w: (w.node, w.name)):
        nodes.setdefault(w.node, []).append(w)
    return {"workers": workers, "running": running, "nodes": nodes,
            "alive": sum(1 for w in workers if w.alive)}


INSPECT_TIMEOUT_S = 1.5
"""How long the worker page waits for a node's processes to answer."""


def worker_data(dash: Dashboard, node: str) -> dict[str, Any]:
    """One node (``name@host``) or process: its processes with their pool, concurrency,
    queues and rate limits (``stats``), registered tasks (from the heartbeat), and the tasks
    each runs now and has claimed (``inspect_active``/``inspect_reserved``)."""
    from flowc.runtime.monitoring.control_channel import ControlClient

    node = node.split(".", 1)[0]
    processes = [w for w in dash.monitor.workers() if w.node == node]
    client = ControlClient(dash.app)
    replies: dict[str, dict[str, Any]] = {w.name: {} for w in processes}
    if any(w.alive for w in processes):
        for op in ("inspect_stats", "inspect_active", "inspect_reserved"):
            for reply in client.broadcast(op, destination=[node], timeout_s=INSPECT_TIMEOUT_S):
                replies.setdefault(reply["worker"], {})[op] = reply.get("ok", reply.get("error"))
    registered: set[str] = set()
    for w in processes:
        if w.tasks:
            registered.update(w.tasks)
    stats = [r["inspect_stats"] for r in replies.values()
             if isinstance(r.get("inspect_stats"), dict)]
    queues = sorted({q for w in processes for q in w.queues})
    limits: dict[str, str] = {}
    for one in stats:
        limits.update(one.get("rate_limits") or {})
    return {"node": node, "processes": processes, "replies": replies,
            "registered": sorted(registered), "queues": queues, "rate_limits": limits,
            "pool": processes[0].pool if processes else "",
            "concurrency": sum(int((one.get("pool") or {}).get("max-concurrency") or 0)
                               for one in stats),
            "active": [t for r in replies.values() for t in r.get("inspect_active") or []
                       if isinstance(t, dict)],
            "reserved": [t for r in replies.values() for t in r.get("inspect_reserved") or []
                         if isinstance(t, dict)],
            "alive": sum(1 for w in processes if w.alive)}


def queues_data(dash: Dashboard, params: dict[str, str]) -> dict[str, Any]:
    """Every queue's depth, the dead-letter count and recent throughput."""
    queues = dash.monitor.queues()
    done = dash.feed.series.points("task-succeeded", 60)
    failed = dash.feed.series.points("task-failed", 60)
    return {"queues": queues, "dead_letters": dash.monitor.dead_letter_count(),
            "ok_per_min": sum(n for _, n in done), "failed_per_min": sum(n for _, n in failed)}


def tasks_data(dash: Dashboard, params: dict[str, str]) -> dict[str, Any]:
    """A filtered, paged task list from the index."""
    since = None
    minutes = params.get("minutes", "").strip()
    if minutes:
        try:
            since = time.time() - float(minutes) * 60
        except ValueError:
            since = None
    try:
        page = max(0, int(params.get("page", "0") or 0))
    except ValueError:
        page = 0
    started = time.perf_counter()
    total, rows = dash.index.query(
        name=params.get("name", ""), state=params.get("state", ""),
        worker=params.get("worker", ""), text=params.get("q", ""), since=since,
        limit=PAGE_SIZE, offset=page * PAGE_SIZE)
    from urllib.parse import urlencode

    qs = urlencode({k: v for k, v in params.items() if k != "page" and v})
    return {"rows": rows, "total": total, "page_no": page, "pages": (total - 1) // PAGE_SIZE + 1,
            "qs": qs, "capped": total >= COUNT_CAP + PAGE_SIZE * (page + 1),
            "query_ms": (time.perf_counter() - started) * 1000, "indexed": len(dash.index)}


HISTORY_SCAN = 5000
"""Newest runs searched when the run list is filtered by name, status or parameters."""


def parse_param_filter(text: str) -> dict[str, str]:
    """``a=40, region=eu`` -> ``{"a": "40", "region": "eu"}`` (pairs without ``=`` are
    ignored)."""
    out = {}
    for part in text.replace(";", ",").split(","):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            out[key.strip()] = value.strip()
    return out


def _param_text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def workflows_data(dash: Dashboard, params: dict[str, str]) -> dict[str, Any]:
    """The newest runs, or the run history of a flow: filtered by name (part of it), status
    and parameters (``a=40``: the run's parameter ``a`` is 40)."""
    name = params.get("name", "").strip()
    status = params.get("status", "").strip().upper()
    wanted = parse_param_filter(params.get("params", ""))
    filtered = bool(name or status or wanted)
    listed = dash.monitor.workflow_ids(HISTORY_SCAN if filtered else PAGE_SIZE)
    submitted = dict(listed)
    runs: list[dict[str, Any]] = []
    batch = 500
    for start in range(0, len(listed), batch):
        for run in dash.monitor.workflow_summaries([w for w, _ in listed[start:start + batch]]):
            if name and name not in (run["name"] or ""):
                continue
            if status and run["status"] != status:
                continue
            given = run["params"] or {}
            if any(k not in given or _param_text(given[k]) != v for k, v in wanted.items()):
                continue
            run["submitted"] = submitted.get(run["id"])
            run["seconds"] = (run["finished"] - run["created"]) \
                if run["finished"] and run["created"] else None
            runs.append(run)
            if len(runs) >= PAGE_SIZE:
                break
        if len(runs) >= PAGE_SIZE:
            break
    return {"runs": runs, "total": dash.monitor.workflow_count(), "filtered": filtered,
            "scanned": len(listed)}


def workflow_data(dash: Dashboard, workflow_id: str) -> dict[str, Any]:
    """One run: meta, graph, node states."""
    from flowc.runtime.dashboard.graph import run_graph

    handle = dash.app.workflow(workflow_id)
    meta = handle.meta()
    graph = run_graph(dash.app, workflow_id)
    states = dash.app.workflows.node_states(workflow_id)
    return {"meta": meta, "graph": graph, "states": states}


def dead_letters_data(dash: Dashboard, params: dict[str, str]) -> dict[str, Any]:
    """The newest dead letters."""
    return {"letters": dash.monitor.dead_letters(PAGE_SIZE),
            "total": dash.monitor.dead_letter_count()}


def flow_dir_schedules(app: Any, flow_dir: Any) -> tuple[list[Any], list[str]]:
    """The ``schedule`` items of every ``.flow`` file in ``flow_dir`` as beat entries, and a
    line per file that does not compile (one bad file does not hide the others)."""
    from flowc.compiler.flow.compile import compile_schedules
    from flowc.runtime.beat.entries import app_zone, entries_from_compiled
    from flowc.runtime.project import load

    entries: list[Any] = []
    problems: list[str] = []
    for path in sorted(flow_dir.glob("*.flow")):
        try:
            loaded = load(path, path.name)
            if loaded.module is None:
                problems.append(f"{path.name} does not parse: run flowc check {path}")
                continue
            compiled, diags = compile_schedules(loaded.module, loaded.catalog, loaded.name)
            errors = [d for d in [*loaded.diagnostics, *diags] if d.severity == "error"]
            if errors:
                problems.append(f"{path.name}: {errors[0].message} (flowc check {path})")
                continue
            entries += entries_from_compiled(compiled, app_zone(app), path.name)
        except Exception as e:  # shown on the page, like a compile error
            problems.append(f"{path.name}: {e}")
    return entries, problems


def schedules_data(dash: Dashboard) -> dict[str, Any]:
    """Every periodic entry beat would run (``beat_schedule``, ``add_periodic_task`` and the
    ``.flow`` files of ``--flow-dir``) with its schedule in words, next fire time and the last
    fire time beat handled (from Redis)."""
    from flowc.runtime.beat.entries import entries_from_app

    problems: list[str] = []
    entries: list[Any] = []
    try:
        entries += entries_from_app(dash.app)
    except Exception as e:  # shown on the page: the same check fails `flowc beat` at start
        problems.append(str(e))
    if dash.flow_dir is not None:
        found, more = flow_dir_schedules(dash.app, dash.flow_dir)
        entries += found
        problems += more
    now = dt.datetime.now(dt.UTC)
    try:
        states = dash.app.coordination.beat_state().read([item.name for item in entries])
    except Exception as e:
        states = {}
        problems.append(f"could not read beat's state: {e}")
    rows = []
    for entry in sorted(entries, key=lambda item: item.name):
        state = states.get(entry.name)
        upcoming = entry.schedule.next_after(now)
        rows.append({
            "name": entry.name, "target": entry.target, "schedule": entry.schedule.describe(),
            "zone": str(entry.schedule.zone), "source": entry.source, "catchup": entry.catchup,
            "next": upcoming.timestamp(), "next_in": (upcoming - now).total_seconds(),
            "last": state.last.timestamp() if state and state.last else None,
            "options": dict(entry.options) or None})
    return {"entries": rows, "problems": problems}


def stats_data(dash: Dashboard, params: dict[str, str]) -> dict[str, Any]:
    """Per-task-name counts and runtime percentiles (Flower's task types, plus p95/p99)."""
    rows = dash.feed.stats.table()
    name = params.get("name", "").strip()
    if name:
        rows = [r for r in rows if name in r["name"]]
    return {"rows": rows, "since": dash.started}


DATA = {"stats": stats_data, "workers": workers_data, "queues": queues_data, "tasks": tasks_data,
        "workflows": workflows_data, "dead-letters": dead_letters_data}


def fragment(dash: Dashboard, page: str, params: dict[str, str]) -> str | None:
    """The live region of ``page`` rendered alone (what the live stream sends)."""
    fn = DATA.get(page)
    if fn is None:
        return None
    template = dash.templates.get_template(f"frag_{page.replace('-', '_')}.html")
    context = fn(dash, params)
    context.update(params=params, actions=not dash.auth.read_only, states=STATES)
    return template.render(context)


# --- handlers -----------------------------------------------------------------------------------


def routes(dash: Dashboard) -> list[Route]:
    """The HTML pages."""

    def page(name: str, title: str) -> Any:
        def handler(request: Request) -> Response:
            params = dict(request.query_params)
            context = DATA[name](dash, params)
            context.update(title=title, page=name, params=params, states=STATES,
                           names=dash.index.names() if name == "tasks" else [])
            return dash.render(request, f"{name.replace('-', '_')}.html", context)

        return handler

    def worker_page(request: Request) -> Response:
        node = request.path_params["node"]
        data = worker_data(dash, node)
        if not data["processes"]:
            return dash.render(request, "not_found.html", {
                "title": "Worker not found", "what": f"worker {node}",
                "hint": "it stopped beating more than a few minutes ago, or never ran"},
                status_code=404)
        return dash.render(request, "worker.html", {
            "title": f"Worker {data['node']}", "page": "workers", **data})

    def task_page(request: Request) -> Response:
        task_id = request.path_params["task_id"]
        rec = dash.index.get(task_id)
        stored = _stored_result(dash, task_id)
        # like AsyncResult: an id nothing is known about is PENDING (queued, delayed, or never
        # sent), and it can still be revoked
        return dash.render(request, "task.html", {
            "title": f"Task {task_id}", "page": "tasks", "task_id": task_id, "rec": rec,
            "stored": stored})

    def workflow_page(request: Request) -> Response:
        from flowc.runtime.dashboard.graph import MAX_NODES, drawing

        workflow_id = request.path_params["workflow_id"]
        data = workflow_data(dash, workflow_id)
        if not data["meta"]:
            return dash.render(request, "not_found.html", {
                "title": "Workflow not found", "what": f"workflow run {workflow_id}",
                "hint": "it may have expired (result_expires)"}, status_code=404)
        picture = drawing(data["graph"])
        nodes = list(data["graph"]["nodes"].items())[:NODE_TABLE_MAX]
        return dash.render(request, "workflow.html", {
            "title": f"Workflow {workflow_id}", "page": "workflows",
            "workflow_id": workflow_id, "drawing": picture, "max_nodes": MAX_NODES,
            "nodes": nodes, "node_count": len(data["graph"]["nodes"]), **data})

    def schedules_page(request: Request) -> Response:
        return dash.render(request, "schedules.html", {
            "title": "Schedules", "page": "schedules", **schedules_data(dash)})

    def submit_page(request: Request) -> Response:
        flows = []
        if dash.flow_dir is not None:
            flows = sorted(p.name for p in dash.flow_dir.glob("*.flow"))
        tasks = sorted(n for n in dash.app.tasks if not n.startswith("flowc."))
        return dash.render(request, "submit.html", {
            "title": "Run a task or workflow", "page": "submit", "tasks": tasks,
            "flows": flows,
            "example_flow": _example_flow(dash, tasks)})

    def flow_source(request: Request) -> Response:
        name = request.path_params["name"]
        if dash.flow_dir is None or "/" in name or not name.endswith(".flow"):
            return Response("not found", status_code=404)
        path = dash.flow_dir / name
        if not path.is_file():
            return Response("not found", status_code=404)
        return Response(path.read_text(encoding="utf-8"), media_type="text/plain")

    async def login_get(request: Request) -> Response:
        token = request.query_params.get("token")
        target = _safe_next(request.query_params.get("next"))
        if token and dash.auth.check_login(None, None, token):
            return _logged_in(dash, target)
        return dash.render(request, "login.html", {
            "title": "Log in", "page": "login", "next": target, "failed": bool(token)})

    async def login_post(request: Request) -> Response:
        form = await _form(request)
        target = _safe_next(str(form.get("next") or "/"))
        if dash.auth.check_login(_field(form, "user"), _field(form, "password"),
                                 _field(form, "token")):
            return _logged_in(dash, target)
        return dash.render(request, "login.html", {
            "title": "Log in", "page": "login", "next": target, "failed": True},
            status_code=401)

    async def logout(request: Request) -> Response:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return [
        Route("/workers", page("workers", "Workers")),
        Route("/worker/{node}", worker_page),
        Route("/queues", page("queues", "Queues")),
        Route("/tasks", page("tasks", "Tasks")),
        Route("/stats", page("stats", "Task statistics")),
        Route("/task/{task_id}", task_page),
        Route("/workflows", page("workflows", "Workflows")),
        Route("/workflow/{workflow_id}", workflow_page),
        Route("/dead-letters", page("dead-letters", "Dead letters")),
        Route("/schedules", schedules_page),
        Route("/submit", submit_page),
        Route("/flows/{name}", flow_source),
        Route("/login", login_get, methods=["GET"]),
        Route("/login", login_post, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
    ]


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form body (the login form), without a multipart dependency."""
    from urllib.parse import parse_qs

    raw = await request.body()
    if len(raw) > 16_384:
        return {}
    return {k: v[0] for k, v in parse_qs(raw.decode(errors="replace")).items()}


def _field(form: Any, name: str) -> str | None:
    value = form.get(name)
    return str(value) if value else None


def _safe_next(target: str | None) -> str:
    """Only local paths (no ``//host`` or scheme): no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _logged_in(dash: Dashboard, target: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, dash.auth.session_value(), httponly=True,
                        samesite="strict", path="/")
    response.set_cookie(CSRF_COOKIE, new_csrf(), httponly=False, samesite="strict", path="/")
    return response


def _stored_result(dash: Dashboard, task_id: str) -> dict[str, Any] | None:
    """The result backend's record (state, raw result, traceback), if any."""
    from flowc.runtime.outcome import decode_record

    try:
        record, state = dash.app.backend.get(task_id)
        raw = record if record is not None else state
        if raw is None:
            return None
        info = decode_record(raw, dash.app.conf.result_accepted())
    except Exception as e:
        return {"status": "UNKNOWN", "result": f"could not read the result: {e}"}
    return {"status": info.get("status"), "result": info.get("result"),
            "traceback": info.get("traceback"), "date_done": info.get("date_done"),
            "worker": info.get("worker"), "retries": info.get("retries")}


FLOW_SAMPLES: dict[Any, tuple[str, str]] = {
    int: ("int", "1"), float: ("float", "1.0"), str: ("str", '"text"'), bool: ("bool", "true"),
    "int": ("int", "1"), "float": ("float", "1.0"), "str": ("str", '"text"'),
    "bool": ("bool", "true")}
"""A .flow parameter type and sample default per Python annotation."""


def _example_flow(dash: Dashboard, tasks: list[str]) -> str:
    """A ``.flow`` that compiles as shown: the first task whose required arguments all have a
    simple type (or none), called with flow parameters of that type and a sample default."""
    import inspect

    main = dash.app.main or "tasks"
    # the app's own tasks first: a shared task of another module may be unknown to workers
    ordered = sorted(tasks, key=lambda n: not n.startswith(main + "."))
    for name in ordered:
        try:
            signature = inspect.signature(dash.app.tasks[name].run)
        except (TypeError, ValueError):
            continue
        params: list[str] = []
        for p in signature.parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.default is not p.empty:
                continue
            if p.name == "self" and getattr(dash.app.tasks[name], "bind", False):
                continue
            sample = FLOW_SAMPLES.get(p.annotation) if p.annotation is not p.empty else \
                ("int", "1")
            if sample is None:
                break
            params.append(f"{p.name}: {sample[0]} = {sample[1]}")
        else:
            names = ", ".join(part.split(":")[0] for part in params)
            module, _, short = name.rpartition(".")
            return (f'use "{module or main}"\n\nflow demo({", ".join(params)}) {{\n'
                    f'    {short}({names})\n}}\n')
    return ""

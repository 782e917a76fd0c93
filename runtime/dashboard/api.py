"""JSON reads, the live stream (server-sent events), and the actions (POST, authenticated)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from flowc.runtime.dashboard import pages
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

if TYPE_CHECKING:
    from flowc.runtime.dashboard.app import Dashboard

LIVE_TICK_S = 0.4
"""How often the live stream looks for new log lines and node states."""
FRAGMENT_EVERY_S = 1.0
"""How often page fragments are re-rendered (sent only when they changed)."""
BODY_MAX = 256 * 1024


class ActionError(Exception):
    """Raised by an action with a message for the page (HTTP 400)."""


def _json(value: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS),
                    status_code=status_code,
                    media_type="application/json")


def _sse(event: str, data: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data, default=str) + b"\n\n"


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > BODY_MAX:
        raise ActionError(f"request body over {BODY_MAX} bytes")
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ActionError(f"the request body is not JSON: {e}") from None
    if not isinstance(value, dict):
        raise ActionError("the request body must be a JSON object")
    return value


def routes(dash: Dashboard) -> list[Route]:
    """The ``/api`` routes."""

    def action(fn: Any) -> Any:
        async def handler(request: Request) -> Response:
            try:
                body = await _body(request)
                result = await run_in_threadpool(fn, request, body)
            except ActionError as e:
                return _json({"error": str(e)}, 400)
            except Exception as e:  # a user-facing message, not a stack trace
                return _json({"error": f"{type(e).__name__}: {e}"}, 400)
            return _json(result)

        return handler

    # --- reads --------------------------------------------------------------------------------

    def api_status(request: Request) -> Response:
        report = dash.monitor.status()
        report["indexed_tasks"] = len(dash.index)
        return _json(report)

    def api_tasks(request: Request) -> Response:
        data = pages.tasks_data(dash, dict(request.query_params))
        return _json({"total": data["total"], "page": data["page_no"],
                      "tasks": [r.to_dict() for r in data["rows"]]})

    def api_task(request: Request) -> Response:
        task_id = request.path_params["task_id"]
        rec = dash.index.get(task_id)
        stored = pages._stored_result(dash, task_id)
        if rec is None and stored is None:
            return _json({"error": "unknown task"}, 404)
        return _json({"task": rec.to_dict() if rec else None, "stored": stored})

    def api_workflow(request: Request) -> Response:
        workflow_id = request.path_params["workflow_id"]
        meta = dash.app.workflow(workflow_id).meta()
        if not meta:
            return _json({"error": "unknown workflow"}, 404)
        return _json({"status": meta.get("status"),
                      "states": dash.app.workflows.node_states(workflow_id)})

    def api_task_stats(request: Request) -> Response:
        data = pages.stats_data(dash, dict(request.query_params))
        return _json({"since": data["since"], "tasks": data["rows"]})

    def api_series(request: Request) -> Response:
        return _json(_series(dash))

    async def live(request: Request) -> Response:
        params = dict(request.query_params)
        page = params.pop("page", "")
        once = params.pop("once", "") == "1"
        return StreamingResponse(_live(dash, request, page, params, once),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache",
                                          "X-Accel-Buffering": "no"})

    # --- actions ------------------------------------------------------------------------------

    def revoke_task(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        task_id = request.path_params["task_id"]
        terminate = bool(body.get("terminate"))
        dash.app.control.revoke(task_id, terminate=terminate)
        _tell_workers(dash, "revoke", {"ids": [task_id], "terminate": terminate})
        return {"revoked": task_id, "terminate": terminate}

    def api_workflows(request: Request) -> Response:
        data = pages.workflows_data(dash, dict(request.query_params))
        return _json({"total": data["total"], "runs": data["runs"]})

    def retry_workflow(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        workflow_id = request.path_params["workflow_id"]
        run = dash.app.workflow(workflow_id)
        status = run.status()
        if status not in ("FAILURE", "REVOKED"):
            raise ActionError(f"workflow {workflow_id} is {status}: only a failed or revoked "
                              "run can be resumed")
        run.retry()
        return {"resumed": workflow_id, "status": run.status()}

    def revoke_workflow(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        workflow_id = request.path_params["workflow_id"]
        run = dash.app.workflow(workflow_id)
        if not run.meta():
            raise ActionError(f"no workflow run {workflow_id}")
        run.revoke(terminate=bool(body.get("terminate")))
        return {"revoked": workflow_id, "status": run.status()}

    def requeue_dead_letter(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        entry = request.path_params["entry_id"]
        new_id = dash.monitor.requeue_dead_letter(entry)
        if new_id is None:
            raise ActionError(f"no dead letter {entry} (already requeued or deleted?)")
        return {"requeued": entry, "entry_id": new_id}

    def delete_dead_letter(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        entry = request.path_params["entry_id"]
        if not dash.monitor.delete_dead_letter(entry):
            raise ActionError(f"no dead letter {entry}")
        return {"deleted": entry}

    def control(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        from flowc.runtime.monitoring.control_channel import ControlClient

        op = request.path_params["op"]
        if op not in ("shutdown", "pool_grow", "pool_shrink", "rate_limit", "ping",
                      "add_consumer", "cancel_consumer"):
            raise ActionError(f"unknown command {op!r}")
        dest = body.get("destination")
        args = {k: v for k, v in body.items() if k != "destination"}
        replies = ControlClient(dash.app).broadcast(
            op, args, destination=[str(dest)] if dest else None, timeout_s=2.0)
        return {"replies": replies}

    def submit_task(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        name = _task_name(dash, str(body.get("task") or ""))
        args, kwargs = body.get("args") or [], body.get("kwargs") or {}
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise ActionError("args must be a JSON list and kwargs a JSON object")
        options: dict[str, Any] = {}
        for key in ("queue", "countdown", "priority"):
            if body.get(key) not in (None, ""):
                options[key] = body[key]
        result = dash.app.send_task(name, args, kwargs, **options)
        message_queue = options.get("queue") or dash.app.build_message(
            name, args, kwargs, dash.app.tasks.get(name), {}).queue
        dash.sender.send("task-sent", uuid=result.id, name=name, args=repr(args),
                         kwargs=repr(kwargs), queue=message_queue)
        dash.sender.flush()
        return {"task_id": result.id, "task": name}

    def submit_canvas(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        from flowc.compiler.validate import compile_canvas

        canvas = build_canvas(dash, body.get("canvas"))
        wf = compile_canvas(canvas, dash.app.tasks)
        return _submit_workflow(dash, wf)

    def submit_flow(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        source = str(body.get("source") or "")
        if not source.strip():
            raise ActionError("the .flow source is empty")
        params = body.get("params") or {}
        if not isinstance(params, dict):
            raise ActionError("params must be a JSON object")
        from flowc.dsl.diagnostics import render_all
        from flowc.runtime.project import compile_source

        base = dash.flow_dir or Path.cwd()
        wf, diags = compile_source(source, base, body.get("flow") or None, params)
        if wf is None:
            problems = render_all(diags, source, "submitted.flow", limit=len(diags))
            raise ActionError(problems or "the flow did not compile")
        return _submit_workflow(dash, wf)

    return [
        Route("/api/status", api_status),
        Route("/api/tasks", api_tasks),
        Route("/api/task/{task_id}", api_task),
        Route("/api/workflows", api_workflows),
        Route("/api/workflow/{workflow_id}", api_workflow),
        Route("/api/series", api_series),
        Route("/api/stats/tasks", api_task_stats),
        Route("/api/live", live),
        Route("/api/task/{task_id}/revoke", action(revoke_task), methods=["POST"]),
        Route("/api/workflow/{workflow_id}/revoke", action(revoke_workflow), methods=["POST"]),
        Route("/api/workflow/{workflow_id}/retry", action(retry_workflow), methods=["POST"]),
        Route("/api/dead-letters/{entry_id}/requeue", action(requeue_dead_letter),
              methods=["POST"]),
        Route("/api/dead-letters/{entry_id}/delete", action(delete_dead_letter),
              methods=["POST"]),
        Route("/api/control/{op}", action(control), methods=["POST"]),
        Route("/api/submit/task", action(submit_task), methods=["POST"]),
        Route("/api/submit/canvas", action(submit_canvas), methods=["POST"]),
        Route("/api/submit/flow", action(submit_flow), methods=["POST"]),
    ]


def _tell_workers(dash: Dashboard, op: str, args: dict[str, Any]) -> None:
    from flowc.runtime.monitoring.control_channel import ControlClient

    # the revocation is in Redis already; telling the workers only makes it take effect sooner
    with contextlib.suppress(Exception):
        ControlClient(dash.app).broadcast(op, args, timeout_s=0.5)


def _task_name(dash: Dashboard, name: str) -> str:
    if name in dash.app.tasks:
        return name
    found = [n for n in dash.app.tasks if n.rsplit(".", 1)[-1] == name]
    if len(found) == 1:
        return found[0]
    raise ActionError(f"unknown task {name!r}" + (f"; one of {', '.join(found)}?" if found
                                                  else ""))


def build_canvas(dash: Dashboard, spec: Any) -> Any:
    """A canvas from JSON: ``{"task", "args", "kwargs", "options"}``, ``{"chain": [...]}``,
    ``{"group": [...]}`` or ``{"chord": [...], "body": {...}}``."""
    from flowc.compiler.canvas.primitives import chain, chord, group
    from flowc.compiler.canvas.signature import Signature

    if not isinstance(spec, dict):
        raise ActionError("a canvas is a JSON object: {task}, {chain: []}, {group: []} or "
                          "{chord: [], body: {}}")
    if "chain" in spec:
        return chain(*[build_canvas(dash, s) for s in _items(spec, "chain")], app=dash.app)
    if "group" in spec:
        return group([build_canvas(dash, s) for s in _items(spec, "group")], app=dash.app)
    if "chord" in spec:
        return chord([build_canvas(dash, s) for s in _items(spec, "chord")],
                     build_canvas(dash, spec.get("body")), app=dash.app)
    if "task" in spec:
        args, kwargs = spec.get("args") or [], spec.get("kwargs") or {}
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise ActionError("args must be a JSON list and kwargs a JSON object")
        return Signature(_task_name(dash, str(spec["task"])), args, kwargs,
                         dict(spec.get("options") or {}), app=dash.app)
    raise ActionError(f"not a canvas: {sorted(spec)}")


def _items(spec: dict[str, Any], key: str) -> list[Any]:
    items = spec.get(key)
    if not isinstance(items, list) or not items:
        raise ActionError(f"{key} needs a non-empty list")
    return items


def _submit_workflow(dash: Dashboard, wf: Any) -> dict[str, Any]:
    handle = dash.app.submit_workflow(wf)
    workflow_id = getattr(handle, "workflow_id", None)
    dash.sender.workflow_submitted(str(workflow_id), wf.name, len(wf.nodes))
    dash.sender.flush()
    return {"workflow_id": workflow_id, "nodes": len(wf.nodes)}


def _series(dash: Dashboard) -> dict[str, Any]:
    now = time.time()
    depths: dict[str, list[tuple[float, int]]] = {}
    for ts, sample in list(dash.feed.depths):
        for queue, depth in sample.items():
            depths.setdefault(queue, []).append((round(ts - now, 1), depth))
    series = dash.feed.series
    return {"succeeded": series.points("task-succeeded", 300),
            "failed": series.points("task-failed", 300),
            "received": series.points("task-received", 300), "depths": depths,
            "now": now}


def _stats_series(dash: Dashboard, params: dict[str, str]) -> dict[str, Any]:
    """The stats page's charts: recent runtimes per task name, and completions per second."""
    name = params.get("name", "").strip()
    runtimes = dash.feed.stats.runtime_points(300)
    if name:
        runtimes = {n: p for n, p in runtimes.items() if name in n}
    series = dash.feed.series
    return {"runtimes": runtimes, "succeeded": series.points("task-succeeded", 300),
            "failed": series.points("task-failed", 300),
            "retried": series.points("task-retried", 300), "now": time.time()}


def _matcher(params: dict[str, str]) -> Any:
    ids = {v for k, v in params.items() if k in ("task", "root", "workflow") and v}
    if not ids:
        return None

    def match(event: dict[str, Any]) -> bool:
        # later events of a task carry only its id: remember the ids that matched before
        if ids & {event.get("uuid"), event.get("root_id"), event.get("workflow_id")}:
            if event.get("uuid"):
                ids.add(event["uuid"])
            return True
        return False

    return match


async def _live(dash: Dashboard, request: Request, page: str, params: dict[str, str],
                once: bool) -> AsyncIterator[bytes]:
    """Fragments, node states, chart series and log lines for one open page."""
    last_fragment: str | None = None
    last_states: Any = None
    next_fragment = 0.0
    try:
        seq = int(params.pop("since", "") or -1)
    except ValueError:
        seq = -1
    if seq < 0:
        seq = max(0, dash.feed.log_seq - 200)
    match = _matcher(params)
    yield b"retry: 2000\n\n"
    while True:
        now = time.monotonic()
        if page in pages.DATA and now >= next_fragment:
            next_fragment = now + FRAGMENT_EVERY_S
            html = await run_in_threadpool(pages.fragment, dash, page, params)
            if html != last_fragment:
                last_fragment = html
                yield _sse("fragment", html)
            if page == "queues":
                yield _sse("series", await run_in_threadpool(_series, dash))
            if page == "stats":
                yield _sse("stats", await run_in_threadpool(_stats_series, dash, params))
        if page == "workflow" and params.get("workflow"):
            wid = params["workflow"]
            states = await run_in_threadpool(_workflow_states, dash, wid)
            if states != last_states:
                last_states = states
                yield _sse("nodes", states)
        if page in ("submit", "task", "workflow") and (match is not None or page == "submit"):
            lines = list(dash.feed.log_since(seq, match))
            if lines:
                seq = lines[-1][0]
                yield _sse("log", [line for _, line in lines[-200:]])
            else:
                seq = max(seq, dash.feed.log_seq) if match is None else seq
        if once or await request.is_disconnected():
            return
        await asyncio.sleep(LIVE_TICK_S)


def _workflow_states(dash: Dashboard, workflow_id: str) -> dict[str, Any]:
    meta = dash.app.workflows.status(workflow_id)
    return {"status": meta.get("status", "EXPIRED"),
            "states": dash.app.workflows.node_states(workflow_id)}

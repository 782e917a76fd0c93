"""A workflow run's DAG for the browser: nodes and edges read from the run records in Redis.

The run records (``runtime/workflows/plan.py``) hold each node's task, arguments, successors
and errbacks, so the picture needs nothing but the run's keys. The page lays the graph out in
the browser with dagre (``static/vendor/``, MIT) and draws it as SVG: each node a group with
``id="wf_<node id>"`` linking to its task's page, coloured by node state (``state-SUCCESS``...)
as states change. No system binary (Graphviz ``dot``) is needed to serve the dashboard.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from flowc.runtime.app import App

MAX_NODES = 300
"""Larger runs are shown as a table only (a picture of more is unreadable anyway)."""
LABEL_MAX = 40


def _short(text: str) -> str:
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


def _head(rec: dict[str, Any]) -> dict[str, Any]:
    try:
        value = orjson.loads(str(rec.get("h", "")) + "}")
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def run_graph(app: App, workflow_id: str) -> dict[str, Any]:
    """Nodes (id, task, task id, call text, successors, errbacks) and errbacks of a run."""
    join = app.workflow_join
    nodes = {}
    for key, rec in join.records(workflow_id).items():
        head = _head(rec)
        task = str(head.get("task", "?"))
        call_args = ", ".join(p for p in (rec.get("ra", ""), _kw(rec.get("kw", ""))) if p)
        first = {"prepend": "↑", "collect": "[↑]", "items": "item"}.get(rec.get("in", ""), "")
        if (head.get("workflow") or {}).get("expand"):
            first = "item"
        shown = ", ".join(p for p in (first, call_args) if p)
        nodes[key] = {
            "task": task, "task_id": rec.get("t"), "queue": head.get("queue"),
            "call": f"{task.rsplit('.', 1)[-1]}({_short(shown)})",
            "map": bool((head.get("workflow") or {}).get("expand")),
            "succ": list(rec.get("succ", [])), "errbacks": list(rec.get("le", []))}
    errbacks = {}
    for key, rec in join.errbacks(workflow_id).items():
        task = str(_head(rec).get("task", "?"))
        errbacks[key] = {"task": task, "task_id": rec.get("t"),
                                  "call": f"{task.rsplit('.', 1)[-1]}()"}
    return {"nodes": dict(sorted(nodes.items(), key=lambda kv: _order(kv[0]))),
            "errbacks": errbacks}


def _order(node_id: str) -> tuple[int, str]:
    digits = re.sub(r"\D", "", node_id)
    return (int(digits) if digits else 0, node_id)


def _kw(text: str) -> str:
    """``"a":1,"b":2`` (JSON object innards) as ``a=1, b=2``."""
    if not text:
        return ""
    try:
        value = orjson.loads("{" + text + "}")
    except orjson.JSONDecodeError:
        return text
    return ", ".join(f"{k}={orjson.dumps(v).decode()}" for k, v in value.items())


def drawing(graph: dict[str, Any]) -> dict[str, Any] | None:
    """What the page draws: nodes (label, sub-label, link, kind) and edges (data or error).

    None when the run has no nodes or more than :data:`MAX_NODES`.
    """
    if not graph["nodes"] or len(graph["nodes"]) > MAX_NODES:
        return None
    nodes = [{"id": node_id, "label": node["call"],
              "sub": node_id + (" · map" if node["map"] else ""), "title": node["task"],
              "href": f"/task/{node['task_id']}", "kind": "map" if node["map"] else "task"}
             for node_id, node in graph["nodes"].items()]
    nodes += [{"id": eb_id, "label": eb["call"], "sub": "on error", "title": eb["task"],
               "href": f"/task/{eb['task_id']}", "kind": "errback"}
              for eb_id, eb in graph["errbacks"].items()]
    edges = [{"from": node_id, "to": succ, "kind": "data"}
             for node_id, node in graph["nodes"].items() for succ in node["succ"]
             if succ in graph["nodes"]]
    edges += [{"from": node_id, "to": eb_id, "kind": "error"}
              for node_id, node in graph["nodes"].items() for eb_id in node["errbacks"]
              if eb_id in graph["errbacks"]]
    return {"nodes": nodes, "edges": edges}

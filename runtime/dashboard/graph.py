"""A workflow run's DAG as SVG: read the run records from Redis, lay out with Graphviz ``dot``.

The run records (``runtime/workflows/plan.py``) hold each node's task, arguments, successors
and errbacks, so the picture needs nothing but the run's keys. Each node is an SVG group with
``id="wf_<node id>"`` linking to its task's page; the page colours groups by node state
(``state-SUCCESS``...) as states change. The layout of a run never changes, so it is cached.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from flowc.runtime.app import App

MAX_NODES = 300
"""Larger runs are shown as a table only (``dot`` would take seconds)."""
LABEL_MAX = 40
CACHE_SIZE = 256
PX_PER_PT = 4 / 3
_cache: OrderedDict[tuple[str, str], str] = OrderedDict()


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
    keys = app.keys.workflow(workflow_id)
    pipe = app.broker_client.pipeline(transaction=False)
    pipe.hgetall(keys[0])
    pipe.hgetall(keys[5])
    raw_nodes, raw_errbacks = pipe.execute()
    nodes = {}
    for key, value in raw_nodes.items():
        rec = orjson.loads(value)
        head = _head(rec)
        task = str(head.get("task", "?"))
        call_args = ", ".join(p for p in (rec.get("ra", ""), _kw(rec.get("kw", ""))) if p)
        first = {"prepend": "↑", "collect": "[↑]", "items": "item"}.get(rec.get("in", ""), "")
        if (head.get("workflow") or {}).get("expand"):
            first = "item"
        shown = ", ".join(p for p in (first, call_args) if p)
        nodes[key.decode()] = {
            "task": task, "task_id": rec.get("t"), "queue": head.get("queue"),
            "call": f"{task.rsplit('.', 1)[-1]}({_short(shown)})",
            "map": bool((head.get("workflow") or {}).get("expand")),
            "succ": list(rec.get("succ", [])), "errbacks": list(rec.get("le", []))}
    errbacks = {}
    for key, value in raw_errbacks.items():
        rec = orjson.loads(value)
        task = str(_head(rec).get("task", "?"))
        errbacks[key.decode()] = {"task": task, "task_id": rec.get("t"),
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


def to_dot(graph: dict[str, Any], name: str = "workflow") -> str:
    """DOT source with stable SVG ids (``wf_<node>``) and links to task pages."""
    import graphviz

    g = graphviz.Digraph(name)
    g.attr(rankdir="TB", bgcolor="transparent", nodesep="0.3", ranksep="0.45")
    g.attr("node", shape="box", style="rounded,filled", fillcolor="#eceff1", color="#90a4ae",
           fontname="Helvetica", fontsize="11", margin="0.15,0.06")
    g.attr("edge", color="#78909c", arrowsize="0.7")
    for node_id, node in graph["nodes"].items():
        label = f"{node['call']}\n{node_id}" + (" · map" if node["map"] else "")
        g.node(node_id, label, id=f"wf_{node_id}", href=f"/task/{node['task_id']}",
               tooltip=node["task"], **({"shape": "box3d", "style": "filled"}
                                        if node["map"] else {}))
    for node_id, node in graph["nodes"].items():
        for succ in node["succ"]:
            g.edge(node_id, succ)
    for eb_id, eb in graph["errbacks"].items():
        g.node(eb_id, f"{eb['call']}\non error", id=f"wf_{eb_id}", shape="note",
               href=f"/task/{eb['task_id']}", color="#c62828", fontcolor="#c62828",
               fillcolor="#ffebee", style="filled")
    for node_id, node in graph["nodes"].items():
        for eb_id in node["errbacks"]:
            if eb_id in graph["errbacks"]:
                g.edge(node_id, eb_id, style="dashed", color="#c62828")
    return g.source


def svg(app: App, workflow_id: str, graph: dict[str, Any] | None = None) -> str | None:
    """The run's picture as an inline ``<svg>`` element (None if too big or gone)."""
    graph = graph if graph is not None else run_graph(app, workflow_id)
    if not graph["nodes"] or len(graph["nodes"]) > MAX_NODES:
        return None
    key = (app.keys.prefix, workflow_id)
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    import graphviz

    text = graphviz.Source(to_dot(graph)).pipe(format="svg").decode()
    text = text[text.index("<svg"):]
    size = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', text)
    if size:  # natural size in CSS pixels; the stylesheet caps the width at the page's
        width = float(size.group(1)) * PX_PER_PT
        text = text[:size.start()] + f'<svg class="dag" style="width:{width:.0f}px"' + \
            text[size.end():]
    _cache[key] = text
    if len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return text

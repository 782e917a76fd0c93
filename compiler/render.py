"""Pictures of a workflow: Graphviz DOT (and SVG/PNG through ``dot``) and Mermaid ``flowchart``.

Conventions, shared by both outputs:

* a task node shows ``task(args)`` and, on a second line, its options;
* a ``map`` node is a stacked box labelled ``map xN <= max_width`` (with the real symbols);
* a chord join (a node collecting several parents) gets a small join point its parents feed;
* ``kwarg`` edges are labelled with the argument name; ``after`` (immutable) edges are dotted;
* errbacks are red notes reached by dashed red edges labelled ``on error``; a flow's
  ``on error`` handler (the workflow's, or a called flow's) is reached from an ``any failure``
  marker, drawn the same way wherever the flow is;
* with :class:`PictureNotes` (what ``flowc render`` passes for a ``.flow`` file): called flows
  are clusters (DOT ``subgraph cluster_*``, Mermaid ``subgraph``), options are in the file's
  words (``retries 1, backoff exponential(1s), timeout 30s``), and a schedule's trigger
  (``cron "30 2 * * *" tz "UTC"``) is drawn above the nodes it starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import graphviz
from flowc.compiler.ir import Errback, Node, Workflow, shape_leaves

MAX_LABEL = 48
"""Characters of a call's argument text shown before it is cut with an ellipsis."""
ERROR_COLOUR = "#c62828"
ANY_FAILURE = "any_failure"
TIMES = "\u00d7"


Cluster = tuple[tuple[str, str], ...]
"""The called-flow instances a node is inside, outermost first: ``(id, label)`` each."""


@dataclass
class PictureNotes:
    """What a picture of a ``.flow`` file shows beyond the IR (see the module docstring)."""

    clusters: Mapping[str, Cluster] = field(default_factory=dict)
    """Node id -> the called-flow instances it is inside."""
    flow_handlers: Mapping[str, Cluster] = field(default_factory=dict)
    """Errback id -> the flow instance whose ``on error`` it is (``()``: the whole workflow)."""
    trigger: str | None = None
    """A schedule's trigger as written, e.g. ``cron "30 2 * * *" tz "UTC"``."""
    option_words: Callable[[Mapping[str, Any]], list[str]] | None = None
    """Options as label text (default: Celery's ``name=value``)."""


NO_NOTES = PictureNotes()


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def call_text(task: str, args: list[Any], kwargs: dict[str, Any], first: str | None) -> str:
    """``task(first, *args, k=v)`` with the argument text shortened."""
    parts = ([first] if first else []) + [repr(a) for a in args]
    parts += [f"{k}={v!r}" for k, v in sorted(kwargs.items())]
    return f"{task}({_short(', '.join(parts))})"


def _first_arg(n: Node) -> str | None:
    if n.kind == "map":
        return "item"
    if n.prepend is not None:
        return "↑"
    if n.collect is not None:
        return "[↑]"
    return None


def options_text(options: Mapping[str, Any], notes: PictureNotes = NO_NOTES) -> str:
    if notes.option_words is not None:
        return ", ".join(notes.option_words(options))
    return " · ".join(f"{k}={v}" for k, v in sorted(options.items()))


def node_label(n: Node, notes: PictureNotes = NO_NOTES) -> list[str]:
    """The label lines of a node."""
    lines = [call_text(n.task, n.args, n.kwargs, _first_arg(n))]
    if n.kind == "map":
        lines.insert(0, f"map {TIMES}N ≤ {n.max_width}")
    if n.options:
        lines.append(options_text(n.options, notes))
    return lines


def errback_label(e: Errback, notes: PictureNotes = NO_NOTES) -> list[str]:
    first = None if e.immutable else "failure"
    lines = [call_text(e.task, e.args, e.kwargs, first)]
    if e.options:
        lines.append(options_text(e.options, notes))
    return lines


def _handlers(wf: Workflow, notes: PictureNotes) -> dict[str, Cluster]:
    """Errback id -> where its ``any failure`` marker goes, for every flow-level handler."""
    found: dict[str, Cluster] = {eid: () for eid in wf.on_error}
    found.update(notes.flow_handlers)
    return found


def _marker(cluster: Cluster) -> str:
    return f"{ANY_FAILURE}_{cluster[-1][0]}" if cluster else ANY_FAILURE


def _tree(ids: list[str], clusters: Mapping[str, Cluster]) -> dict[Cluster, list[str]]:
    """The ids in each cluster path (``()``: outside every cluster), in order."""
    members: dict[Cluster, list[str]] = {(): []}
    for i in ids:
        path = clusters.get(i, ())
        for depth in range(1, len(path) + 1):
            members.setdefault(path[:depth], [])
        members[path].append(i)
    return members


def _children(members: Mapping[Cluster, list[str]], path: Cluster) -> Iterator[Cluster]:
    return (p for p in members if len(p) == len(path) + 1 and p[: len(path)] == path)


def _joins(n: Node) -> bool:
    return n.collect is not None and len(set(shape_leaves(n.collect))) > 1


def _inputs(n: Node) -> list[tuple[str, str]]:
    """``(parent, style)`` per incoming edge: style is ``value``, ``kwarg:<name>`` or ``after``."""
    edges: list[tuple[str, str]] = []
    if n.prepend is not None:
        edges.append((n.prepend, "value"))
    if n.collect is not None:
        edges.extend((leaf, "value") for leaf in dict.fromkeys(shape_leaves(n.collect)))
    edges.extend((src, f"kwarg:{name}") for name, src in sorted(n.kwarg_inputs.items()))
    edges.extend((src, "after") for src in n.after)
    return edges


def to_dot(wf: Workflow, notes: PictureNotes = NO_NOTES) -> str:
    """Graphviz DOT source of the workflow."""
    g = graphviz.Digraph(wf.name or wf.id or "workflow")
    g.attr(rankdir="TB", compound="true")
    g.attr("node", shape="box", style="rounded", fontname="Helvetica", fontsize="11")
    g.attr("edge", fontname="Helvetica", fontsize="9")
    handlers = _handlers(wf, notes)
    markers = {_marker(c): c for c in handlers.values()}
    ids = [n.id for n in wf.nodes] + list(markers)
    members = _tree(ids, {**notes.clusters, **markers})
    nodes = {n.id: n for n in wf.nodes}

    def draw(graph: graphviz.Digraph, path: Cluster) -> None:
        for i in members[path]:
            if i in markers:
                graph.node(i, "any failure", shape="plaintext", fontcolor=ERROR_COLOUR)
                continue
            n = nodes[i]
            label = "\n".join(node_label(n, notes))
            if n.kind == "map":
                graph.node(n.id, label, shape="box3d", style="")
            else:
                graph.node(n.id, label)
        for sub in _children(members, path):
            with graph.subgraph(name=sub[-1][0]) as c:
                c.attr(label=sub[-1][1], style="dashed,rounded", color="#888888",
                       fontname="Helvetica", fontsize="10")
                draw(c, sub)

    draw(g, ())
    if notes.trigger:
        g.node("trigger", notes.trigger, shape="cds", style="", fontname="Helvetica")
        for root in wf.roots():
            g.edge("trigger", root, style="bold")
    for n in wf.nodes:
        target = n.id
        if _joins(n):
            target = f"join_{n.id}"
            g.node(target, "", shape="point", width="0.12")
            g.edge(target, n.id)
        for parent, style in _inputs(n):
            dest = target if style == "value" else n.id
            if style == "after":
                g.edge(parent, dest, style="dotted")
            elif style.startswith("kwarg:"):
                g.edge(parent, dest, label=style.removeprefix("kwarg:"))
            elif dest != n.id:
                g.edge(parent, dest, arrowhead="none")
            else:
                g.edge(parent, dest)
    for e in wf.errbacks:
        label = "\n".join(errback_label(e, notes))
        g.node(e.id, label, shape="note", style="", color=ERROR_COLOUR, fontcolor=ERROR_COLOUR)
    error_edge = {"style": "dashed", "color": ERROR_COLOUR, "fontcolor": ERROR_COLOUR}
    for n in wf.nodes:
        for eid in n.link_error:
            if eid not in handlers:
                g.edge(n.id, eid, label="on error", **error_edge)
    for eid, cluster in handlers.items():
        g.edge(_marker(cluster), eid, **error_edge)
    return g.source


def render(wf: Workflow, fmt: str = "svg", notes: PictureNotes = NO_NOTES) -> bytes:
    """Render with the Graphviz ``dot`` binary (``apt-get install graphviz`` if missing)."""
    return graphviz.Source(to_dot(wf, notes)).pipe(format=fmt)


def _mermaid_text(lines: list[str]) -> str:
    def escape(line: str) -> str:
        return line.replace("&", "&amp;").replace("<", "&lt;").replace('"', "#quot;")

    return "<br/>".join(escape(line) for line in lines)


def to_mermaid(wf: Workflow, notes: PictureNotes = NO_NOTES) -> str:
    """Mermaid ``flowchart TD`` text of the workflow."""
    out = ["flowchart TD"]
    handlers = _handlers(wf, notes)
    markers = {_marker(c): c for c in handlers.values()}
    ids = [n.id for n in wf.nodes] + list(markers)
    members = _tree(ids, {**notes.clusters, **markers})
    nodes = {n.id: n for n in wf.nodes}

    def draw(path: Cluster, indent: str) -> None:
        for i in members[path]:
            if i in markers:
                out.append(f'{indent}{i}{{"any failure"}}:::errback')
                continue
            n = nodes[i]
            text = _mermaid_text(node_label(n, notes))
            out.append(f'{indent}{n.id}[["{text}"]]' if n.kind == "map"
                       else f'{indent}{n.id}("{text}")')
        for sub in _children(members, path):
            out.append(f'{indent}subgraph {sub[-1][0]} ["{_mermaid_text([sub[-1][1]])}"]')
            draw(sub, indent + "    ")
            out.append(f"{indent}end")

    draw((), "    ")
    if notes.trigger:
        out.append(f'    trigger>"{_mermaid_text([notes.trigger])}"]')
        out.extend(f"    trigger ==> {root}" for root in wf.roots())
    for e in wf.errbacks:
        out.append(f'    {e.id}>"{_mermaid_text(errback_label(e, notes))}"]:::errback')
    for n in wf.nodes:
        target = n.id
        if _joins(n):
            target = f"join_{n.id}"
            out.append(f"    {target}(( )):::join")
            out.append(f"    {target} --> {n.id}")
        for parent, style in _inputs(n):
            if style == "after":
                out.append(f"    {parent} -.-> {n.id}")
            elif style.startswith("kwarg:"):
                out.append(f"    {parent} -->|{style.removeprefix('kwarg:')}| {n.id}")
            else:
                arrow = "---" if target != n.id else "-->"
                out.append(f"    {parent} {arrow} {target}")
    for n in wf.nodes:
        out.extend(f"    {n.id} -. on error .-> {eid}" for eid in n.link_error
                   if eid not in handlers)
    for eid, cluster in handlers.items():
        out.append(f"    {_marker(cluster)} -. on error .-> {eid}")
    out.append(f"    classDef errback stroke:{ERROR_COLOUR},color:{ERROR_COLOUR}")
    out.append("    classDef join fill:#000,stroke:#000")
    return "\n".join(out) + "\n"

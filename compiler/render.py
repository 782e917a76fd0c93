"""Pictures of a workflow: Graphviz DOT (and SVG/PNG through ``dot``) and Mermaid ``flowchart``.

Conventions, shared by both outputs:

* a task node shows ``task(args)`` and, on a second line, its options;
* a ``map`` node is a stacked box labelled ``map xN <= max_width`` (with the real symbols);
* a chord join (a node collecting several parents) gets a small join point its parents feed;
* ``kwarg`` edges are labelled with the argument name; ``after`` (immutable) edges are dotted;
* errbacks are red notes reached by dashed red edges labelled ``on error``; workflow-level
  handlers are reached from a ``any failure`` marker.
"""

from __future__ import annotations

from typing import Any

import graphviz
from flowc.compiler.ir import Errback, Node, Workflow, shape_leaves

MAX_LABEL = 48
"""Characters of a call's argument text shown before it is cut with an ellipsis."""
ERROR_COLOUR = "#c62828"
ANY_FAILURE = "any_failure"
TIMES = "\u00d7"


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


def options_text(options: dict[str, Any]) -> str:
    return " · ".join(f"{k}={v}" for k, v in sorted(options.items()))


def node_label(n: Node) -> list[str]:
    """The label lines of a node."""
    lines = [call_text(n.task, n.args, n.kwargs, _first_arg(n))]
    if n.kind == "map":
        lines.insert(0, f"map {TIMES}N ≤ {n.max_width}")
    if n.options:
        lines.append(options_text(n.options))
    return lines


def errback_label(e: Errback) -> list[str]:
    first = None if e.immutable else "failure"
    lines = [call_text(e.task, e.args, e.kwargs, first)]
    if e.options:
        lines.append(options_text(e.options))
    return lines


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


def to_dot(wf: Workflow) -> str:
    """Graphviz DOT source of the workflow."""
    g = graphviz.Digraph(wf.name or wf.id or "workflow")
    g.attr(rankdir="TB")
    g.attr("node", shape="box", style="rounded", fontname="Helvetica", fontsize="11")
    g.attr("edge", fontname="Helvetica", fontsize="9")
    for n in wf.nodes:
        label = "\n".join(node_label(n))
        if n.kind == "map":
            g.node(n.id, label, shape="box3d", style="")
        else:
            g.node(n.id, label)
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
        label = "\n".join(errback_label(e))
        g.node(e.id, label, shape="note", style="", color=ERROR_COLOUR, fontcolor=ERROR_COLOUR)
    error_edge = {"style": "dashed", "color": ERROR_COLOUR, "fontcolor": ERROR_COLOUR}
    for n in wf.nodes:
        for eid in n.link_error:
            g.edge(n.id, eid, label="on error", **error_edge)
    if wf.on_error:
        g.node(ANY_FAILURE, "any failure", shape="plaintext", fontcolor=ERROR_COLOUR)
        for eid in wf.on_error:
            g.edge(ANY_FAILURE, eid, **error_edge)
    return g.source


def render(wf: Workflow, fmt: str = "svg") -> bytes:
    """Render with the Graphviz ``dot`` binary (``apt-get install graphviz`` if missing)."""
    return graphviz.Source(to_dot(wf)).pipe(format=fmt)


def _mermaid_text(lines: list[str]) -> str:
    def escape(line: str) -> str:
        return line.replace("&", "&amp;").replace("<", "&lt;").replace('"', "#quot;")

    return "<br/>".join(escape(line) for line in lines)


def to_mermaid(wf: Workflow) -> str:
    """Mermaid ``flowchart TD`` text of the workflow."""
    out = ["flowchart TD"]
    for n in wf.nodes:
        text = _mermaid_text(node_label(n))
        out.append(f'    {n.id}[["{text}"]]' if n.kind == "map" else f'    {n.id}("{text}")')
    for e in wf.errbacks:
        out.append(f'    {e.id}>"{_mermaid_text(errback_label(e))}"]:::errback')
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
        out.extend(f"    {n.id} -. on error .-> {eid}" for eid in n.link_error)
    if wf.on_error:
        out.append(f'    {ANY_FAILURE}{{"any failure"}}:::errback')
        out.extend(f"    {ANY_FAILURE} -. on error .-> {eid}" for eid in wf.on_error)
    out.append(f"    classDef errback stroke:{ERROR_COLOUR},color:{ERROR_COLOUR}")
    out.append("    classDef join fill:#000,stroke:#000")
    return "\n".join(out) + "\n"

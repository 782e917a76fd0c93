"""Pass: the graph of nodes is acyclic (a cycle would never become ready)."""

from __future__ import annotations

from flowc.compiler.diagnostics import CYCLE, finding
from flowc.compiler.dispatch import TaskRegistry
from flowc.compiler.ir import Workflow
from flowc.dsl.diagnostics import Diagnostic


def check_acyclic(wf: Workflow, registry: TaskRegistry | None = None) -> list[Diagnostic]:
    """One problem per cycle found (networkx ``find_cycle``, repeated until none is left).

    Lowered workflows list parents first, which proves acyclicity in one pass; only other
    orders (hand-written or deserialised IR) build the networkx graph.
    """
    if wf.parents_first():  # every edge points forward in node order: no cycle, no graph
        return []
    import networkx as nx  # here: ~90 ms to import, and lowered workflows never need it

    graph = wf.graph()
    if nx.is_directed_acyclic_graph(graph):
        return []
    problems: list[Diagnostic] = []
    while True:
        try:
            cycle = nx.find_cycle(graph)
        except nx.NetworkXNoCycle:
            return problems
        path = [u for u, _ in cycle] + [cycle[0][0]]
        first = wf.node(path[0])
        problems.append(
            finding(
                CYCLE,
                "cycle: " + " -> ".join(path),
                "a step cannot depend, even indirectly, on its own result",
                node=first.id,
                span=first.span,
            )
        )
        graph.remove_edges_from(cycle)

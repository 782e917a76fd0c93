"""Pass: the workflow is well formed (ids unique, every reference resolves, map fields coherent).

Later passes assume a well-formed workflow, so :func:`flowc.compiler.validate.validate` stops
after this pass when it finds anything.
"""

from __future__ import annotations

from collections.abc import Iterator

from flowc.compiler.diagnostics import MALFORMED, finding
from flowc.compiler.dispatch import TaskRegistry
from flowc.compiler.ir import Errback, Node, Workflow, shape_leaves
from flowc.dsl.diagnostics import Diagnostic


def check_structure(wf: Workflow, registry: TaskRegistry | None = None) -> list[Diagnostic]:
    """Duplicate ids, dangling references, and map/task field mix-ups."""
    problems: list[Diagnostic] = []
    errback_ids = {e.id for e in wf.errbacks}
    task_ids = {n.id for n in wf.nodes}
    if len(task_ids) + len(errback_ids) != len(wf.nodes) + len(wf.errbacks) \
            or not task_ids.isdisjoint(errback_ids):  # some id twice: find which
        node_ids: set[str] = set()
        calls: list[Node | Errback] = [*wf.nodes, *wf.errbacks]
        for n in calls:
            if n.id in node_ids:
                problems.append(finding(MALFORMED, f"duplicate id {n.id!r}", node=n.id,
                                        span=n.span))
            node_ids.add(n.id)
    for n in wf.nodes:
        # The common node in one test (no generator, no closure); anything else in detail.
        if (n.kind == "task" and n.collect is None and n.items is None and n.max_width is None
                and (n.prepend is None or n.prepend in task_ids) and not n.kwarg_inputs
                and (not n.after or all(a in task_ids for a in n.after))
                and (not n.link_error or all(e in errback_ids for e in n.link_error))):
            continue
        problems.extend(_check_node(n, task_ids, errback_ids))
    for eid in wf.on_error:
        if eid not in errback_ids:
            problems.append(finding(MALFORMED, f"on_error refers to unknown errback {eid!r}"))
    for leaf in [] if wf.result is None else shape_leaves(wf.result):
        if leaf not in task_ids:
            problems.append(finding(MALFORMED, f"result refers to unknown node {leaf!r}"))
    return problems


def _references(n: Node) -> Iterator[tuple[str, str]]:
    if n.prepend is not None:
        yield "prepend", n.prepend
    for leaf in [] if n.collect is None else shape_leaves(n.collect):
        yield "collect", leaf
    for name, source in sorted(n.kwarg_inputs.items()):
        yield f"kwarg {name!r}", source
    for source in n.after:
        yield "after", source


def _check_node(n: Node, task_ids: set[str], errback_ids: set[str]) -> list[Diagnostic]:
    found: list[Diagnostic] = []

    def report(message: str, hint: str | None = None) -> None:
        found.append(finding(MALFORMED, message, hint, node=n.id, span=n.span))

    for field, ref in _references(n):
        if ref not in task_ids:
            report(f"{field} refers to unknown node {ref!r}")
    for eid in n.link_error:
        if eid not in errback_ids:
            report(f"link_error refers to unknown errback {eid!r}")
    if n.prepend is not None and n.collect is not None:
        report("a node takes either prepend or collect, not both")
    if n.kind == "map":
        width = n.max_width
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            report(f"map max_width must be an int >= 1, got {width!r}")
        has_input = n.prepend is not None or n.collect is not None or n.items is not None
        if not has_input:
            hint = "give it items or a parent whose result is a list"
            report("map node has no list to map over", hint)
    elif n.items is not None or n.max_width is not None:
        report("items and max_width are for map nodes only")
    return found

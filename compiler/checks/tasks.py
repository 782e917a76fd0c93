"""Pass: every task a node or errback calls is registered."""

from __future__ import annotations

from flowc.compiler.diagnostics import UNKNOWN_TASK, finding
from flowc.compiler.dispatch import TaskRegistry
from flowc.compiler.ir import Errback, Node, Workflow
from flowc.dsl.diagnostics import Diagnostic, did_you_mean_hint


def check_tasks(wf: Workflow, registry: TaskRegistry | None = None) -> list[Diagnostic]:
    """Unknown task names, each with a "did you mean" hint when a registered name is close."""
    if registry is None:
        return []
    known = set(registry.names())
    problems: list[Diagnostic] = []
    calls: list[Node | Errback] = [*wf.nodes, *wf.errbacks]
    for n in calls:
        if n.task not in known:
            hint = did_you_mean_hint(n.task, sorted(known)) or "is the module defining it imported?"
            problems.append(
                finding(UNKNOWN_TASK, f"unknown task {n.task!r}", hint, node=n.id, span=n.span)
            )
    return problems

"""The validation passes, in the one order they run.

Each pass is a pure function ``(workflow, registry) -> list[Diagnostic]`` in a module of its own;
passes that need the task registry return nothing when it is ``None``. ``check_structure`` runs
first and alone: the others assume every reference resolves.
"""

from __future__ import annotations

from collections.abc import Callable

from flowc.compiler.checks.acyclic import check_acyclic
from flowc.compiler.checks.arguments import check_arguments
from flowc.compiler.checks.options import check_options
from flowc.compiler.checks.serialisable import check_serialisable
from flowc.compiler.checks.structure import check_structure
from flowc.compiler.checks.tasks import check_tasks
from flowc.compiler.dispatch import TaskRegistry
from flowc.compiler.ir import Workflow
from flowc.dsl.diagnostics import Diagnostic

Pass = Callable[[Workflow, TaskRegistry | None], list[Diagnostic]]

STRUCTURE: Pass = check_structure
"""Run first; when it reports anything, the remaining passes are skipped."""

PASSES: tuple[Pass, ...] = (
    check_acyclic,
    check_serialisable,
    check_tasks,
    check_arguments,
    check_options,
)
"""The remaining passes, in order; their problems are reported in this order."""

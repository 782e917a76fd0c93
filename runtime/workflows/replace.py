"""``Task.replace(sig)`` and ``Task.add_to_chord``, Celery's way, on flowc's workflow runs.

A task that calls ``self.replace(sig)`` ends at once (``Replaced``, an ``Ignore``: no result is
stored for it) and ``sig`` runs instead, frozen so that its *last* task has the replaced task's
id: whoever holds the replaced task's ``AsyncResult`` gets the replacement's result. A group is
given a final step that collects its list (Celery's ``celery.accumulate``), so that one id holds
the whole result.

When the replaced task is a workflow step, the replacement also finishes that step: its final
builtin step ``flowc.replaced`` completes the original node in the original run with the
replacement's result (``workflow.lua done``, idempotent), so the step's successors, callbacks
included, run as if the step had returned it; its errback ``flowc.replaced_failed`` fails the
node (its dependents are skipped, its errbacks fire) if the replacement fails.

``add_to_chord`` is refused with ``NotImplementedError``: a run's chord header is fixed when the
run is submitted (the join counts its members in one atomic step), so it cannot grow later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from flowc.runtime.exceptions import ImproperlyConfigured, Replaced

if TYPE_CHECKING:
    from flowc.runtime.app import App
    from flowc.runtime.task import Task

ACCUMULATE = "flowc.accumulate"
REPLACED = "flowc.replaced"
REPLACED_FAILED = "flowc.replaced_failed"
"""The builtin tasks a replacement uses (``runtime.builtins`` defines them)."""

ADD_TO_CHORD_REFUSED = (
    "add_to_chord is not supported: a flowc chord's header is fixed when the run is submitted "
    "(the join counts its members atomically); build the whole header before submitting, or "
    "use fanout(sig) to map over a list produced at run time"
)


def replace(task: Task, sig: Any) -> Any:
    """``self.replace(sig)``: run ``sig`` in place of the current task (see the module doc)."""
    from flowc.compiler.canvas.primitives import chain, chord, group  # Task stays compiler-free

    request = task.request
    if isinstance(sig, chain) and not sig.tasks:
        raise ImproperlyConfigured("Cannot replace with an empty chain")
    if request.is_eager or request.message is None:
        return sig.apply().get()  # Celery's on_replace when not in a worker
    app = task.app
    sig = sig.clone()
    marker = request.message.workflow
    if marker:
        index = marker.get("i")
        sig = sig | builtin(app, REPLACED).s(marker["id"], marker["node"], index)
        sig.link_error(builtin(app, REPLACED_FAILED).s(marker["id"], marker["node"], index,
                                                       request.id))
    elif isinstance(sig, group):
        sig = chord(sig, builtin(app, ACCUMULATE).s())
    sig.freeze(request.id)
    sig.apply_async()
    raise Replaced("Replaced by new task")


def add_to_chord(task: Task, sig: Any, lazy: bool = False) -> NoReturn:
    """Refused; see ``ADD_TO_CHORD_REFUSED``."""
    raise NotImplementedError(ADD_TO_CHORD_REFUSED)


def builtin(app: App, name: str) -> Task:
    """The app's builtin task ``name`` (``app.tasks.get`` creates it on first use)."""
    found = app.tasks.get(name)
    assert found is not None, name
    return found

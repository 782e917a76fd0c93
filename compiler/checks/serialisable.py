"""Pass: every argument, option and map item is JSON-serialisable (flowc's wire format)."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from flowc.compiler.diagnostics import NOT_SERIALISABLE, finding
from flowc.compiler.dispatch import TaskRegistry
from flowc.compiler.ir import Errback, Node, Workflow
from flowc.dsl.diagnostics import Diagnostic

_WIRE_TYPES = (datetime, date, time, Decimal, uuid.UUID, bytes)
"""Types the runtime's JSON carries beyond plain JSON (kombu's ``__type__`` markers)."""


def _wire_type(value: Any) -> Any:
    if isinstance(value, _WIRE_TYPES):
        return None
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def check_serialisable(wf: Workflow, registry: TaskRegistry | None = None) -> list[Diagnostic]:
    """Flags the first non-JSON value of each field of each node and errback."""
    problems: list[Diagnostic] = []
    # Only calls with something to send (a chain step without arguments has nothing).
    everything: tuple[Node | Errback, ...] = (*wf.nodes, *wf.errbacks)
    calls = [n for n in everything
             if n.args or n.kwargs or n.options or getattr(n, "items", None) is not None]
    try:  # the common case: the whole workflow at once (one encoder call, not one per node)
        json.dumps([(n.args, n.kwargs, n.options, getattr(n, "items", None)) for n in calls],
                   allow_nan=False, default=_wire_type)
    except (TypeError, ValueError):
        pass
    else:
        return problems
    for n in calls:
        try:  # the common case: everything at once
            json.dumps((n.args, n.kwargs, n.options, getattr(n, "items", None)),
                       allow_nan=False, default=_wire_type)
        except (TypeError, ValueError):
            pass
        else:
            continue
        fields: dict[str, Any] = {"args": n.args, "kwargs": n.kwargs, "options": n.options}
        if getattr(n, "items", None) is not None:
            fields["items"] = getattr(n, "items", None)
        for field, value in fields.items():
            try:
                json.dumps(value, allow_nan=False, default=_wire_type)
            except (TypeError, ValueError) as e:
                problems.append(
                    finding(
                        NOT_SERIALISABLE,
                        f"{n.task}: {field} cannot be sent as JSON ({e})",
                        "pass plain data (str, int, float, bool, None, list, dict)",
                        node=n.id,
                        span=n.span,
                    )
                )
    return problems

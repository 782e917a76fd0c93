"""Pass: execution options have known names and valid values.

Names are Celery's (the ``apply_async`` and task-option names flowc honours). Priorities are
0-9; the runtime documents which end is urgent. Durations are seconds.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any

from flowc.compiler.diagnostics import (
    BAD_DURATION,
    BAD_OPTION,
    BAD_PRIORITY,
    BAD_RATE_LIMIT,
    EXCLUSIVE_OPTIONS,
    UNKNOWN_OPTION,
    finding,
)
from flowc.compiler.dispatch import TaskRegistry
from flowc.compiler.ir import Errback, Node, SourceSpan, Workflow
from flowc.dsl.diagnostics import Diagnostic, did_you_mean_hint

PRIORITY_MIN = 0
PRIORITY_MAX = 9
RATE_LIMIT = re.compile(r"^\d+(\.\d+)?/(\d+)?[smh]$")
"""``10/s``, ``10/m``, ``100/h``, ``5/5m``: tasks per (optionally multiplied) unit."""

Check = Callable[[Any], str | None]


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _non_empty_str(v: Any) -> str | None:
    return None if isinstance(v, str) and v.strip() else "must be a non-empty string"


def _str(v: Any) -> str | None:
    return None if isinstance(v, str) else "must be a string"


def _bool(v: Any) -> str | None:
    return None if isinstance(v, bool) else "must be true or false"


def _at_least_zero(v: Any) -> str | None:
    return None if _number(v) and v >= 0 else "must be a number of seconds >= 0"


def _positive(v: Any) -> str | None:
    return None if _number(v) and v > 0 else "must be a number of seconds > 0"


def _priority(v: Any) -> str | None:
    ok = isinstance(v, int) and not isinstance(v, bool) and PRIORITY_MIN <= v <= PRIORITY_MAX
    return None if ok else f"must be an int from {PRIORITY_MIN} to {PRIORITY_MAX}"


def _count(v: Any) -> str | None:
    ok = v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0)
    return None if ok else "must be an int >= 0 (or None for no limit)"


def _datetime(v: Any) -> str | None:
    if isinstance(v, str):
        try:
            dt.datetime.fromisoformat(v)
        except ValueError:
            pass
        else:
            return None
    return "must be an ISO 8601 date-time, e.g. '2030-01-31T09:00:00+00:00'"


def _expires(v: Any) -> str | None:
    if _number(v):
        return _at_least_zero(v)
    return None if _datetime(v) is None else "must be seconds >= 0 or an ISO 8601 date-time"


def _backoff(v: Any) -> str | None:
    ok = isinstance(v, bool) or (_number(v) and v > 0)
    return None if ok else "must be true/false or seconds > 0"


def _rate_limit(v: Any) -> str | None:
    if v is None or (_number(v) and v > 0) or (isinstance(v, str) and RATE_LIMIT.match(v)):
        return None
    return "must look like '10/s', '10/m', '100/h' or '5/5m'"


def _headers(v: Any) -> str | None:
    return None if isinstance(v, Mapping) else "must be a mapping"


OPTIONS: dict[str, Check] = {
    "queue": _non_empty_str,
    "routing_key": _str,
    "exchange": _str,
    "priority": _priority,
    "countdown": _at_least_zero,
    "eta": _datetime,
    "expires": _expires,
    "max_retries": _count,
    "default_retry_delay": _at_least_zero,
    "retry_backoff": _backoff,
    "retry_backoff_max": _positive,
    "retry_jitter": _bool,
    "time_limit": _positive,
    "soft_time_limit": _positive,
    "rate_limit": _rate_limit,
    "acks_late": _bool,
    "ignore_result": _bool,
    "serializer": _non_empty_str,
    "headers": _headers,
    "task_id": _non_empty_str,
    "shadow": _non_empty_str,
    "group_id": _non_empty_str,
}
"""Every option flowc accepts, with its value check."""

CODES = {
    "priority": BAD_PRIORITY,
    "rate_limit": BAD_RATE_LIMIT,
    "countdown": BAD_DURATION,
    "default_retry_delay": BAD_DURATION,
    "retry_backoff_max": BAD_DURATION,
    "time_limit": BAD_DURATION,
    "soft_time_limit": BAD_DURATION,
}
"""Options whose bad values have a code more specific than ``BAD_OPTION``."""

NOT_FLOWC_NAMES = {
    "retries": "max_retries",
    "timeout": "time_limit",
    "soft_timeout": "soft_time_limit",
    "backoff": "retry_backoff",
    "jitter": "retry_jitter",
    "delay": "countdown",
}
"""Common names for an option that flowc spells the Celery way (hint only, never accepted)."""


def check_options(wf: Workflow, registry: TaskRegistry | None = None) -> list[Diagnostic]:
    problems: list[Diagnostic] = []
    calls: list[Node | Errback] = [*wf.nodes, *wf.errbacks]
    for n in calls:
        problems.extend(check_option_values(n.options, n.id, n.span))
    return problems


def check_option_values(
    options: Mapping[str, Any], node: str | None = None, span: SourceSpan | None = None
) -> list[Diagnostic]:
    """Problems with one set of options (also usable when ``@app.task`` runs)."""
    found: list[Diagnostic] = []
    for name, value in options.items():
        check = OPTIONS.get(name)
        if check is None:
            if name in NOT_FLOWC_NAMES:
                hint: str | None = f"flowc uses Celery's name: {NOT_FLOWC_NAMES[name]!r}"
            else:
                hint = did_you_mean_hint(name, OPTIONS)
            found.append(finding(UNKNOWN_OPTION, f"unknown option {name!r}", hint, node, span))
            continue
        error = check(value)
        if error is not None:
            message = f"option {name}={value!r} {error}"
            found.append(finding(CODES.get(name, BAD_OPTION), message, None, node, span))
    if options.get("eta") is not None and options.get("countdown") is not None:
        message = "eta and countdown are both set"
        found.append(
            finding(EXCLUSIVE_OPTIONS, message, "use either eta or countdown, not both", node, span)
        )
    soft, hard = options.get("soft_time_limit"), options.get("time_limit")
    if isinstance(soft, int | float) and isinstance(hard, int | float) and soft > hard:
        message = f"soft_time_limit={soft!r} is above time_limit={hard!r}"
        found.append(finding(BAD_OPTION, message, "the soft limit must come first", node, span))
    return found

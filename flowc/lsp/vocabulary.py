"""The words an editor offers: keywords (read from ``flow.lark``), options and their values."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from flowc.compiler.flow.options import FLOW_NAMES, SPECIAL

_KEYWORD_TERMINAL = re.compile(r'^_?[A-Z]+:\s*"([a-z]+)"\s*$', re.MULTILINE)

TOP_LEVEL_KEYWORDS = ("use", "defaults", "flow", "schedule")

OPTION_DOCS: dict[str, str] = {
    "queue": "route the step to a queue",
    "priority": "message priority, 0-9",
    "countdown": "delay before the step may run (exclusive with eta)",
    "eta": "ISO 8601 time before which the step does not run (exclusive with countdown)",
    "expires": "drop the step if it has not started in time",
    "retries": "maximum number of retries (none: no limit)",
    "retry_delay": "delay between retries when no backoff is set",
    "backoff": "retry delays: exponential(base, max=cap) or fixed(delay)",
    "jitter": "randomise retry delays",
    "timeout": "hard time limit",
    "soft_timeout": "soft time limit (raises inside the task first)",
    "rate_limit": "tasks per unit: \"10/s\", \"10/m\" or \"100/h\"",
    "on_error": "a per-step error handler: on_error = handler(args)",
}
"""One line per documented ``.flow`` option (docs/language.md, "Step options")."""

_DURATIONS = ("30s", "5m", "1h")
OPTION_VALUES: dict[str, tuple[str, ...]] = {
    "priority": tuple(str(n) for n in range(10)),
    "countdown": _DURATIONS,
    "expires": _DURATIONS,
    "retries": ("3", "none"),
    "retry_delay": _DURATIONS,
    "backoff": ("exponential(1s, max=60s)", "fixed(10s)"),
    "jitter": ("true", "false"),
    "timeout": _DURATIONS,
    "soft_timeout": _DURATIONS,
    "rate_limit": ('"10/s"', '"10/m"', '"100/h"'),
    "eta": ('"2030-01-01T00:00:00Z"',),
}
"""Typical values offered after ``option =`` (queues and handlers come from the file)."""


def option_names() -> list[str]:
    """The documented ``.flow`` option names (Celery's names are accepted but not offered)."""
    return sorted({*FLOW_NAMES, *SPECIAL})


@lru_cache(maxsize=1)
def keywords() -> tuple[str, ...]:
    """Every keyword of the grammar, in the order ``flow.lark`` declares them."""
    grammar = resources.files("flowc.dsl").joinpath("flow.lark").read_text(encoding="utf-8")
    return tuple(_KEYWORD_TERMINAL.findall(grammar))

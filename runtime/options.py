"""Validation of task and call options, run when ``@app.task`` or ``apply_async`` is called.

Bad values fail at call time with a message that says what is accepted, never deep in a worker.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flowc.runtime.compat import IGNORED_CALL_OPTIONS, IGNORED_TASK_OPTIONS, warn_ignored
from flowc.runtime.exceptions import InvalidTaskOptions

TASK_OPTIONS = frozenset({
    "name", "bind", "queue", "priority", "acks_late", "ignore_result", "rate_limit",
    "autoretry_for", "retry_kwargs", "retry_backoff", "retry_backoff_max", "retry_jitter",
    "default_retry_delay", "max_retries", "time_limit", "soft_time_limit", "serializer",
    "track_started", "expires", "reject_on_worker_lost", "store_errors_even_if_ignored",
    "throws", "typing", "base", "shared", "rate_limit_key", "max_deliveries", "store_eager_result",
})
"""Every keyword ``@app.task(...)`` accepts."""

CALL_OPTIONS = frozenset({
    "countdown", "eta", "expires", "queue", "priority", "task_id", "serializer", "link",
    "link_error", "ignore_result", "retries", "routing_key", "exchange", "headers",
    "time_limit", "soft_time_limit", "idempotency_key", "shadow", "parent_id", "root_id",
    "group_id", "add_to_parent", "acks_late",
})
"""Every keyword ``apply_async(...)`` accepts besides ``args`` and ``kwargs``."""

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d*)\s*(s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``count`` task starts per ``period_s`` seconds, cluster-wide."""

    count: float
    period_s: float

    @property
    def interval_s(self) -> float:
        """Seconds between starts at the steady rate (GCRA's emission interval)."""
        return self.period_s / self.count


def parse_rate_limit(value: str | float | int | None) -> RateLimit | None:
    """Parse Celery's rate strings ('10/m', '5/s', '100/h', '3/5m') or a number per second."""
    if value is None or value == 0 or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise InvalidTaskOptions(f"rate_limit must be positive, got {value!r}")
        return RateLimit(float(value), 1.0)
    if isinstance(value, str):
        m = _RATE.match(value)
        if m:
            count, mult, unit = float(m[1]), m[2], m[3] or "s"
            period = (float(mult) if mult else 1.0) * _UNIT_SECONDS[unit]
            if count > 0 and period > 0:
                return RateLimit(count, period)
    raise InvalidTaskOptions(
        f"invalid rate_limit {value!r}",
        hint="write tasks per period: '10/s', '10/m', '100/h', or '5/10m' (5 per 10 minutes)",
    )


def check_priority(value: Any) -> int | None:
    """Priorities are integers 0..9, 9 the most urgent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 9:
        raise InvalidTaskOptions(
            f"priority must be an integer from 0 to 9, got {value!r}",
            hint="9 is the most urgent, 0 the least (the default)",
        )
    return value


def internal_priority(value: int | None, app: Any) -> int:
    """A priority as the user wrote it, in flowc's internal order (9 first): flipped when
    ``flowc_most_urgent_priority`` is 0 (Celery on Redis, where no priority means 0)."""
    if app.conf.flowc_most_urgent_priority == 0:
        return 9 - (value or 0)
    return 0 if value is None else value


def check_queue(value: Any) -> str | None:
    """A queue is a non-empty name without braces (braces would break the hash tag)."""
    if value is None:
        return None
    if not isinstance(value, str) or not value or any(c in value for c in "{}"):
        raise InvalidTaskOptions(f"queue must be a non-empty name without braces, got {value!r}")
    return value


def check_positive_seconds(name: str, value: Any) -> float | None:
    """Time limits and delays are positive numbers of seconds (or a timedelta)."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InvalidTaskOptions(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def resolve_eta(
    countdown: Any, eta: Any, now: float
) -> float | None:
    """Turn ``countdown`` or ``eta`` into a due time in unix seconds (None = run now)."""
    if countdown is not None and eta is not None:
        raise InvalidTaskOptions("use either eta or countdown, not both")
    if countdown is not None:
        if isinstance(countdown, timedelta):
            countdown = countdown.total_seconds()
        if isinstance(countdown, bool) or not isinstance(countdown, int | float):
            raise InvalidTaskOptions(f"countdown must be a number of seconds, got {countdown!r}")
        if countdown < 0:
            raise InvalidTaskOptions(f"countdown must not be negative, got {countdown!r}")
        return now + float(countdown) if countdown > 0 else None
    if eta is not None:
        return _timestamp("eta", eta)
    return None


def resolve_expires(expires: Any, now: float) -> float | None:
    """Turn ``expires`` (seconds from now, timedelta, or datetime) into unix seconds."""
    if expires is None:
        return None
    if isinstance(expires, timedelta):
        expires = expires.total_seconds()
    if isinstance(expires, int | float) and not isinstance(expires, bool):
        if expires <= 0:
            raise InvalidTaskOptions(f"expires must be positive, got {expires!r}")
        return now + float(expires)
    return _timestamp("expires", expires)


def _timestamp(name: str, value: Any) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    if isinstance(value, str):
        try:
            return _timestamp(name, datetime.fromisoformat(value))
        except ValueError:
            pass
    raise InvalidTaskOptions(
        f"{name} must be a datetime (timezone-aware preferred) or ISO string, got {value!r}",
        hint="naive datetimes are taken as UTC",
    )


def _reject_unknown(options: Mapping[str, Any], known: frozenset[str], what: str,
                    ignored: frozenset[str] = frozenset()) -> None:
    """Fail on the first name not in ``known``, suggesting the closest one; names in
    ``ignored`` (Celery's, without effect here) pass with a once-per-process warning."""
    for key in options:
        if key not in known:
            if key in ignored:
                warn_ignored(key, what, stacklevel=5)
                continue
            from flowc.dsl.diagnostics import did_you_mean_hint  # error path only: it loads the AST
            raise InvalidTaskOptions(f"unknown {what} {key!r}",
                                     hint=did_you_mean_hint(key, known | ignored))


def check_task_options(options: Mapping[str, Any]) -> None:
    """Validate ``@app.task(...)`` keywords: unknown names and bad values fail here."""
    _reject_unknown(options, TASK_OPTIONS, "task option", IGNORED_TASK_OPTIONS)
    check_priority(options.get("priority"))
    check_queue(options.get("queue"))
    parse_rate_limit(options.get("rate_limit"))
    for key in ("time_limit", "soft_time_limit"):
        check_positive_seconds(key, options.get(key))
    max_retries = options.get("max_retries")
    if max_retries is not None and (not isinstance(max_retries, int) or max_retries < 0):
        raise InvalidTaskOptions(
            f"max_retries must be an integer >= 0 or None, got {max_retries!r}")
    auto = options.get("autoretry_for")
    if auto is not None:
        items = auto if isinstance(auto, tuple | list) else (auto,)
        for exc in items:
            if not (isinstance(exc, type) and issubclass(exc, BaseException)):
                raise InvalidTaskOptions(f"autoretry_for must hold exception classes, got {exc!r}")
    rk = options.get("retry_kwargs")
    if rk is not None and not isinstance(rk, Mapping):
        raise InvalidTaskOptions("retry_kwargs must be a dict such as {'max_retries': 3}")
    backoff = options.get("retry_backoff")
    if backoff is not None and not isinstance(backoff, bool | int | float):
        raise InvalidTaskOptions("retry_backoff must be True/False or a number of seconds")


def check_call_options(options: Mapping[str, Any]) -> None:
    """Validate ``apply_async`` keywords that are not checked elsewhere."""
    _reject_unknown(options, CALL_OPTIONS, "apply_async option", IGNORED_CALL_OPTIONS)
    check_priority(options.get("priority"))
    check_queue(options.get("queue"))
    for name in ("time_limit", "soft_time_limit"):
        check_positive_seconds(name, options.get(name))
    idem = options.get("idempotency_key")
    if idem is not None and (not isinstance(idem, str) or not idem):
        raise InvalidTaskOptions(f"idempotency_key must be a non-empty string, got {idem!r}",
                                 hint="derive it from what makes the call unique, e.g. "
                                 "f'charge:{order_id}'")

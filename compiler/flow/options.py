"""Step options in ``.flow`` files: their names, translation to the IR's Celery names, checks.

The language uses short names (``retries``, ``timeout``, ``backoff = exponential(1s, max=60s)``,
``jitter``); the IR uses Celery's (``max_retries``, ``time_limit``, ``retry_backoff`` and
``retry_backoff_max``, ``retry_jitter``). Celery's names are accepted in ``.flow`` files too.
Values are checked here, where each option's span is known, with the IR's own value checks
(:data:`flowc.compiler.checks.options.OPTIONS`), so a ``.flow`` file and a Python canvas obey the
same rules. ``on_error`` is not an option in the IR: it becomes an errback (returned apart).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flowc.compiler.checks.options import CODES, OPTIONS
from flowc.compiler.flow.values import NotAValue, evaluate, seconds
from flowc.dsl import ast
from flowc.dsl.diagnostics import Diagnostic, did_you_mean_hint

FLOW_NAMES: dict[str, str] = {
    "queue": "queue",
    "priority": "priority",
    "countdown": "countdown",
    "eta": "eta",
    "expires": "expires",
    "retries": "max_retries",
    "retry_delay": "default_retry_delay",
    "jitter": "retry_jitter",
    "timeout": "time_limit",
    "soft_timeout": "soft_time_limit",
    "rate_limit": "rate_limit",
}
"""``.flow`` option name -> IR (Celery) name; ``backoff`` and ``on_error`` are handled apart."""

SPECIAL = ("backoff", "on_error")
BACKOFF_FUNCTIONS = ("exponential", "fixed")
ERRBACK = "on_error"


@dataclass
class Options:
    """One ``with`` list (or ``defaults`` block) translated: IR options, handlers, diagnostics."""

    values: dict[str, Any] = field(default_factory=dict)
    spans: dict[str, ast.Span] = field(default_factory=dict)
    on_error: ast.Func | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)


NO_OPTIONS = Options()
"""What ``translate`` returns for a step without options (shared; never changed)."""


def known_names() -> list[str]:
    """Every option name a ``.flow`` file may use."""
    return sorted({*FLOW_NAMES, *SPECIAL, *OPTIONS})


def translate(options: tuple[ast.Option, ...], values: Mapping[str, Any]) -> Options:
    """Translate and check ``options``; ``values`` are the parameters and loop variables."""
    if not options:  # most steps have none
        return NO_OPTIONS
    out = Options()
    for opt in options:
        if opt.key == ERRBACK:
            _errback(opt, out)
        elif opt.key == "backoff":
            _backoff(opt, values, out)
        elif opt.key in FLOW_NAMES or opt.key in OPTIONS:
            _plain(opt, FLOW_NAMES.get(opt.key, opt.key), values, out)
        else:
            hint = did_you_mean_hint(opt.key, known_names()) or (
                "known options: " + ", ".join(sorted({*FLOW_NAMES, *SPECIAL}))
            )
            out.diagnostics.append(
                Diagnostic("F401", f"unknown option '{opt.key}'", _key_span(opt), hint)
            )
    _exclusions(out)
    return out


def _key_span(opt: ast.Option) -> ast.Span:
    s = opt.span
    return ast.Span(s.line, s.col, s.line, s.col + len(opt.key)) if s.known else s


def _value(opt: ast.Option, values: Mapping[str, Any], out: Options) -> tuple[bool, Any]:
    try:
        return True, evaluate(opt.value, values)
    except NotAValue as e:
        out.diagnostics.append(Diagnostic(
            "F402", f"option '{opt.key}' needs a value known when the flow is compiled: {e.why}",
            e.node.span, "option values are literals or flow parameters",
        ))
        return False, None


def _plain(opt: ast.Option, name: str, values: Mapping[str, Any], out: Options) -> None:
    ok, value = _value(opt, values, out)
    if not ok:
        return
    _set(opt, name, value, out)


def _set(opt: ast.Option, name: str, value: Any, out: Options) -> None:
    error = OPTIONS[name](value)
    if error is not None:
        code = CODES.get(name, "F402")
        if name == "priority":
            code = "F407"
        elif name in ("expires", "countdown") and isinstance(value, int | float) and value < 0:
            code = "F409"
        out.diagnostics.append(Diagnostic(
            code, f"option '{opt.key}' = {_shown(opt.value)} {error}", opt.value.span,
            _hint_for(name),
        ))
        return
    out.values[name] = value
    out.spans[name] = opt.span


def _hint_for(name: str) -> str | None:
    return {
        "rate_limit": "write tasks per unit: \"10/s\", \"10/m\" or \"100/h\"",
        "eta": "or use countdown = 10s for a delay",
        "max_retries": "retries = 3 (or none for no limit)",
    }.get(name)


def _shown(expr: ast.Expr) -> str:
    from flowc.dsl.formatter import format_expr

    return format_expr(expr)


def _errback(opt: ast.Option, out: Options) -> None:
    if isinstance(opt.value, ast.Func):
        out.on_error = opt.value
        return
    if isinstance(opt.value, ast.Ref):
        out.on_error = ast.Func(opt.value.name, span=opt.value.span)
        return
    out.diagnostics.append(Diagnostic(
        "F402", "option 'on_error' needs a task call", opt.value.span,
        "write on_error = report_failure(...)",
    ))


def _backoff(opt: ast.Option, values: Mapping[str, Any], out: Options) -> None:
    v = opt.value
    if not isinstance(v, ast.Func):
        ok, value = _value(opt, values, out)
        if ok:
            _set(opt, "retry_backoff", value, out)
        return
    if v.name not in BACKOFF_FUNCTIONS:
        hint = did_you_mean_hint(v.name, BACKOFF_FUNCTIONS) or (
            "use exponential(base, max=cap) or fixed(delay)"
        )
        span = ast.Span(v.span.line, v.span.col, v.span.line, v.span.col + len(v.name))
        out.diagnostics.append(Diagnostic("F408", f"unknown backoff function '{v.name}'", span,
                                          hint))
        return
    args = _func_args(v, values, out)
    if args is None:
        return
    if v.name == "fixed":
        if len(args) != 1 or "max" in args:
            _bad_func(v, "fixed(delay) takes one duration", out)
            return
        _set(opt, "retry_backoff", False, out)
        _set(opt, "default_retry_delay", args[0], out)
        return
    unknown = [k for k in args if k not in (0, "max")]
    if unknown:
        _bad_func(v, "exponential(base, max=cap) takes a base and an optional cap", out)
        return
    _set(opt, "retry_backoff", args.get(0, True), out)
    if "max" in args:
        _set(opt, "retry_backoff_max", args["max"], out)


def _func_args(f: ast.Func, values: Mapping[str, Any], out: Options) -> dict[Any, Any] | None:
    got: dict[Any, Any] = {}
    try:
        for i, a in enumerate(f.args):
            got[i] = seconds(a) if isinstance(a, ast.Duration) else evaluate(a, values)
        for kw in f.kwargs:
            got[kw.name] = evaluate(kw.value, values)
    except NotAValue as e:
        out.diagnostics.append(Diagnostic("F402", f"invalid backoff: {e.why}", e.node.span))
        return None
    return got


def _bad_func(f: ast.Func, why: str, out: Options) -> None:
    out.diagnostics.append(Diagnostic("F402", f"invalid backoff: {why}", f.span))


def _exclusions(out: Options) -> None:
    v = out.values
    if v.get("eta") is not None and v.get("countdown") is not None:
        later = max(out.spans["eta"], out.spans["countdown"])
        out.diagnostics.append(Diagnostic(
            "F403", "eta and countdown are both set", later,
            "use either eta or countdown, not both",
        ))
    soft, hard = v.get("soft_time_limit"), v.get("time_limit")
    if isinstance(soft, int | float) and isinstance(hard, int | float) and soft > hard:
        out.diagnostics.append(Diagnostic(
            "F402", f"soft_timeout ({soft}s) is longer than timeout ({hard}s)",
            out.spans["soft_time_limit"], "the soft limit must come first",
        ))


_WRITTEN_AS = {ir: flow for flow, ir in FLOW_NAMES.items()}
_DURATIONS = frozenset(("countdown", "expires", "time_limit", "soft_time_limit",
                        "default_retry_delay", "retry_backoff_max"))


def flow_words(options: Mapping[str, Any]) -> list[str]:
    """IR (Celery) options as a ``.flow`` file writes them, for pictures: ``retries 1``,
    ``backoff exponential(1s, max=1m)``, ``timeout 30s``, in the options' order."""
    from flowc.dsl.literals import format_duration

    def shown(name: str, value: Any) -> str:
        if name in _DURATIONS and isinstance(value, int | float) and not isinstance(value, bool):
            return format_duration(value)
        if value is None:
            return "none"
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    words: list[str] = []
    backoff = options.get("retry_backoff")
    for name, value in options.items():
        if name == "retry_backoff":
            if value is False and "default_retry_delay" in options:
                words.append(f"backoff fixed({shown('countdown', options['default_retry_delay'])})")
                continue
            base = "" if value is True else shown("countdown", value)
            cap = options.get("retry_backoff_max")
            cap_text = f"max={shown('countdown', cap)}" if cap is not None else ""
            words.append(f"backoff exponential({', '.join(t for t in (base, cap_text) if t)})")
        elif name == "retry_backoff_max" or (name == "default_retry_delay" and backoff is False):
            continue
        else:
            words.append(f"{_WRITTEN_AS.get(name, name)} {shown(name, value)}")
    return words

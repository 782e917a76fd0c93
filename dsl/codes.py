"""The registry of diagnostic codes: one line each, so docs and tools can list them.

F1xx syntax (parser, YAML loader), F2xx names/resolution, F3xx types/arity,
F4xx options/durations/cron. The parser emits F1xx; the compiler emits the rest.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """A diagnostic code and a one-line description of what it reports."""

    code: str
    summary: str


_CODES: tuple[tuple[str, str], ...] = (
    # F1xx: syntax
    ("F101", "unexpected token: the parser expected something else here"),
    ("F102", "unexpected character that cannot start any token"),
    ("F103", "unterminated string literal"),
    ("F104", "invalid escape sequence in a string"),
    ("F105", "invalid duration literal (units: ms, s, m, h, d)"),
    ("F106", "unclosed bracket: '(', '[' or '{' never closed"),
    ("F107", "unexpected end of file"),
    ("F108", "two steps on one line without '->' between them"),
    ("F109", "positional argument after a keyword argument"),
    ("F110", "the same keyword argument given twice"),
    ("F111", "the same option given twice"),
    ("F112", "the same parameter declared twice"),
    ("F113", "more than one 'on error' handler in a flow"),
    ("F114", "more than one 'defaults' block"),
    ("F115", "invalid range(): it takes 1 to 3 positional arguments"),
    ("F116", "invalid map width: 'max' needs a positive integer"),
    ("F117", "YAML syntax error"),
    ("F118", "YAML document has the wrong shape for a flowc file"),
    ("F119", "unknown key in a YAML mapping"),
    ("F120", "the file is nested too deeply or too large to load"),
    # F2xx: names and resolution
    ("F201", "unknown task"),
    ("F202", "unknown name: not a parameter, loop variable or named result"),
    ("F203", "duplicate flow or schedule name"),
    ("F204", "a result name is assigned twice"),
    ("F205", "a named result is used before it is assigned"),
    ("F206", "flows call each other recursively"),
    ("F207", "a task module listed in 'use' cannot be imported"),
    ("F208", "a named result is never used"),
    ("F209", "a dataflow cycle"),
    ("F210", "the compiled IR is malformed (duplicate id, dangling reference, map without list)"),
    ("F211", "a run-time result used where a compile-time value is needed, or cannot bind there"),
    ("F212", "an error handler must be one task call"),
    ("F213", "a statement's result is unused and the next step could take it: a missing '->'?"),
    # F3xx: types and arity
    ("F301", "too many positional arguments for the task"),
    ("F302", "a required argument is missing"),
    ("F303", "unknown keyword argument"),
    ("F304", "an argument is given both positionally and by keyword"),
    ("F305", "value does not match the parameter's type"),
    ("F306", "unknown parameter type"),
    ("F307", "'_' used where no previous result exists, or more than once"),
    ("F308", "a map needs a previous stage that produces a list"),
    ("F310", "an argument, option or map item cannot be sent as JSON"),
    # F4xx: options, durations, cron
    ("F401", "unknown option"),
    ("F402", "invalid option value"),
    ("F403", "options that exclude each other (e.g. eta and countdown)"),
    ("F404", "invalid cron expression"),
    ("F405", "unknown time zone"),
    ("F406", "invalid rate limit (use N/s, N/m or N/h)"),
    ("F407", "priority out of range 0-9"),
    ("F408", "unknown backoff function"),
    ("F409", "duration out of range (negative or zero where positive is needed)"),
)

CODES: dict[str, CodeInfo] = {c: CodeInfo(c, s) for c, s in _CODES}


def describe(code: str) -> str:
    """The one-line description of ``code``; raises KeyError for an unregistered code."""
    return CODES[code].summary

"""The cron grammar of flowc: the five crontab fields as sets of integers, with Celery's semantics.

One grammar for the whole product: ``flowc check`` validates a ``.flow`` file's ``cron "..."``
schedules with it (the compiler), and beat builds its ``crontab`` from it (the runtime), so a file
that checks clean is a file beat accepts. It lives in the bottom layer because both need it and
the compiler cannot import the runtime; like every ``flowc.dsl`` base module it imports only the
standard library.

Grammar of a string field (Celery's ``crontab_parser``, plus ``a/n``)::

    field  := part ("," part)*
    part   := ("*" | value | value "-" value | value) ("/" step)?
    value  := digits | name            (names: day_of_week sun..sat, month_of_year jan..dec)

- ``*/15`` every 15th value from the field's minimum; ``1-10/3`` every 3rd value of the range;
  ``5/15`` (an extension) means ``5-<max>/15``.
- A range whose end is below its start wraps around, like Celery: ``minute='50-10'`` is 50..59 and
  0..10, ``day_of_week='fri-mon'`` is Friday to Monday.
- ``day_of_week``: 0 = Sunday ... 6 = Saturday, and 7 is accepted as Sunday too (Unix cron's
  convention; Celery rejects 7). Names are 3-letter abbreviations or full names, any case.
- ``day_of_month`` 1-31, ``month_of_year`` 1-12 (or ``jan``..``dec``), ``hour`` 0-23,
  ``minute`` 0-59. No ``L``, ``W``, ``#`` or ``?`` (croniter's and Quartz's extensions).

A cron string is the five fields in Unix order (minute hour day-of-month month day-of-week) or
one of the macros ``@yearly``, ``@monthly``, ``@weekly``, ``@daily``, ``@hourly``...
Non-string values: an int, or an iterable (set, list, range...) of ints or strings, unioned.
Every problem in every field is collected, each naming the field and the value
(``minute 61 is out of range 0-59``), so one error lists them all.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "DAY_OF_MONTH", "DAY_OF_WEEK", "FIELDS", "HOUR", "MACROS", "MINUTE", "MONTH_OF_YEAR",
    "STRING_ORDER", "Cronspec", "FieldSpec", "days_occur", "expression_problems",
    "parse_field", "split_expression",
]  # fmt: skip

Cronspec = int | str | Iterable[int | str]

_DAY_NAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_MONTH_NAMES = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_PART = re.compile(r"^(?P<base>\*|\w+(?:-\w+)?)(?:/(?P<step>.*))?$")
SUNDAY_ALIAS = 7


def _names(full_names: tuple[str, ...], first: int) -> dict[str, int]:
    table: dict[str, int] = {}
    for i, name in enumerate(full_names, start=first):
        table[name] = i
        table[name[:3]] = i
    return table


@dataclass(frozen=True)
class FieldSpec:
    """One crontab field: its Celery name, valid range, accepted names and an example."""

    name: str
    lo: int
    hi: int
    example: str
    names: Mapping[str, int] = field(default_factory=dict)
    #: The largest value accepted in input; day_of_week accepts 7 and folds it onto 0 (Sunday).
    input_hi: int | None = None

    @property
    def max_input(self) -> int:
        return self.hi if self.input_hi is None else self.input_hi

    def values(self) -> range:
        return range(self.lo, self.hi + 1)

    def normalise(self, value: int) -> int:
        return 0 if self.input_hi is not None and value == self.input_hi else value


MINUTE = FieldSpec("minute", 0, 59, "'*/15' or '0,30'")
HOUR = FieldSpec("hour", 0, 23, "'*/3' or '0,8-17/2'")
DAY_OF_MONTH = FieldSpec("day_of_month", 1, 31, "'1,15' or '1-7'")
MONTH_OF_YEAR = FieldSpec("month_of_year", 1, 12, "'*/3' or 'jan-jun'", _names(_MONTH_NAMES, 1))
DAY_OF_WEEK = FieldSpec(
    "day_of_week", 0, 6, "'mon-fri' or '0,6' (0 and 7 are Sunday)", _names(_DAY_NAMES, 0),
    input_hi=SUNDAY_ALIAS,
)  # fmt: skip
#: Positional order of ``crontab(...)`` (Celery's), not the order of a cron string.
FIELDS = (MINUTE, HOUR, DAY_OF_WEEK, DAY_OF_MONTH, MONTH_OF_YEAR)
#: The order of the fields in a cron string (Unix's).
STRING_ORDER = (MINUTE, HOUR, DAY_OF_MONTH, MONTH_OF_YEAR, DAY_OF_WEEK)
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
"""The ``@name`` shorthands a cron string may be, and the five fields each stands for."""
_DAYS_IN_MONTH_LEAP = {m: calendar.monthrange(2000, m)[1] for m in range(1, 13)}


class FieldError(Exception):
    """Internal: one problem in one field; collected and raised together as a ScheduleError."""


def parse_field(spec: FieldSpec, value: Cronspec | None) -> tuple[frozenset[int], list[str]]:
    """Expand one field to its set of values; return ``(values, problems)``."""
    problems: list[str] = []
    result: set[int] = set()
    items: Iterable[int | str]
    if value is None:
        items = ["*"]
    elif isinstance(value, (int, str)):
        items = [value]
    elif isinstance(value, Iterable):
        items = list(value)
        if not items:
            problems.append(f"{spec.name} is empty, so the schedule would never fire")
    else:
        problems.append(
            f"{spec.name} must be an int, a string or an iterable of them, "
            f"got {type(value).__name__}"
        )
        items = []
    for item in items:
        try:
            result |= _parse_item(spec, item)
        except FieldError as e:
            problems.append(f"{spec.name} {e}")
    return frozenset(result), problems


def _parse_item(spec: FieldSpec, item: int | str) -> set[int]:
    if isinstance(item, bool) or not isinstance(item, (int, str)):
        raise FieldError(f"{item!r} is not an int or a string")
    if isinstance(item, int):
        return {spec.normalise(_check_range(spec, item))}
    text = item.strip()
    if not text:
        raise FieldError("is an empty string")
    result: set[int] = set()
    for part in text.split(","):
        result |= _parse_part(spec, part.strip())
    return result


def _parse_part(spec: FieldSpec, part: str) -> set[int]:
    m = _PART.match(part)
    if m is None:
        raise FieldError(f"{part!r} is not a value, a range or a step (e.g. 5, 1-5, */15)")
    base, step_text = m.group("base"), m.group("step")
    if base == "*":
        values = list(spec.values())
    elif "-" in base:
        start_text, end_text = base.split("-")
        values = _expand_range(spec, _value(spec, start_text), _value(spec, end_text))
    elif step_text is not None:  # 'a/n' means 'a-<max>/n'
        values = _expand_range(spec, _value(spec, base), spec.hi)
    else:
        values = [_value(spec, base)]
    if step_text is not None:
        values = values[:: _step(step_text)]
    return {spec.normalise(v) for v in values}


def _expand_range(spec: FieldSpec, start: int, end: int) -> list[int]:
    if spec.input_hi is not None and start == spec.input_hi:
        start = spec.normalise(start)
    if end >= start:
        return list(range(start, end + 1))
    return list(range(start, spec.hi + 1)) + list(range(spec.lo, end + 1))  # wraps, like Celery


def _value(spec: FieldSpec, text: str) -> int:
    if text.isascii() and text.isdigit():
        return _check_range(spec, int(text))
    number = spec.names.get(text.lower())
    if number is None:
        if spec.names:
            known = ", ".join(k for k in spec.names if len(k) == 3)
            raise FieldError(f"{text!r} is not a number or a name ({known})")
        raise FieldError(f"{text!r} is not a number")
    return number


def _check_range(spec: FieldSpec, value: int) -> int:
    if not spec.lo <= value <= spec.max_input:
        raise FieldError(f"{value} is out of range {spec.lo}-{spec.max_input}")
    return value


def _step(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) == 0:
        raise FieldError(f"step {text!r} is not a whole number >= 1")
    return int(text)


def split_expression(expression: str) -> tuple[list[str], str | None]:
    """The five fields of a cron string (macros expanded), or ``([], why)`` when it has not five."""
    text = MACROS.get(expression.strip().lower(), expression)
    fields = text.split()
    if len(fields) == len(STRING_ORDER):
        return fields, None
    extra = " (flowc has no seconds or year field)" if len(fields) > len(STRING_ORDER) else ""
    return [], f"expected 5 fields, found {len(fields)}{extra}"


def days_occur(day_of_month: Iterable[int], month_of_year: Iterable[int]) -> bool:
    """Whether some day of ``day_of_month`` exists in some month of ``month_of_year``.

    ``0 0 30 2 *`` never fires. With Celery's AND of the three day fields, this is the only way
    a valid set of fields never fires: every real (month, day) falls on each weekday in 400 years.
    """
    months = list(month_of_year)
    return any(d <= _DAYS_IN_MONTH_LEAP[m] for m in months for d in day_of_month)


def expression_problems(expression: str) -> list[str]:
    """Every problem of a cron string, one sentence each; empty when beat would accept it."""
    fields, wrong_count = split_expression(expression)
    if wrong_count:
        return [wrong_count]
    problems: list[str] = []
    parsed: dict[str, frozenset[int]] = {}
    for spec, text in zip(STRING_ORDER, fields, strict=True):
        parsed[spec.name], errors = parse_field(spec, text)
        problems += errors
    if not problems and not days_occur(parsed[DAY_OF_MONTH.name], parsed[MONTH_OF_YEAR.name]):
        problems.append(f"day_of_month {fields[2]!r} never occurs in month_of_year {fields[3]!r}")
    return problems

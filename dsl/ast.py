"""The flowc AST: frozen, slotted dataclasses produced by the .flow parser and the YAML loader.

Every node carries ``span`` (1-based ``Span(line, col, end_line, end_col)``, ``end_col``
exclusive). Spans are excluded from ``==`` so two trees that differ only in positions compare
equal (the .flow and YAML front ends produce ``==`` trees for the same workflow).

Overview (``Stage`` = ``Call | Chain | Group | Comprehension | Map | Ref``;
``Expr`` = ``Literal | Duration | Ref | Placeholder | ListExpr | DictExpr | Func``)::

    Module(uses: tuple[Use], defaults: Defaults | None, flows: tuple[Flow],
           schedules: tuple[Schedule], comments: tuple[Comment])
    Use(module: str)                      Defaults(options: tuple[Option])
    Flow(name, params: tuple[Param], body: tuple[Assign | Stage], on_error: Stage | None,
         name_span)
    Param(name, type: str | None, default: Expr | None)     # type as written: "list[int]"
    Assign(name, value: Stage)            # `rows = extract_record(path)`
    Call(name, args: tuple[Expr], kwargs: tuple[Keyword], options: tuple[Option],
         immutable: bool, name_span)      # a task or a sub-flow; `!` sets immutable
    Keyword(name, value: Expr)            Option(key, value: Expr)
    Chain(steps: tuple[Stage, ...])       # >= 2 stages, `a() -> b()`
    Group(items: tuple[Stage, ...])       # `[a(), b()]`; Group/Comprehension then a stage
                                          # inside a Chain is a chord
    Comprehension(item: Stage, var: str, iterable: Expr | Range)
    Range(start: Expr, stop: Expr, step: Expr)               # `range(3)` = Range(0, 3, 1)
    Map(call: Call, max_width: int | None)                    # `map f() max 100`
    Schedule(name, kind: "cron" | "every", expr: str | Duration, tz: str | None,
             target: Stage)
    Literal(value: str | int | float | bool | None)          # `.kind` = "str", "int", ...
    Duration(seconds: float, text)        Ref(name)          Placeholder()   # `_`
    ListExpr(items: tuple[Expr])          DictExpr(items: tuple[tuple[str, Expr]])
    Func(name, args: tuple[Expr], kwargs: tuple[Keyword])    # option values: exponential(1s)
    Comment(text)                         # `# ...` kept for the formatter

Binding rules the compiler implements: in a Chain the previous result is prepended as the first
positional argument, unless the call is ``immutable`` or uses ``Placeholder`` (``_``) somewhere
in its arguments, in which case the result goes there instead; after a Group or Comprehension
the next stage receives the list of results in order; a Map calls its ``call`` once per element
of the previous result (element bound like a chain result); names bound by Assign are Refs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal as TypingLiteral
from typing import TypeAlias


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A source range, 1-based; ``end_col`` is exclusive. ``Span(0, 0, 0, 0)`` means unknown."""

    line: int
    col: int
    end_line: int
    end_col: int

    @property
    def known(self) -> bool:
        """Whether this span points into a real source text."""
        return self.line > 0


NO_SPAN = Span(0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class Node:
    """Base of all AST nodes: holds the span, which ``==`` ignores."""

    span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


# ---- expressions ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal(Node):
    """A string, int, float, boolean or none; ``kind`` keeps ``1`` and ``true`` apart."""

    value: str | int | float | bool | None
    kind: str = field(init=False, default="")

    def __post_init__(self) -> None:
        v = self.value
        kind = (
            "none" if v is None
            else "bool" if isinstance(v, bool)
            else "int" if isinstance(v, int)
            else "float" if isinstance(v, float)
            else "str"
        )
        object.__setattr__(self, "kind", kind)


@dataclass(frozen=True, slots=True)
class Duration(Node):
    """A duration literal such as ``30s`` or ``1h30m``; ``text`` is as written (not compared)."""

    seconds: float
    text: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Ref(Node):
    """A name used as a value or stage: a flow parameter, loop variable or named result."""

    name: str


@dataclass(frozen=True, slots=True)
class Placeholder(Node):
    """``_``: the slot where the previous stage's result (or map element) is bound."""


@dataclass(frozen=True, slots=True)
class ListExpr(Node):
    """A list literal ``[1, 2, x]``."""

    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class DictExpr(Node):
    """A dict literal ``{key: value}``; keys are strings, in source order."""

    items: tuple[tuple[str, Expr], ...]


@dataclass(frozen=True, slots=True)
class Keyword(Node):
    """A keyword argument ``name = value`` of a call or option function."""

    name: str
    value: Expr


@dataclass(frozen=True, slots=True)
class Func(Node):
    """A function-like option value, e.g. ``exponential(1s, max=60s)``; never evaluated here."""

    name: str
    args: tuple[Expr, ...] = ()
    kwargs: tuple[Keyword, ...] = ()


@dataclass(frozen=True, slots=True)
class Range(Node):
    """``range(stop)`` / ``range(start, stop[, step])``, normalised to three parts."""

    start: Expr
    stop: Expr
    step: Expr


Expr: TypeAlias = Literal | Duration | Ref | Placeholder | ListExpr | DictExpr | Func


# ---- stages --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Option(Node):
    """A step or default option ``key = value``; names are validated by the compiler."""

    key: str
    value: Expr


@dataclass(frozen=True, slots=True)
class Call(Node):
    """A call of a task or sub-flow with its arguments and ``with`` options."""

    name: str
    args: tuple[Expr, ...] = ()
    kwargs: tuple[Keyword, ...] = ()
    options: tuple[Option, ...] = ()
    immutable: bool = False
    name_span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Chain(Node):
    """Stages run one after another, each result flowing into the next (two or more)."""

    steps: tuple[Stage, ...]


@dataclass(frozen=True, slots=True)
class Group(Node):
    """Stages run in parallel; the result is the list of their results in order."""

    items: tuple[Stage, ...]


@dataclass(frozen=True, slots=True)
class Comprehension(Node):
    """A group built by a loop: ``[item for var in iterable]`` (unrolled at compile time)."""

    item: Stage
    var: str
    iterable: Expr | Range


@dataclass(frozen=True, slots=True)
class Map(Node):
    """Dynamic fan-out: run ``call`` once per element of the previous result, at run time."""

    call: Call
    max_width: int | None = None


Stage: TypeAlias = Call | Chain | Group | Comprehension | Map | Ref


# ---- statements and top level ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Assign(Node):
    """Names a stage's result so later statements can use it (dataflow edges)."""

    name: str
    value: Stage


Statement: TypeAlias = Assign | Stage


@dataclass(frozen=True, slots=True)
class Param(Node):
    """A flow parameter with an optional type (as written) and default."""

    name: str
    type: str | None = None
    default: Expr | None = None


@dataclass(frozen=True, slots=True)
class Flow(Node):
    """A named workflow: parameters, statements, and an optional flow-level error handler."""

    name: str
    params: tuple[Param, ...] = ()
    body: tuple[Statement, ...] = ()
    on_error: Stage | None = None
    name_span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Schedule(Node):
    """A periodic trigger: ``cron`` (expr is the cron string) or ``every`` (a Duration)."""

    name: str
    kind: TypingLiteral["cron", "every"]
    expr: str | Duration
    target: Stage
    tz: str | None = None
    expr_span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)
    """Where the cron string's text is (inside the quotes when it has no escapes)."""
    tz_span: Span = field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Use(Node):
    """Imports a Python module whose tasks the file calls."""

    module: str


@dataclass(frozen=True, slots=True)
class Defaults(Node):
    """Options inherited by every step unless it overrides them."""

    options: tuple[Option, ...] = ()


@dataclass(frozen=True, slots=True)
class Comment(Node):
    """A ``#`` comment (text includes the ``#``); kept only so the formatter can re-emit it."""

    text: str


@dataclass(frozen=True, slots=True)
class Module(Node):
    """One source file: its uses, defaults, flows and schedules (comments are not compared)."""

    uses: tuple[Use, ...] = ()
    defaults: Defaults | None = None
    flows: tuple[Flow, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    comments: tuple[Comment, ...] = field(default=(), compare=False)
    broken: tuple[str, ...] = field(default=(), compare=False)
    """Names of the flows and schedules left out because their source has syntax errors (the
    rest of a file with syntax errors is still parsed, so its other mistakes are reported)."""

    def flow(self, name: str) -> Flow | None:
        """The flow called ``name``, or None."""
        return next((f for f in self.flows if f.name == name), None)


def children(node: Node) -> Iterator[Node]:
    """The direct child nodes of ``node``, in field order (tuples and pairs are flattened)."""
    for f in dataclasses.fields(node):
        if f.name in ("span", "name_span", "comments", "broken", "expr_span", "tz_span"):
            continue
        yield from _nodes_in(getattr(node, f.name))


def _nodes_in(value: object) -> Iterator[Node]:
    if isinstance(value, Node):
        yield value
    elif isinstance(value, tuple):
        for v in value:
            yield from _nodes_in(v)


def walk(node: Node) -> Iterator[Node]:
    """``node`` and all its descendants, depth-first in source order."""
    yield node
    for child in children(node):
        yield from walk(child)

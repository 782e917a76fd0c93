"""What the ``.flow`` lowering passes around: inbounds, arguments being bound, scopes.

See :mod:`flowc.compiler.flow.lower` for how the walk uses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from flowc.compiler.ir import shape_leaves
from flowc.dsl import ast

NO_ITEMS: list[Any] = []
"""The empty list every node with nothing there shares (IR nodes are never mutated; one
empty list and dict per node cost ~360 bytes each on a 350,000-step chain)."""
NO_ENTRIES: dict[str, Any] = {}
"""The empty dict shared the same way."""

BIND = "F211"
"""A run-time result used where a compile-time value is needed, or where it cannot bind."""


@dataclass(frozen=True, slots=True)
class Inbound:
    """What a stage receives from the stage before it."""

    kind: Literal["none", "node", "literal"] = "none"
    value: Any = None
    after: tuple[str, ...] = ()

    def wait_only(self) -> Inbound:
        """The same dependencies, value dropped (an immutable step)."""
        if self.kind == "node":
            leaves = tuple(shape_leaves(self.value))
            return Inbound("none", None, tuple(dict.fromkeys(leaves + self.after)))
        return Inbound("none", None, self.after)


NOTHING = Inbound()


@dataclass(slots=True)
class Item:
    """One argument being bound: a literal value, or a node id/shape from a run-time result.

    Not frozen (though never changed): two are made per call, and a frozen dataclass's
    ``__init__`` sets each field through ``object.__setattr__``.
    """

    kind: Literal["lit", "node"]
    value: Any
    expr: ast.Node | None = None
    named: bool = False
    """A named result used by name (binds by parameter name even in first position)."""


@dataclass
class Scope:
    """Names visible while lowering one flow instance, and what it inherits from its caller."""

    values: dict[str, Any]
    results: dict[str, Inbound] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    errbacks: tuple[str, ...] = ()
    stack: tuple[str, ...] = ()
    cluster: tuple[tuple[str, str], ...] = ()
    """The called-flow instances this scope is inside, outermost first: (id, label) each."""

    def bind(self, name: str, value: Any) -> Scope:
        return replace(self, values={**self.values, name: value})

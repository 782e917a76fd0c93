"""The IR: a ``Workflow`` is a DAG of task ``Node``s; the contract between compiler and runtime.

Both front ends (Python canvases via :mod:`flowc.compiler.canvas.lower`, ``.flow`` files) produce
it; the runtime never sees a canvas or syntax. It is pydantic, serialised to stable JSON
(:meth:`Workflow.to_json`: sorted keys, no whitespace; same input, same bytes).

Nodes
    ``id`` is stable and deterministic (``n0``, ``n1``, ... in lowering order). ``task``,
    ``args``, ``kwargs``, ``options`` are the call as written (options use Celery's names and are
    already merged with inherited ones). ``kind`` is ``task`` or ``map``.

Edges: how a parent's result binds into a child (implied by the node's fields)
    ``prepend``      one parent; its result is prepended as the first positional argument
                     (a chain step).
    ``collect``      a *shape*: a JSON list whose leaves are parent ids, possibly nested
                     (``["n1", "n2"]``, ``[["n1", "n2"], "n3"]`` for a group inside a group).
                     The shape with every id replaced by that parent's result is prepended as
                     one positional argument (a chord body; a step after a group). ``[]`` is
                     allowed: the body of an empty chord receives ``[]`` and has no parents.
    ``kwarg:<name>`` ``kwarg_inputs = {name: parent}``: the parent's result is the keyword
                     argument ``name`` (dataflow from ``.flow`` files).
    ``none``         ``after = [parents]``: wait for them, ignore their results (``si``).
    A node has at most one of ``prepend``/``collect``.

Map nodes (``kind == "map"``, from ``fanout``)
    The value that would be prepended (from ``prepend``/``collect``, or the literal ``items``
    of a root map) is the *list to map over*. At run time the node expands into one instance
    per element, each called as ``task(element, *args, **kwargs)`` with the node's options; if the
    list is longer than ``max_width`` the node fails without starting any instance. The node's
    result is the ordered list of instance results (``[]`` for an empty list), so successors
    bind to a map node exactly as to a task node.

Results and failures
    ``result`` is the shape of the workflow's final result: one node id (a chain: its last node)
    or a list shape (a group: the ordered results of its members). Nodes that are not in the
    result and have no successors are side branches (``link`` callbacks).
    ``errbacks`` are task calls outside the DAG. ``node.link_error`` lists errback ids to fire if
    that node fails; ``on_error`` lists workflow-level ones, fired when any node fails. Each
    errback id fires at most once per workflow run (an errback shared by every step of a chain
    runs once, for the first failure). Unless ``immutable``, an errback is called Celery-style
    with ``(request, exc, traceback)`` prepended when its function takes three more positional
    arguments, else with the failed task id prepended. A failed node fails every node that
    depends on it (they never run), and the workflow's result raises the failure.

Helpers for the runtime's join: :meth:`Workflow.roots`, :meth:`Workflow.successors`,
:meth:`Workflow.pending_count` (distinct parents a node waits for), :meth:`Workflow.bind`
(a ready node's arguments from its parents' results), :meth:`Workflow.topological_order`.
Treat a ``Workflow`` as immutable once built: the helpers cache their indexes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from flowc.compiler.diagnostics import CYCLE, CompileError, finding
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr
from typing_extensions import TypeAliasType

if TYPE_CHECKING:  # networkx costs ~90 ms to import; only graph() and cyclic IR need it
    import networkx as nx

IR_VERSION = 1

Shape = TypeAliasType("Shape", "str | list[Shape]")
"""A node id, or a (possibly nested) list of shapes."""


class SourceSpan(BaseModel):
    """Where a node came from in a ``.flow`` file: ``flowc.dsl.ast.Span`` plus the file name.

    1-based; ``end_col`` is exclusive (the DSL's convention).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str | None = None
    line: int
    col: int
    end_line: int
    end_col: int


class Node(BaseModel):
    """One task call in the DAG (or a dynamic map over one); see the module docstring."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    kind: Literal["task", "map"] = "task"
    task: str
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    prepend: str | None = None
    collect: list[Shape] | None = None
    kwarg_inputs: dict[str, str] = Field(default_factory=dict)
    after: list[str] = Field(default_factory=list)
    link_error: list[str] = Field(default_factory=list)
    items: list[Any] | None = None
    max_width: int | None = None
    span: SourceSpan | None = None

    def parents(self) -> list[str]:
        """Distinct parent ids: prepend, collect leaves, kwarg inputs (by name), after."""
        seen: dict[str, None] = {}
        if self.prepend is not None:
            seen[self.prepend] = None
        if self.collect is not None:
            seen.update(dict.fromkeys(shape_leaves(self.collect)))
        for name in sorted(self.kwarg_inputs):
            seen[self.kwarg_inputs[name]] = None
        seen.update(dict.fromkeys(self.after))
        return list(seen)


_set = object.__setattr__


def new_node(
    *, id: str, task: str, kind: str = "task", args: list[Any], kwargs: dict[str, Any],
    options: dict[str, Any], prepend: str | None = None, collect: list[Shape] | None = None,
    kwarg_inputs: dict[str, str], after: list[str], link_error: list[str],
    items: list[Any] | None = None, max_width: int | None = None,
    span: SourceSpan | None = None,
) -> Node:
    """A ``Node`` from values a compiler built with the declared types, without validating them.

    Validation copies every list and dict and cost ~2-10 us and ~1 KB a node (most of a
    350,000-step chain's lowering); ``model_construct`` is slower still (default factories).
    The fields are set one by one, in declaration order, so CPython keeps them in a
    key-sharing dict (184 bytes instead of 464); every field is set, so the shared
    ``fields_set`` is exact. The IR passes check the structure.
    """
    m = Node.__new__(Node)
    _set(m, "id", id)
    _set(m, "kind", kind)
    _set(m, "task", task)
    _set(m, "args", args)
    _set(m, "kwargs", kwargs)
    _set(m, "options", options)
    _set(m, "prepend", prepend)
    _set(m, "collect", collect)
    _set(m, "kwarg_inputs", kwarg_inputs)
    _set(m, "after", after)
    _set(m, "link_error", link_error)
    _set(m, "items", items)
    _set(m, "max_width", max_width)
    _set(m, "span", span)
    _set(m, "__pydantic_fields_set__", _NODE_FIELDS)
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m


def new_span(file: str | None, line: int, col: int, end_line: int, end_col: int) -> SourceSpan:
    """A ``SourceSpan`` from ints and a file name, without validating them (see ``new_node``)."""
    m = SourceSpan.__new__(SourceSpan)
    _set(m, "file", file)
    _set(m, "line", line)
    _set(m, "col", col)
    _set(m, "end_line", end_line)
    _set(m, "end_col", end_col)
    _set(m, "__pydantic_fields_set__", _SPAN_FIELDS)
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m


class Errback(BaseModel):
    """A task called when a node fails; outside the DAG (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    task: str
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    immutable: bool = False
    span: SourceSpan | None = None


_NODE_FIELDS = set(Node.model_fields)
_SPAN_FIELDS = set(SourceSpan.model_fields)


class Edge(NamedTuple):
    """A dependency: ``binding`` is ``prepend``, ``collect``, ``kwarg:<name>`` or ``none``."""

    source: str
    target: str
    binding: str


class Workflow(BaseModel):
    """A validated-or-not DAG of nodes plus errbacks and the shape of the final result."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    id: str | None = None
    name: str | None = None
    nodes: list[Node]
    errbacks: list[Errback] = Field(default_factory=list)
    on_error: list[str] = Field(default_factory=list)
    result: Shape | None = None
    params: dict[str, Any] | None = None
    """The parameters a ``.flow`` run was compiled with (defaults included), kept with the run
    so its history can be searched by them; None for Python canvases."""

    _index: dict[str, Node] | None = PrivateAttr(default=None)
    _succ: dict[str, list[str]] | None = PrivateAttr(default=None)
    _parents: dict[str, list[str]] | None = PrivateAttr(default=None)

    # -- lookups ----------------------------------------------------------------------------
    def node(self, node_id: str) -> Node:
        """The node with id ``node_id`` (``KeyError`` if absent)."""
        return self._nodes()[node_id]

    def errback(self, errback_id: str) -> Errback:
        return {e.id: e for e in self.errbacks}[errback_id]

    def _nodes(self) -> dict[str, Node]:
        if self._index is None:
            self._index = {n.id: n for n in self.nodes}
        return self._index

    def parents(self, node_id: str) -> list[str]:
        return self.parents_map()[node_id]

    def parents_map(self) -> dict[str, list[str]]:
        """``{node id: Node.parents()}`` for every node, in node order (computed once: the
        checks, the plan and the result handles all walk it). Do not mutate the lists."""
        if self._parents is None:
            self._parents = {n.id: n.parents() for n in self.nodes}
        return self._parents

    def successors(self, node_id: str) -> list[str]:
        """Ids of the nodes that wait for ``node_id``, in node order."""
        if self._succ is None:
            succ: dict[str, list[str]] = {n.id: [] for n in self.nodes}
            for nid, parents in self.parents_map().items():
                for parent in parents:
                    succ.setdefault(parent, []).append(nid)
            self._succ = succ
        return self._succ.get(node_id, [])

    def roots(self) -> list[str]:
        """Ids of the nodes with no parents (ready at submit), in node order."""
        return [nid for nid, parents in self.parents_map().items() if not parents]

    def parents_first(self) -> bool:
        """Whether every node comes after all its parents in ``nodes`` (lowering's order).

        Then ``nodes`` is a topological order and the graph is acyclic, with no graph built.
        A parent id that is not a node (a malformed workflow) also makes this False.
        """
        seen: set[str] = set()
        # From the fields, not parents_map(): no list per node is built (or kept) for this.
        for n in self.nodes:
            if n.prepend is not None and n.prepend not in seen:
                return False
            if n.collect is not None and any(p not in seen for p in shape_leaves(n.collect)):
                return False
            if n.kwarg_inputs and any(p not in seen for p in n.kwarg_inputs.values()):
                return False
            if n.after and any(p not in seen for p in n.after):
                return False
            seen.add(n.id)
        return True

    def pending_count(self, node_id: str) -> int:
        """How many distinct parents ``node_id`` waits for before it is ready."""
        return len(self.parents(node_id))

    def edges(self) -> Iterator[Edge]:
        """Every dependency with its binding, grouped by target in node order."""
        for n in self.nodes:
            if n.prepend is not None:
                yield Edge(n.prepend, n.id, "prepend")
            if n.collect is not None:
                for leaf in dict.fromkeys(shape_leaves(n.collect)):
                    yield Edge(leaf, n.id, "collect")
            for name in sorted(n.kwarg_inputs):
                yield Edge(n.kwarg_inputs[name], n.id, f"kwarg:{name}")
            for parent in n.after:
                yield Edge(parent, n.id, "none")

    def result_nodes(self) -> list[str]:
        """The ids in ``result``, in order."""
        return [] if self.result is None else list(shape_leaves(self.result))

    # -- graph algorithms -------------------------------------------------------------------
    def graph(self) -> nx.DiGraph:
        """The DAG as a networkx ``DiGraph`` (edge attribute ``binding``)."""
        import networkx as nx

        g: nx.DiGraph = nx.DiGraph()
        g.add_nodes_from(n.id for n in self.nodes)
        g.add_edges_from((e.source, e.target, {"binding": e.binding}) for e in self.edges())
        return g

    def topological_order(self) -> list[str]:
        """Node ids, parents before children, ties broken by node order (deterministic)."""
        if self.parents_first():  # the lexicographic order is then the node order itself
            return [n.id for n in self.nodes]
        import networkx as nx

        position = {n.id: i for i, n in enumerate(self.nodes)}
        try:
            return list(nx.lexicographical_topological_sort(self.graph(), key=position.__getitem__))
        except nx.NetworkXUnfeasible as e:
            raise CompileError([finding(CYCLE, "the workflow graph has a cycle")]) from e

    # -- binding (what the join does when a node becomes ready) -----------------------------
    def incoming_value(self, node_id: str, results: Mapping[str, Any]) -> tuple[bool, Any]:
        """``(True, value)`` if the node gets a value prepended (for a map: the list to map)."""
        return incoming_value(self.node(node_id), results)

    def bind(self, node_id: str, results: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """The positional and keyword arguments of a ready task node, given parent results."""
        return bind(self.node(node_id), results)

    def final_result(self, results: Mapping[str, Any]) -> Any:
        """The workflow's result built from node results (``None`` if it has no result)."""
        return None if self.result is None else fill_shape(self.result, results)

    # -- serialisation ------------------------------------------------------------------------
    def to_json(self) -> str:
        """Stable JSON: sorted keys, compact separators, every field present."""
        data = self.model_dump(mode="json")
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Workflow:
        return cls.model_validate_json(text)


def incoming_value(n: Node, results: Mapping[str, Any]) -> tuple[bool, Any]:
    """``Workflow.incoming_value`` of a node in hand (no lookup by id)."""
    if n.prepend is not None:
        return True, results[n.prepend]
    if n.collect is not None:
        return True, fill_shape(n.collect, results)
    if n.kind == "map" and n.items is not None:
        return True, list(n.items)
    return False, None


def bind(n: Node, results: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """``Workflow.bind`` of a node in hand: what the join does when it becomes ready."""
    has_value, value = incoming_value(n, results)
    args = [value, *n.args] if has_value else list(n.args)
    kwargs = {**n.kwargs, **{k: results[src] for k, src in n.kwarg_inputs.items()}}
    return args, kwargs


def shape_leaves(shape: Any) -> Iterator[str]:
    """The node ids in a shape, depth first, left to right."""
    if isinstance(shape, str):
        yield shape
        return
    stack: list[Iterator[Any]] = [iter(shape)]
    while stack:
        item = next(stack[-1], _END)
        if item is _END:
            stack.pop()
        elif isinstance(item, str):
            yield item
        elif isinstance(item, list):
            stack.append(iter(item))


def fill_shape(shape: Any, results: Mapping[str, Any]) -> Any:
    """The shape with every node id replaced by its result."""
    if isinstance(shape, str):
        return results[shape]
    return [fill_shape(s, results) for s in shape]


_END = object()

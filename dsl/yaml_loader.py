"""The YAML front end: loads the YAML form of a flowc file into the same AST as the parser.

It walks ``yaml.compose`` nodes (not plain data) so every AST node gets a line:col span from
PyYAML's marks, and reports problems as Diagnostics (F117 YAML syntax, F118 shape, F119 key).
The YAML form is described in docs/language.md; ``schema.py`` gives its JSON Schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import yaml
from flowc.dsl import ast
from flowc.dsl.diagnostics import Diagnostic, did_you_mean_hint
from flowc.dsl.literals import DURATION_HINT, DURATION_RE, parse_duration
from flowc.dsl.parser import MAX_NESTING, ParseError, nesting_hint
from flowc.dsl.yaml_values import ValueBudgetExceeded, ValueReader, span_of
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_TOP_KEYS = ("use", "defaults", "flows", "schedules")
_FLOW_KEYS = ("params", "do", "chain", "on_error")
_SCHEDULE_KEYS = ("cron", "tz", "every", "run")
_STAGE_KEYS = ("chain", "group", "chord", "for", "map", "call", "let")
_CALL_KEYS = ("call", "args", "kwargs", "with", "immutable")


class _Shape(Exception):
    """Internal: a node has the wrong shape; already recorded as a diagnostic."""


def load_yaml(text: str, filename: str = "<string>") -> ast.Module:
    """Load a YAML flowc file into a Module; raise ParseError listing every problem."""
    module, diagnostics = load_yaml_with_diagnostics(text, filename)
    if module is None or any(d.severity == "error" for d in diagnostics):
        raise ParseError(diagnostics, text, filename)
    return module


def load_yaml_with_diagnostics(
    text: str, filename: str = "<string>"
) -> tuple[ast.Module | None, list[Diagnostic]]:
    """Load without raising: the Module (None if the YAML does not parse) and diagnostics."""
    del filename
    try:
        root = yaml.compose(text, Loader=_NestingLoader)
    except _TooDeep as e:
        return None, [too_deep(e.span)]
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"invalid YAML: {e.problem or e.context or 'syntax error'}"
        return None, [Diagnostic("F117", message, ast.Span(line, col, line, col + 1))]
    except (yaml.YAMLError, RecursionError) as e:
        return None, [Diagnostic("F117", f"invalid YAML: {e}", ast.Span(1, 1, 1, 2))]
    deep = _aliased_too_deep(root)
    if deep is not None:
        return None, [too_deep(span_of(deep))]
    reader = _Reader()
    try:
        module = reader.module(root)
    except _Shape:
        return None, reader.diagnostics
    except (RecursionError, ValueBudgetExceeded):
        too_big = "the document is nested too deeply or too large (anchors expanded)"
        return None, [Diagnostic("F120", too_big, span_of(root) if root else ast.NO_SPAN)]
    return module, reader.diagnostics


class _TooDeep(Exception):
    """Internal: a mapping or list nested deeper than ``MAX_NESTING``; ``span`` is where."""

    def __init__(self, span: ast.Span) -> None:
        super().__init__(span)
        self.span = span


class _NestingLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing mappings and lists nested deeper than ``MAX_NESTING``.

    PyYAML's composer recurses once a level, so a deep document would end in RecursionError
    (reported nowhere in particular); this stops at the node that goes too deep instead.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_sequence_node(self, anchor: Any) -> SequenceNode:
        self._enter()
        try:
            return super().compose_sequence_node(anchor)
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        self._enter()
        try:
            return super().compose_mapping_node(anchor)
        finally:
            self._depth -= 1

    def _enter(self) -> None:
        self._depth += 1
        if self._depth > MAX_NESTING:
            mark = self.peek_event().start_mark
            line, col = mark.line + 1, mark.column + 1
            raise _TooDeep(ast.Span(line, col, line, col + 1))


def too_deep(span: ast.Span) -> Diagnostic:
    """F120 at ``span``, the mapping or list that goes past the nesting limit."""
    return Diagnostic("F120", f"nested more than {MAX_NESTING} levels deep", span, nesting_hint())


def _aliased_too_deep(root: Node | None) -> Node | None:
    """The first node deeper than ``MAX_NESTING`` once aliases are followed, or None.

    The composer counts levels as written; an alias (``*a``) puts a whole anchored node at
    the alias's depth. Depths are computed once a node (iteratively, memoised by node, so a
    document of many aliases costs what its nodes cost), then the deepest path is walked
    down from the root to the level past the limit.
    """
    if root is None:
        return None
    height: dict[int, int] = {}  # id(node) -> levels of collections from it down (scalar: 0)
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in height:
            continue
        kids = _children(node)
        if expanded:
            height[id(node)] = 1 + max((height[id(k)] for k in kids), default=0)
        elif isinstance(node, ScalarNode):
            height[id(node)] = 0
        else:
            stack.append((node, True))
            stack.extend((k, False) for k in kids if id(k) not in height)
    if height[id(root)] <= MAX_NESTING:
        return None
    for _ in range(MAX_NESTING):  # down the deepest path to the level past the limit
        root = max(_children(root), key=lambda k: height[id(k)])
    return root


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [v for pair in node.value for v in pair]
    return []


class _Reader(ValueReader):
    """Converts composed YAML nodes to AST nodes, recording diagnostics."""

    def fail(self, node: Node, message: str, hint: str | None = None) -> _Shape:
        self.error("F118", message, node, hint)
        return _Shape(message)

    def mapping(self, node: Node, what: str, keys: Iterable[str] | None = None) -> dict[str, Node]:
        """A mapping's entries by key; unknown keys (if ``keys`` given) are F119."""
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        entries: dict[str, Node] = {}
        allowed = tuple(keys) if keys is not None else None
        for key_node, value in node.value:
            key = self.key(key_node)
            if allowed is not None and key not in allowed:
                self.error(
                    "F119", f"unknown key '{key}' in {what}", key_node,
                    did_you_mean_hint(key, allowed) or f"allowed keys: {', '.join(allowed)}",
                )
                continue
            entries[key] = value
        return entries

    def sequence(self, node: Node, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return list(node.value)

    def name(self, node: Node, what: str) -> str:
        if not isinstance(node, ScalarNode) or not re.fullmatch(r"[A-Za-z_]\w*", node.value):
            raise self.fail(node, f"{what} must be a name (letters, digits, '_')")
        return str(node.value)

    # ---- top level ------------------------------------------------------------------

    def module(self, root: Node | None) -> ast.Module:
        if root is None:
            return ast.Module()
        top = self.mapping(root, "the document", _TOP_KEYS)
        uses: list[ast.Use] = []
        if "use" in top:
            items = top["use"].value if isinstance(top["use"], SequenceNode) else [top["use"]]
            uses = [ast.Use(self.string(n, "a module in 'use'"), span=span_of(n)) for n in items]
        defaults = None
        if "defaults" in top:
            defaults = ast.Defaults(self.options(top["defaults"]), span=span_of(top["defaults"]))
        flows = [
            self.flow(k, v) for k, v in self.pairs(top.get("flows"), "'flows'")
        ]
        schedules = [
            self.schedule(k, v) for k, v in self.pairs(top.get("schedules"), "'schedules'")
        ]
        return ast.Module(tuple(uses), defaults, tuple(flows), tuple(schedules), span=span_of(root))

    def pairs(self, node: Node | None, what: str) -> list[tuple[Node, Node]]:
        if node is None:
            return []
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{what} must be a mapping of names")
        return list(node.value)

    def flow(self, key: Node, node: Node) -> ast.Flow:
        name = self.name(key, "a flow name")
        entries = self.mapping(node, f"flow '{name}'", _FLOW_KEYS)
        params = tuple(self.param(k, v) for k, v in self.pairs(entries.get("params"), "'params'"))
        body: list[ast.Statement] = []
        if "chain" in entries:
            steps = tuple(self.stage(s) for s in self.sequence(entries["chain"], "'chain'"))
            body.append(steps[0] if len(steps) == 1 else ast.Chain(steps, span=span_of(node)))
        if "do" in entries:
            body += [self.statement(s) for s in self.sequence(entries["do"], "'do'")]
        on_error = self.stage(entries["on_error"]) if "on_error" in entries else None
        return ast.Flow(
            name, params, tuple(body), on_error, name_span=span_of(key), span=span_of(node)
        )

    def param(self, key: Node, node: Node) -> ast.Param:
        name = self.name(key, "a parameter name")
        if isinstance(node, ScalarNode):
            type_ = None if node.tag.endswith(":null") else self.string(node, "a parameter type")
            return ast.Param(name, type_, span=span_of(key))
        entries = self.mapping(node, f"parameter '{name}'", ("type", "default"))
        type_ = self.string(entries["type"], "a parameter type") if "type" in entries else None
        default = self.value(entries["default"]) if "default" in entries else None
        return ast.Param(name, type_, default, span=span_of(key))

    def schedule(self, key: Node, node: Node) -> ast.Schedule:
        name = self.name(key, "a schedule name")
        entries = self.mapping(node, f"schedule '{name}'", _SCHEDULE_KEYS)
        if "run" not in entries:
            raise self.fail(node, f"schedule '{name}' needs 'run: <step>'")
        target = self.stage(entries["run"])
        tz = self.string(entries["tz"], "a time zone") if "tz" in entries else None
        tz_span = _text_span(entries["tz"], tz) if tz is not None else ast.NO_SPAN
        if "cron" in entries and "every" not in entries:
            cron = self.string(entries["cron"], "a cron expression")
            return ast.Schedule(name, "cron", cron, target, tz, span=span_of(node),
                                expr_span=_text_span(entries["cron"], cron), tz_span=tz_span)
        if "every" in entries and "cron" not in entries:
            return ast.Schedule(
                name, "every", self.duration(entries["every"]), target, tz, span=span_of(node)
            )
        raise self.fail(node, f"schedule '{name}' needs exactly one of 'cron' or 'every'")

    def duration(self, node: Node) -> ast.Duration:
        text = str(node.value) if isinstance(node, ScalarNode) else ""
        seconds = parse_duration(text) if DURATION_RE.fullmatch(text) else None
        if seconds is None:
            self.error("F105", f"invalid duration '{text}'", node, DURATION_HINT)
            seconds = 0.0
        return ast.Duration(seconds, text, span=span_of(node))

    # ---- statements and stages --------------------------------------------------------

    def statement(self, node: Node) -> ast.Statement:
        if isinstance(node, MappingNode) and self.has_key(node, "let"):
            entries = self.mapping(node, "a 'let' statement", ("let", "run"))
            if "run" not in entries:
                raise self.fail(node, "'let' needs 'run: <step>'")
            name = self.name(entries["let"], "a result name")
            return ast.Assign(name, self.stage(entries["run"]), span=span_of(node))
        return self.stage(node)

    def has_key(self, node: MappingNode, key: str) -> bool:
        return any(isinstance(k, ScalarNode) and k.value == key for k, _ in node.value)

    def stage(self, node: Node) -> ast.Stage:
        span = span_of(node)
        if isinstance(node, ScalarNode):
            text = self.string(node, "a step")
            if text.startswith("$"):
                return ast.Ref(text[1:], span=span)
            return ast.Call(self.call_name(node, text), name_span=span, span=span)
        if not isinstance(node, MappingNode) or not node.value:
            raise self.fail(node, "a step must be a task name or a mapping")
        keys = [k.value for k, _ in node.value if isinstance(k, ScalarNode)]
        kind = next((k for k in _STAGE_KEYS if k in keys), None)
        if kind is None:
            return self.short_call(node)
        return self.special_stage(kind, node, span)

    def special_stage(self, kind: str, node: MappingNode, span: ast.Span) -> ast.Stage:
        if kind in ("chain", "group"):
            entries = self.mapping(node, f"a '{kind}'", (kind,))
            items = tuple(self.stage(s) for s in self.sequence(entries[kind], f"'{kind}'"))
            if kind == "group":
                return ast.Group(items, span=span)
            return items[0] if len(items) == 1 else ast.Chain(items, span=span)
        if kind == "chord":
            entries = self.mapping(node, "a 'chord'", ("chord",))
            parts = self.mapping(entries["chord"], "'chord'", ("header", "body"))
            if set(parts) != {"header", "body"}:
                raise self.fail(node, "a chord needs 'header' and 'body'")
            return ast.Chain((self.stage(parts["header"]), self.stage(parts["body"])), span=span)
        if kind == "for":
            entries = self.mapping(node, "a 'for'", ("for", "in", "do"))
            if set(entries) != {"for", "in", "do"}:
                raise self.fail(node, "a 'for' needs 'for', 'in' and 'do'")
            var = self.name(entries["for"], "a loop variable")
            return ast.Comprehension(
                self.stage(entries["do"]), var, self.iterable(entries["in"]), span=span
            )
        if kind == "map":
            entries = self.mapping(node, "a 'map'", ("map", "max"))
            call = self.stage(entries["map"])
            if not isinstance(call, ast.Call):
                raise self.fail(entries["map"], "'map' takes one task call")
            width = self.positive_int(entries["max"]) if "max" in entries else None
            return ast.Map(call, width, span=span)
        if kind == "let":
            raise self.fail(node, "'let' is only allowed as a statement in 'do'")
        return self.long_call(node, span)

    def long_call(self, node: MappingNode, span: ast.Span) -> ast.Call:
        entries = self.mapping(node, "a 'call'", _CALL_KEYS)
        name = self.call_name(entries["call"], self.string(entries["call"], "a task name"))
        args = tuple(self.value(v) for v in self.sequence(entries["args"], "'args'")) if (
            "args" in entries) else ()
        kwargs = self.keywords(entries["kwargs"]) if "kwargs" in entries else ()
        return ast.Call(
            name, args, kwargs,
            options=self.options(entries["with"]) if "with" in entries else (),
            immutable=self.boolean(entries["immutable"]) if "immutable" in entries else False,
            name_span=span_of(entries["call"]), span=span,
        )

    def short_call(self, node: MappingNode) -> ast.Call:
        extra = {"with", "immutable"}
        names = [
            (k, v) for k, v in node.value if not (isinstance(k, ScalarNode) and k.value in extra)
        ]
        if len(names) != 1:
            raise self.fail(node, "a step mapping names exactly one task",
                            "use the long form: {call: name, args: [...], kwargs: {...}}")
        key, value = names[0]
        name = self.call_name(key, self.string(key, "a task name"))
        args: tuple[ast.Expr, ...] = ()
        kwargs: tuple[ast.Keyword, ...] = ()
        if isinstance(value, SequenceNode):
            args = tuple(self.value(v) for v in value.value)
        elif isinstance(value, MappingNode):
            kwargs = self.keywords(value)
        elif not (isinstance(value, ScalarNode) and value.tag.endswith(":null")):
            args = (self.value(value),)
        rest = {k.value: v for k, v in node.value if isinstance(k, ScalarNode) and k.value in extra}
        return ast.Call(
            name, args, kwargs,
            options=self.options(rest["with"]) if "with" in rest else (),
            immutable=self.boolean(rest["immutable"]) if "immutable" in rest else False,
            name_span=span_of(key), span=span_of(node),
        )

    def call_name(self, node: Node, text: str) -> str:
        if not re.fullmatch(r"[A-Za-z_]\w*", text):
            raise self.fail(node, f"'{text}' is not a valid task name")
        return text

    def keywords(self, node: Node) -> tuple[ast.Keyword, ...]:
        return tuple(
            ast.Keyword(self.name(k, "a keyword argument"), self.value(v), span=span_of(k))
            for k, v in self.pairs(node, "keyword arguments")
        )

    def options(self, node: Node) -> tuple[ast.Option, ...]:
        return tuple(
            ast.Option(self.name(k, "an option name"), self.option_value(v), span=span_of(k))
            for k, v in self.pairs(node, "options")
        )

    def iterable(self, node: Node) -> ast.Expr | ast.Range:
        if isinstance(node, MappingNode) and self.has_key(node, "range"):
            entries = self.mapping(node, "a 'range'", ("range",))
            raw = entries["range"]
            parts = [self.value(v) for v in raw.value] if isinstance(raw, SequenceNode) else [
                self.value(raw)]
            span = span_of(node)
            if not 1 <= len(parts) <= 3:
                self.error("F115", "range takes 1 to 3 numbers", node)
                parts = parts[:3] or [ast.Literal(0, span=span)]
            zero, one = ast.Literal(0, span=span), ast.Literal(1, span=span)
            full = [zero, *parts, one] if len(parts) == 1 else [*parts, one][:3]
            return ast.Range(full[0], full[1], full[2], span=span)
        return self.value(node)

    def positive_int(self, node: Node) -> int:
        value = self.scalar(node)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            self.error("F116", "'max' needs a positive integer", node)
            return 1
        return value

    def boolean(self, node: Node) -> bool:
        value = self.scalar(node)
        if not isinstance(value, bool):
            raise self.fail(node, "expected true or false")
        return value

    def scalar(self, node: Node) -> Any:
        literal = self.value(node)
        return literal.value if isinstance(literal, ast.Literal) else None


def _text_span(node: Node, text: str) -> ast.Span:
    """The span of a scalar's text (inside its quotes) when it is written as is on one line,
    else of the whole scalar."""
    span = span_of(node)
    quoted = 2 if isinstance(node, ScalarNode) and node.style in ("'", '"') else 0
    if span.line == span.end_line and span.end_col - span.col == len(text) + quoted:
        return ast.Span(span.line, span.col + quoted // 2, span.line, span.end_col - quoted // 2)
    return span

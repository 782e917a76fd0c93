"""A faster run of the same LALR parser, for source that parses without a syntax error.

Lark's contextual lexer and parser loop cost a few microseconds per token, most of it Python
overhead around one regex match and one table lookup. :func:`fast_parse` does the same work in
one loop, from lark's own data: the root lexer's compiled terminal regex (lark's order, so the
first alternative that matches is the terminal lark would choose), its keyword table, the LALR
parse table and the rule callbacks (``ToAst``). Tokens are the same ``lark.Token`` objects, so
``ToAst`` builds the same nodes with the same spans.

Two shortcuts keep it well under lark's cost on big files: the text is lexed a line at a time
and each distinct line once (a 350,000-step chain is a handful of distinct lines), and the
children of inlined rules (``x*`` lists, ``_rule``) are spliced into their parent's from plain
lists, following lark's own child filter, instead of building a ``Tree`` per item for the
filter to take apart.

It is exact by construction or it gives up: a token is only taken when the parser's current
state accepts it, which is exactly when lark's contextual lexer would have produced it. Anything
else (a syntax error, a keyword only some states accept, a lexing ambiguity, very deep nesting)
returns ``None``, and the caller runs lark itself, which then reports what is wrong. The lark
objects this reads are checked when the tables are built; if they ever change shape,
:func:`fast_tables` returns ``None`` and every parse takes lark's path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from typing import Any

from lark import Lark, Token
from lark.lexer import UnlessCallback
from lark.parse_tree_builder import ChildFilter, ChildFilterLALR_NoPlaceholders, ExpandSingleChild
from lark.parsers.lalr_analysis import Shift

OPENERS = frozenset(("_LPAR", "_LSQB", "_LBRACE"))
CLOSERS = frozenset(("_RPAR", "_RSQB", "_RBRACE"))
SHARED_TOKENS = {"_ARROW": Token("_ARROW", "->"), "_LPAR": Token("_LPAR", "(")}
"""Tokens whose position no rule reads (an arrow; an opening parenthesis, whose rules take
their span from the name before it and the closing one): one token each for the whole text in
the fast loop, instead of one a step (a 350,000-step chain kept every arrow until its last
stage was parsed). test_fast_parse compares every span with lark's."""
WHITESPACE = "WS"
"""flow.lark's ignored whitespace terminal."""


class _GiveUp(Exception):
    """Raised inside the loop when lark may do something else here; caught by fast_parse."""


Action = int | tuple[int, Any, str, bool, tuple[bool, ...] | None]
"""A shift (the next state) or a reduction: (size, callback or None for an inlined rule, rule
name, expand a single child, which children to splice or None)."""
LINE_CACHE_SIZE = 4096
"""Distinct lines whose tokens :func:`_run` keeps while parsing one text (a big flow is mostly
repeated lines; a file of distinct lines only pays a dict miss a line)."""


@dataclass(frozen=True, slots=True)
class FastTables:
    """What the loop needs from one ``Lark`` instance, with plain ``str`` keys throughout."""

    regex: re.Pattern[str]
    keywords: dict[str, str]
    ignore: frozenset[str]
    actions: dict[int, dict[str, Action]]
    start_states: dict[str, int]
    end_states: dict[str, int]


@dataclass(slots=True)
class FastResult:
    """A successful parse: the start rule's value, the comment tokens, the deepest nesting."""

    value: Any
    comments: list[Token]
    max_depth: int


def fast_tables(parser: Lark) -> FastTables | None:
    """The tables of ``parser`` (LALR, contextual lexer), or None if they are not as expected."""
    try:
        root = parser.parser.lexer.root_lexer
        (lark_regex,) = root.scanner._mres
        # Whitespace before a token is matched with it: one match per token, not two.
        (ws_pattern,) = (t.pattern.to_regexp() for t in root.terminals if t.name == WHITESPACE)
        regex = re.compile(f"(?:{ws_pattern})?(?:{lark_regex.pattern})", lark_regex.flags)
        unless = root.callback.get("NAME")
        keywords = {}
        if unless is not None:
            if not isinstance(unless, UnlessCallback):
                return None
            keywords = {str(t.pattern.value): str(t.name) for t in unless.scanner.terminals}
        table = parser.parser.parser.parser.parse_table
        callbacks = parser.parser.parser.parser.callbacks
        ignore = frozenset(str(t) for t in root.ignore_types)
        actions = {state: {str(symbol): _action(kind, arg, callbacks)
                           for symbol, (kind, arg) in row.items()}
                   for state, row in table.states.items()}
    except (AttributeError, ValueError, TypeError, KeyError):
        return None
    if any(isinstance(k, str) for k in callbacks):
        return None  # token callbacks in the parser: not handled here
    return FastTables(regex, keywords, ignore, actions,
                      dict(table.start_states), dict(table.end_states))


def _action(kind: Any, arg: Any, callbacks: dict[Any, Any]) -> Action:
    if kind is Shift:
        return int(arg)
    n = len(arg.expansion)
    name = str(arg.origin.name)
    callback = callbacks[arg]
    expand = isinstance(callback, ExpandSingleChild)  # ``?rule``: one child is passed through
    if expand:
        callback = callback.node_builder
    plan: tuple[bool, ...] | None = None
    if isinstance(callback, ChildFilterLALR_NoPlaceholders):
        # Children of inlined rules (``_rule``, ``x*``) are spliced in: the filter's plan,
        # run in the loop (it must keep every child: keep_all_tokens).
        if [i for i, _ in callback.to_include] != list(range(n)):
            raise ValueError(f"rule {name} drops children")
        plan = tuple(bool(x) for _, x in callback.to_include)
        callback = callback.node_builder
    if name.startswith("_") and _builds_tree(callback):
        # An inlined rule: its value is the plain list of its children, which the parent's
        # plan splices (lark builds a Tree only for the parent's filter to take apart).
        callback = None
    elif not callable(callback) or isinstance(callback, ChildFilter):
        raise ValueError(f"rule {name}: callback {callback!r} not understood")
    return (n, callback, name, expand, plan)


def _builds_tree(callback: Any) -> bool:
    """Whether ``callback`` is lark's default (a Tree of the children), not a ToAst method."""
    return isinstance(callback, partial) and getattr(callback.func, "__name__", "") \
        == "default_callback"


def fast_parse(tables: FastTables, text: str, start: str, max_depth: int) -> FastResult | None:
    """Parse ``text`` from ``start`` as lark would, or None where lark has to do it.

    Gives up as well when brackets nest deeper than ``max_depth``.
    """
    try:
        return _run(tables, text, start, max_depth)
    except _GiveUp:
        return None


def _line_lexer(t: FastTables) -> Any:
    """A function: one line of text -> its tokens as (kind, value, start, end) (whitespace
    left out, columns 0-based), or _GiveUp where the root lexer matches nothing.

    Lexing line by line gives the same tokens as lexing the whole text: no terminal of
    flow.lark but whitespace matches a newline (strings and comments stop before one).
    """
    match = t.regex.match
    ws = WHITESPACE

    def lex(s: str) -> tuple[tuple[str, str, int, int], ...]:
        out = []
        pos, size = 0, len(s)
        while pos < size:
            m = match(s, pos)
            if m is None:
                raise _GiveUp
            kind: str = m.lastgroup  # type: ignore[assignment]  # every alternative is named
            begin, pos = m.span(kind)
            if kind != ws:
                out.append((kind, s[begin:pos], begin, pos))
        return tuple(out)

    return lex


def _run(t: FastTables, text: str, start: str, max_depth: int) -> FastResult:
    # One loop on purpose: this is the per-token hot path (the contextual keyword choice, the
    # tokens and the LALR shift/reduce steps), and every call saved is time saved. Lines are
    # lexed once per distinct text (a long flow repeats its lines: ``    -> step()``).
    actions, keywords, ignore = t.actions, t.keywords, t.ignore
    shared = SHARED_TOKENS
    lex = _line_lexer(t)
    cache: dict[str, tuple[tuple[str, str, int, int], ...]] = {}
    new_token = Token
    new_str = str.__new__
    end_state = t.end_states[start]
    state_stack = [t.start_states[start]]
    value_stack: list[Any] = []
    comments: list[Token] = []
    line, line_start = 0, 0
    depth = deepest = 0
    token: Any = None
    for source_line in text.split("\n"):
        line += 1
        tokens = cache.get(source_line)
        if tokens is None:
            tokens = lex(source_line)
            if len(cache) < LINE_CACHE_SIZE:
                cache[source_line] = tokens
        for kind, value, begin, end in tokens:
            if kind in ignore:
                if kind == "COMMENT":
                    comments.append(new_token(kind, value, line_start + begin, line, begin + 1,
                                              line, end + 1, line_start + end))
                continue
            row = actions[state_stack[-1]]
            if kind == "NAME":
                keyword = keywords.get(value)
                if keyword is not None and keyword in row:
                    kind = keyword
                elif "NAME" not in row:
                    raise _GiveUp
            elif kind not in row:
                raise _GiveUp
            token = shared.get(kind)
            if token is None:
                # lark.Token(kind, value, start, line, col, line, end col, end), without the
                # two Python-level calls of Token.__new__ (a third of the lexing time).
                token = new_str(Token, value)
                token.type = kind
                token.start_pos = line_start + begin
                token.value = value
                token.line = token.end_line = line
                token.column = begin + 1
                token.end_column = end + 1
                token.end_pos = line_start + end
            if kind in OPENERS:
                depth += 1
                if depth > deepest:
                    deepest = depth
                    if depth > max_depth:
                        raise _GiveUp
            elif kind in CLOSERS:
                depth -= 1
            while True:
                action = row[kind]
                if isinstance(action, int):
                    state_stack.append(action)
                    value_stack.append(token)
                    break
                # A reduction, as _reduce (inline: this runs once or more a token).
                n, callback, name, expand, plan = action
                if n:
                    children = value_stack[-n:]
                    del state_stack[-n:]
                    del value_stack[-n:]
                else:
                    children = []
                if plan is not None:
                    children = _splice(children, plan)
                if callback is None:
                    value_stack.append(children)
                elif expand and n == 1:
                    value_stack.append(children[0])
                else:
                    value_stack.append(callback(children))
                state_stack.append(actions[state_stack[-1]][name])  # type: ignore[arg-type]
                row = actions[state_stack[-1]]
                if kind not in row:
                    raise _GiveUp
        line_start += len(source_line) + 1
    row = actions[state_stack[-1]]
    while "$END" in row:
        action = row["$END"]
        if isinstance(action, int):
            raise _GiveUp
        _reduce(action, actions, state_stack, value_stack)
        if state_stack[-1] == end_state:
            return FastResult(value_stack[-1], comments, deepest)
        row = actions[state_stack[-1]]
    raise _GiveUp


def _splice(children: list[Any], plan: tuple[bool, ...]) -> list[Any]:
    """``children`` with those ``plan`` marks (values of inlined rules, lists) spliced in.

    The first is reused and grown when it is one (lark's left-recursion shortcut: a list rule
    ``x*`` grows one list, not n copies).
    """
    spliced = children[0] if plan[0] else [children[0]]
    for child, inlined in zip(children[1:], plan[1:], strict=True):
        if inlined:
            spliced += child
        else:
            spliced.append(child)
    return spliced


def _reduce(action: Any, actions: dict[int, dict[str, Action]], state_stack: list[int],
            value_stack: list[Any]) -> None:
    """One LALR reduction: pop the rule's children, push its value and the goto state."""
    n, callback, name, expand, plan = action
    if n:
        children = value_stack[-n:]
        del state_stack[-n:]
        del value_stack[-n:]
    else:
        children = []
    if plan is not None:
        children = _splice(children, plan)
    if callback is None:
        value = children
    elif expand and n == 1:
        value = children[0]
    else:
        value = callback(children)
    value_stack.append(value)
    state_stack.append(actions[state_stack[-1]][name])  # type: ignore[arg-type]

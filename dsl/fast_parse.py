"""A faster run of the same LALR parser, for source that parses without a syntax error.

Lark's contextual lexer and parser loop cost a few microseconds per token, most of it Python
overhead around one regex match and one table lookup. :func:`fast_parse` does the same work in
one loop, from lark's own data: the root lexer's compiled terminal regex (lark's order, so the
first alternative that matches is the terminal lark would choose), its keyword table, the LALR
parse table and the rule callbacks (``ToAst``). Tokens are the same ``lark.Token`` objects, so
``ToAst`` builds the same nodes with the same spans.

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
from typing import Any

from lark import Lark, Token
from lark.lexer import UnlessCallback
from lark.parse_tree_builder import ExpandSingleChild
from lark.parsers.lalr_analysis import Shift

OPENERS = frozenset(("_LPAR", "_LSQB", "_LBRACE"))
CLOSERS = frozenset(("_RPAR", "_RSQB", "_RBRACE"))
ARROW_KIND = "_ARROW"
ARROW = Token(ARROW_KIND, "->")
"""The token every ``->`` shares in the fast loop (see ``_run``; position unknown)."""
WHITESPACE = "WS"
"""flow.lark's ignored whitespace terminal."""


class _GiveUp(Exception):
    """Raised inside the loop when lark may do something else here; caught by fast_parse."""


Action = int | tuple[int, Any, str, bool]
"""A shift (the next state) or a reduction: (size, callback, rule name, expand a single child)."""


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
    callback = callbacks[arg]
    expand = isinstance(callback, ExpandSingleChild)  # ``?rule``: one child is passed through
    return (len(arg.expansion), callback, str(arg.origin.name), expand)


def fast_parse(tables: FastTables, text: str, start: str, max_depth: int) -> FastResult | None:
    """Parse ``text`` from ``start`` as lark would, or None where lark has to do it.

    Gives up as well when brackets nest deeper than ``max_depth``.
    """
    try:
        return _run(tables, text, start, max_depth)
    except _GiveUp:
        return None


def _run(t: FastTables, text: str, start: str, max_depth: int) -> FastResult:
    # One loop on purpose: this is the per-token hot path (lexing, the contextual keyword
    # choice and the LALR shift/reduce steps), and every call saved is time saved.
    actions, keywords, ignore = t.actions, t.keywords, t.ignore
    match = t.regex.match
    new_token = Token
    new_str = str.__new__
    end_state = t.end_states[start]
    state_stack = [t.start_states[start]]
    value_stack: list[Any] = []
    comments: list[Token] = []
    pos, line, line_start, size = 0, 1, 0, len(text)
    depth = deepest = 0
    kind: str
    while True:
        if pos < size:
            m = match(text, pos)
            if m is None:
                raise _GiveUp
            kind = m.lastgroup  # type: ignore[assignment]  # every alternative is named
            begin = m.start(kind)
            if begin != pos:  # the whitespace before the token
                newlines = text.count("\n", pos, begin)
                if newlines:
                    line += newlines
                    line_start = text.rindex("\n", pos, begin) + 1
            value = m.group(kind)
            pos = m.end()
            if kind in ignore:
                if kind == "COMMENT":
                    col = begin - line_start + 1
                    comments.append(new_token(kind, value, begin, line, col, line,
                                              col + len(value), pos))
                elif "\n" in value:
                    line += value.count("\n")
                    line_start = begin + value.rindex("\n") + 1
                continue
            row = actions[state_stack[-1]]
            if kind == "NAME":
                keyword = keywords.get(value)
                if keyword is not None and keyword in row:
                    kind = keyword
                elif "NAME" not in row:
                    raise _GiveUp
            elif kind not in row or "\n" in value:
                raise _GiveUp
            if kind == ARROW_KIND:
                # No rule reads an arrow's position: one shared token instead of one per
                # step (a 350,000-step chain kept them all until its last stage was parsed).
                token = ARROW
            else:
                col = begin - line_start + 1
                # lark.Token(kind, value, begin, line, col, line, end col, pos), without the
                # two Python-level calls of Token.__new__ (a third of the lexing time).
                token = new_str(Token, value)
                token.type = kind
                token.start_pos = begin
                token.value = value
                token.line = token.end_line = line
                token.column = col
                token.end_column = col + len(value)
                token.end_pos = pos
            if kind in OPENERS:
                depth += 1
                if depth > deepest:
                    deepest = depth
                    if depth > max_depth:
                        raise _GiveUp
            elif kind in CLOSERS:
                depth -= 1
        else:
            kind = "$END"
            row = actions[state_stack[-1]]
            if kind not in row:
                raise _GiveUp
        while True:
            action = row[kind]
            if isinstance(action, int):
                if kind == "$END":
                    raise _GiveUp
                state_stack.append(action)
                value_stack.append(token)
                break
            n, callback, name, expand = action
            if n:
                children = value_stack[-n:]
                del state_stack[-n:]
                del value_stack[-n:]
            else:
                children = []
            value_stack.append(children[0] if expand and n == 1 else callback(children))
            state_stack.append(actions[state_stack[-1]][name])  # type: ignore[arg-type]
            if kind == "$END" and state_stack[-1] == end_state:
                return FastResult(value_stack[-1], comments, deepest)
            row = actions[state_stack[-1]]
            if kind not in row:
                raise _GiveUp

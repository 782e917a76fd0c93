"""The .flow parser: text -> ``ast.Module``, with syntax errors reported as Diagnostics.

The LALR parser is built once (``lru_cache``; its tables cached between runs by lark, see
``grammar_cache``) with ``ToAst`` as its transformer, so the AST is built during parsing,
without a parse tree or a second pass. Source first goes through ``fast_parse``, the same
tables and callbacks in one tight loop; whatever it gives up on (every syntax error among
other things) is parsed by lark itself, which reports it. After a syntax error the parser
resumes at the next top-level keyword (``flow``, ``schedule``, ``use``, ``defaults`` at the
start of a line), so one run reports one error per broken item instead of only the first or a
cascade.

Source nested more than ``MAX_NESTING`` brackets deep (one limit for every construct) is
F120 at the bracket that goes too deep.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from contextvars import ContextVar
from functools import lru_cache
from importlib import resources
from typing import Any

from flowc.dsl import ast
from flowc.dsl.diagnostics import Diagnostic, render_all
from flowc.dsl.errors import FlowcError
from flowc.dsl.fast_parse import FastTables, fast_parse, fast_tables
from flowc.dsl.gc_pause import gc_paused
from flowc.dsl.grammar_cache import grammar_cache
from flowc.dsl.spans import token_span
from flowc.dsl.transform import ToAst
from flowc.dsl.transform_base import collecting
from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

MAX_NESTING = 100
"""The deepest nesting of brackets, ``()`` ``[]`` ``{}`` alike (groups, lists, dicts, calls),
that a .flow file may have: deeper is F120 at the bracket that goes too deep. The compiler's
passes over the AST recurse, so a limit is needed; one limit for every construct keeps it
predictable (docs/language.md, Lexical rules)."""
_BRACKETS = re.compile(r"""[()\[\]{}]|"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?|#[^\n]*""")
_RESUME_AT = re.compile(r"^(?:flow|schedule|use|defaults)\b", re.MULTILINE)
_ITEM_NAME = re.compile(r"^(?:flow|schedule)\s+([A-Za-z_][A-Za-z0-9_]*)")
_SYNTAX_CODES = frozenset(("F101", "F102", "F103", "F106", "F107", "F120"))
"""Codes that mean the text did not parse (the others are reported on a finished AST)."""
_OPENERS = ("_LPAR", "_LSQB", "_LBRACE")
_CLOSERS = ("_RPAR", "_RSQB", "_RBRACE")


class _LexState:
    """What the lexer callbacks record during one parse: comments and bracket depth."""

    __slots__ = ("comments", "depth", "max_depth")

    def __init__(self) -> None:
        self.comments: list[Token] = []
        self.depth = 0
        self.max_depth = 0


_LEX_STATE: ContextVar[_LexState | None] = ContextVar("flowc_dsl_lex_state", default=None)


class ParseError(FlowcError):
    """Raised when a .flow or YAML source has syntax errors; carries every Diagnostic found."""

    def __init__(self, diagnostics: list[Diagnostic], source: str, filename: str) -> None:
        self.diagnostics = diagnostics
        self.source = source
        self.filename = filename
        super().__init__(render_all(diagnostics, source, filename))


def _collect_comment(tok: Token) -> Token:
    state = _LEX_STATE.get()
    if state is not None:
        state.comments.append(tok)
    return tok


def _open_bracket(tok: Token) -> Token:
    state = _LEX_STATE.get()
    if state is not None:
        state.depth += 1
        if state.depth > state.max_depth:
            state.max_depth = state.depth
    return tok


def _close_bracket(tok: Token) -> Token:
    state = _LEX_STATE.get()
    if state is not None:
        state.depth -= 1
    return tok


def _build(transformer: ToAst | None) -> Lark:
    """The LALR parser: with ``ToAst`` (AST built while parsing; tables cached between runs),
    or without (a parse tree, for deeply nested source: rare, so not cached)."""
    grammar = resources.files("flowc.dsl").joinpath("flow.lark").read_text(encoding="utf-8")
    callbacks = {"COMMENT": _collect_comment}
    callbacks.update(dict.fromkeys(_OPENERS, _open_bracket))
    callbacks.update(dict.fromkeys(_CLOSERS, _close_bracket))
    return Lark(
        grammar,
        parser="lalr",
        start=["module", "value"],
        keep_all_tokens=True,  # ToAst computes spans from each rule's first and last token
        maybe_placeholders=False,
        transformer=transformer,
        lexer_callbacks=callbacks,
        cache=grammar_cache("flow-grammar") if transformer is not None else False,
    )


@lru_cache(maxsize=1)
def flow_parser() -> Lark:
    """The LALR parser for flow.lark (start symbols ``module`` and ``value``), built once.

    ``parse`` returns AST nodes (``ToAst`` runs inside the parser), not a tree. ToAst reports
    its diagnostics into ``transform_base.collecting()``; the lexer records comments and bracket
    depth into the current ``_LexState``.
    """
    return _build(ToAst())


@lru_cache(maxsize=1)
def _fast_tables() -> FastTables | None:
    """The tables of ``flow_parser()`` for :func:`fast_parse` (None: lark's path only)."""
    return fast_tables(flow_parser())


def parse(text: str, filename: str = "<string>") -> ast.Module:
    """Parse .flow source into a Module; raise ParseError listing every syntax error."""
    module, diagnostics = parse_with_diagnostics(text, filename)
    errors = [d for d in diagnostics if d.severity == "error"]
    if module is None or errors:
        raise ParseError(diagnostics, text, filename)
    return module


def parse_with_diagnostics(
    text: str, filename: str = "<string>"
) -> tuple[ast.Module | None, list[Diagnostic]]:
    """Parse without raising: the Module and diagnostics.

    With syntax errors, the Module holds the top-level items that parse on their own (the
    broken flows' and schedules' names are in ``Module.broken``), so a caller can still check
    them; it is None only when nothing is intact.
    """
    del filename  # spans are file-relative; the name only matters when rendering
    state = _LexState()
    token = _LEX_STATE.set(state)
    try:
        with gc_paused():
            module, diagnostics = _parse(text, "module")
            if module is None and any(d.severity == "error" for d in diagnostics):
                module, more = _intact_items(text, diagnostics)
                return module, diagnostics + more
    finally:
        _LEX_STATE.reset(token)
    if module is None:
        return None, diagnostics
    assert isinstance(module, ast.Module)
    return _without_broken(_with_comments(module, state.comments), diagnostics), diagnostics


def _without_broken(module: ast.Module, diagnostics: list[Diagnostic]) -> ast.Module:
    """``module`` without the flows and schedules that hold an error found while parsing
    (a bad duration, a duplicate keyword...): their names go to ``Module.broken``, so the
    compiler checks the rest without cascading from a half-understood item."""
    lines = {d.span.line for d in diagnostics if d.severity == "error" and d.span.known}
    if not lines:
        return module

    def bad(item: ast.Flow | ast.Schedule) -> bool:
        return any(item.span.line <= n <= item.span.end_line for n in lines)

    flows = tuple(f for f in module.flows if not bad(f))
    schedules = tuple(s for s in module.schedules if not bad(s))
    gone = [f.name for f in module.flows if bad(f)] + [s.name for s in module.schedules if bad(s)]
    return dataclasses.replace(module, flows=flows, schedules=schedules,
                               broken=(*module.broken, *gone))


def _intact_items(
    text: str, syntax_errors: list[Diagnostic]
) -> tuple[ast.Module | None, list[Diagnostic]]:
    """The top-level items of ``text`` that hold no syntax error and parse on their own.

    Items start at a top-level keyword at the start of a line (where the parser resumes after
    an error). Each intact item is parsed alone, at its own line, so spans stay those of the
    file; the ones with an error are named in ``Module.broken``.
    """
    starts = [m.start() for m in _RESUME_AT.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    bounds = [*starts[1:], len(text)]
    error_lines = {d.span.line for d in syntax_errors if d.severity == "error"}
    parts: list[ast.Module] = []
    comments: list[ast.Comment] = []
    broken: list[str] = []
    found: list[Diagnostic] = []
    line = 1
    for start, end in zip(starts, bounds, strict=True):
        first_line = line
        line += text.count("\n", start, end)
        last_line = line if end == len(text) else line - 1
        chunk = text[start:end]
        if any(first_line <= n <= last_line for n in error_lines):
            broken += _ITEM_NAME.findall(chunk)[:1]
            continue
        state = _LexState()
        token = _LEX_STATE.set(state)
        try:
            value, diags = _parse("\n" * (first_line - 1) + chunk, "module", recover=False)
        finally:
            _LEX_STATE.reset(token)
        if value is None or any(d.code in _SYNTAX_CODES for d in diags):
            broken += _ITEM_NAME.findall(chunk)[:1]
            continue
        parts.append(value)
        comments += (ast.Comment(str(c).rstrip(), span=token_span(c)) for c in state.comments)
        found += diags
    if not parts:
        return None, []
    defaults = next((p.defaults for p in parts if p.defaults is not None), None)
    module = ast.Module(
        uses=tuple(u for p in parts for u in p.uses), defaults=defaults,
        flows=tuple(f for p in parts for f in p.flows),
        schedules=tuple(s for p in parts for s in p.schedules),
        comments=tuple(comments), broken=tuple(broken), span=ast.Span(1, 1, line, 1),
    )
    return _without_broken(module, found), found


def parse_value(text: str) -> ast.Expr:
    """Parse one literal value (e.g. a ``--param`` given on the command line)."""
    token = _LEX_STATE.set(_LexState())
    try:
        expr, diagnostics = _parse(text, "value", recover=False)
    finally:
        _LEX_STATE.reset(token)
    if expr is None or diagnostics:
        raise ParseError(diagnostics, text, "<value>")
    assert isinstance(expr, ast.Literal | ast.Duration | ast.Ref | ast.Placeholder
                      | ast.ListExpr | ast.DictExpr)
    return expr


def nesting_hint() -> str:
    """The hint of every F120 about nesting, in .flow and YAML alike."""
    return (f"flowc allows {MAX_NESTING} levels of (), [] and {{}} (in YAML, of mappings and "
            "lists); name inner results (r = ...) or split the flow into flows")


def nesting_error(text: str) -> Diagnostic | None:
    """F120 at the first bracket nested deeper than ``MAX_NESTING``, or None (strings and
    comments skipped; a mismatched bracket is left to the parser)."""
    depth = 0
    for m in _BRACKETS.finditer(text):
        c = m.group()
        if c in "([{":
            depth += 1
            if depth > MAX_NESTING:
                line = text.count("\n", 0, m.start()) + 1
                col = m.start() - text.rfind("\n", 0, m.start())
                return Diagnostic(
                    "F120", f"nested more than {MAX_NESTING} levels deep", ast.Span(
                        line, col, line, col + 1), nesting_hint())
        elif c in ")]}":
            depth = max(depth - 1, 0)
    return None


def _with_comments(module: ast.Module, comments: list[Token]) -> ast.Module:
    nodes = tuple(ast.Comment(str(c).rstrip(), span=token_span(c)) for c in comments)
    return ast.Module(
        uses=module.uses, defaults=module.defaults, flows=module.flows,
        schedules=module.schedules, comments=nodes, span=module.span,
    )


def _parse(
    text: str, start: str, recover: bool = True
) -> tuple[Any | None, list[Diagnostic]]:
    """Parse ``text`` into AST nodes and the diagnostics found building them.

    :func:`fast_parse` runs first; where it gives up (a syntax error, deep nesting, anything
    it cannot be sure of) lark parses the text itself. On syntax errors, resume at later
    top-level items to find more of them; the result is then None with only the syntax errors
    (what later items build is discarded).
    """
    fast = _fast_tables()
    if fast is not None:
        with collecting() as found:
            done = fast_parse(fast, text, start, MAX_NESTING)
        if done is not None:
            state = _LEX_STATE.get()
            if state is not None:
                state.comments = done.comments
                state.max_depth = done.max_depth
            return done.value, found
    too_deep = nesting_error(text)
    if too_deep is not None:
        return None, [too_deep]
    diagnostics: list[Diagnostic] = []
    offset = 0
    while True:
        masked = _blank_before(text, offset)
        try:
            with collecting() as found:
                result = flow_parser().parse(masked, start=start)
        except UnexpectedInput as e:
            diagnostics.append(_syntax_diagnostic(e, masked))
            resume = _RESUME_AT.search(text, _error_offset(e, text) + 1)
            if not recover or resume is None:
                return None, diagnostics
            offset = resume.start()
            continue
        if offset != 0:
            return None, diagnostics
        return result, found


def _blank_before(text: str, offset: int) -> str:
    """``text`` with everything before ``offset`` blanked out, keeping line/column numbers."""
    if offset == 0:
        return text
    head = re.sub(r"[^\n]", " ", text[:offset])
    return head + text[offset:]


def _error_offset(e: UnexpectedInput, text: str) -> int:
    pos = getattr(e, "pos_in_stream", None)
    if isinstance(e, UnexpectedToken) and e.token.type == "$END":
        return len(text)
    return pos if isinstance(pos, int) and pos >= 0 else len(text)


def _syntax_diagnostic(e: UnexpectedInput, text: str) -> Diagnostic:
    """Turn a lark error into a Diagnostic that says what was expected, in words."""
    from flowc.dsl.syntax_messages import describe_unexpected_token  # only source with errors

    if isinstance(e, UnexpectedCharacters):
        return _bad_character(e, text)
    assert isinstance(e, UnexpectedToken)
    tokens = list(_tokens_before(text, _error_offset(e, text)))
    expected = set(getattr(e, "accepts", None) or e.expected)
    return describe_unexpected_token(e.token, expected, tokens, text)


def _bad_character(e: UnexpectedCharacters, text: str) -> Diagnostic:
    pos = e.pos_in_stream or 0
    char = text[pos]
    line_end = text.find("\n", pos)
    line_end = len(text) if line_end < 0 else line_end
    if char in "\"'":
        width = len(text[pos:line_end].rstrip("\r"))
        span = ast.Span(e.line, e.column, e.line, e.column + max(width, 1))
        return Diagnostic(
            "F103", "unterminated string literal", span,
            f"close the string with {char} on the same line (use \\n for a line break)",
        )
    span = ast.Span(e.line, e.column, e.line, e.column + 1)
    hints = {
        ">": "chain steps with '->'",
        ";": "statements are separated by new lines, not ';'",
        "@": "decorators belong in Python; call the task by name",
    }
    shown = char if char.isprintable() else repr(char)
    return Diagnostic("F102", f"unexpected character '{shown}'", span, hints.get(char))


def _tokens_before(text: str, offset: int) -> Iterator[Token]:
    """The tokens before ``offset`` (basic lexer; stops quietly at a lexing error)."""
    try:
        yield from flow_parser().lex(text[:offset])
    except UnexpectedInput:
        return

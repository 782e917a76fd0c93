"""The .flow parser: text -> ``ast.Module``, with syntax errors reported as Diagnostics.

The LALR parser is built once (``lru_cache``). After a syntax error the parser resumes at the
next top-level keyword (``flow``, ``schedule``, ``use``, ``defaults`` at the start of a line),
so one run reports one error per broken item instead of only the first or a cascade.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextvars import ContextVar
from functools import lru_cache
from importlib import resources

from flowc.dsl import ast
from flowc.dsl.diagnostics import Diagnostic, render_all
from flowc.dsl.errors import FlowcError
from flowc.dsl.syntax_messages import describe_unexpected_token
from flowc.dsl.transform import ToAst, token_span
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

_COMMENTS: ContextVar[list[Token] | None] = ContextVar("flowc_dsl_comments", default=None)
_RESUME_AT = re.compile(r"^(?:flow|schedule|use|defaults)\b", re.MULTILINE)


class ParseError(FlowcError):
    """Raised when a .flow or YAML source has syntax errors; carries every Diagnostic found."""

    def __init__(self, diagnostics: list[Diagnostic], source: str, filename: str) -> None:
        self.diagnostics = diagnostics
        self.source = source
        self.filename = filename
        super().__init__(render_all(diagnostics, source, filename))


def _collect_comment(tok: Token) -> Token:
    sink = _COMMENTS.get()
    if sink is not None:
        sink.append(tok)
    return tok


@lru_cache(maxsize=1)
def flow_parser() -> Lark:
    """The LALR parser for flow.lark (start symbols ``module`` and ``value``), built once."""
    grammar = resources.files("flowc.dsl").joinpath("flow.lark").read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        start=["module", "value"],
        propagate_positions=True,
        maybe_placeholders=False,
        lexer_callbacks={"COMMENT": _collect_comment},
    )


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
    """Parse without raising: the Module (None if the text does not parse) and diagnostics."""
    del filename  # spans are file-relative; the name only matters when rendering
    comments: list[Token] = []
    token = _COMMENTS.set(comments)
    try:
        tree, diagnostics = _parse_tree(text, "module")
    finally:
        _COMMENTS.reset(token)
    if tree is None:
        return None, diagnostics
    builder = ToAst()
    try:
        module = builder.transform(tree)
    except RecursionError:
        return None, [_too_deep()]
    module = _with_comments(module, comments)
    return module, diagnostics + builder.diagnostics


def parse_value(text: str) -> ast.Expr:
    """Parse one literal value (e.g. a ``--param`` given on the command line)."""
    tree, diagnostics = _parse_tree(text, "value", recover=False)
    builder = ToAst()
    try:
        expr = builder.transform(tree) if tree is not None else None
    except RecursionError:
        expr, diagnostics = None, [_too_deep()]
    diagnostics += builder.diagnostics
    if expr is None or diagnostics:
        raise ParseError(diagnostics, text, "<value>")
    assert isinstance(expr, ast.Literal | ast.Duration | ast.Ref | ast.Placeholder
                      | ast.ListExpr | ast.DictExpr)
    return expr


def _too_deep() -> Diagnostic:
    return Diagnostic(
        "F120", "the source is nested too deeply to compile", ast.Span(1, 1, 1, 2),
        "flatten the nested lists, dicts or groups",
    )


def _with_comments(module: ast.Module, comments: list[Token]) -> ast.Module:
    nodes = tuple(ast.Comment(str(c).rstrip(), span=token_span(c)) for c in comments)
    return ast.Module(
        uses=module.uses, defaults=module.defaults, flows=module.flows,
        schedules=module.schedules, comments=nodes, span=module.span,
    )


def _parse_tree(
    text: str, start: str, recover: bool = True
) -> tuple[Tree[Token] | None, list[Diagnostic]]:
    """Parse ``text``; on errors, resume at later top-level items to find more of them."""
    diagnostics: list[Diagnostic] = []
    offset = 0
    tree: Tree[Token] | None = None
    while True:
        masked = _blank_before(text, offset)
        try:
            result = flow_parser().parse(masked, start=start)
        except UnexpectedInput as e:
            diagnostics.append(_syntax_diagnostic(e, masked))
            resume = _RESUME_AT.search(text, _error_offset(e, text) + 1)
            if not recover or resume is None:
                return None, diagnostics
            offset = resume.start()
            continue
        if offset == 0:
            tree = result
        return tree, diagnostics


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

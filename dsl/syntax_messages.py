"""Words for parse errors: turns lark's expected-terminal sets into sentences and hints.

``describe_unexpected_token`` says what was expected (``a step``, ``'='``), after which token,
and what was found instead; a few common mistakes get a targeted hint.
"""

from __future__ import annotations

from collections.abc import Sequence

from flowc.dsl import ast
from flowc.dsl.diagnostics import Diagnostic
from flowc.dsl.spans import token_span
from lark import Token

TERMINAL_WORDS: dict[str, str] = {
    "NAME": "a name",
    "STRING": "a string",
    "INT": "an integer",
    "FLOAT": "a number",
    "DURATION": "a duration such as 30s",
    "TRUE": "'true'",
    "FALSE": "'false'",
    "NONE": "'none'",
    "BANG": "'!'",
    "$END": "the end of the file",
}
_PUNCT = {
    "ARROW": "->", "LPAR": "(", "RPAR": ")", "LSQB": "[", "RSQB": "]", "LBRACE": "{",
    "RBRACE": "}", "COMMA": ",", "COLON": ":", "EQUAL": "=",
}

# Sets of terminals that together mean one thing to a reader, most specific first.
_VALUE = frozenset(
    {"STRING", "INT", "FLOAT", "DURATION", "TRUE", "FALSE", "NONE", "NAME", "_LSQB", "_LBRACE"}
)
_STAGE = frozenset({"NAME", "_LSQB", "BANG", "_MAP"})
_STATEMENT = _STAGE | {"_ON"}
_ITEM = frozenset({"_USE", "_DEFAULTS", "_FLOW", "_SCHEDULE"})
_GROUPS: tuple[tuple[frozenset[str], str], ...] = (
    (_ITEM, "a top-level item (use, defaults, flow, schedule)"),
    (_STATEMENT, "a statement"),
    (_STAGE, "a step (a task name, '!', '[' or 'map')"),
    (_VALUE, "a value"),
)
_OPENERS = {"_LPAR": "_RPAR", "_LSQB": "_RSQB", "_LBRACE": "_RBRACE"}


def word_for(terminal: str) -> str:
    """How a terminal is described to users: ``'->'``, ``a name``, ``'flow'``."""
    if terminal in TERMINAL_WORDS:
        return TERMINAL_WORDS[terminal]
    bare = terminal.lstrip("_")
    if bare in _PUNCT:
        return f"'{_PUNCT[bare]}'"
    return f"'{bare.lower()}'"


def expected_words(expected: set[str]) -> str:
    """A sentence fragment naming what the parser would have accepted."""
    remaining = set(expected)
    phrases: list[str] = []
    for members, phrase in _GROUPS:
        if members <= remaining:
            phrases.append(phrase)
            remaining -= members
    phrases += sorted(word_for(t) for t in remaining)
    if len(phrases) <= 1:
        return phrases[0] if phrases else "something else"
    return ", ".join(phrases[:-1]) + " or " + phrases[-1]


def describe_token(tok: Token) -> str:
    """How a found token is shown in a message."""
    if tok.type == "$END":
        return "the end of the file"
    if tok.type == "NAME":
        return f"name '{tok}'"
    if tok.type in ("INT", "FLOAT", "DURATION"):
        return f"'{tok}'"
    if tok.type == "STRING":
        return f"string {tok}"
    return f"'{tok}'"


def describe_unexpected_token(
    tok: Token, expected: set[str], before: Sequence[Token], text: str
) -> Diagnostic:
    """A Diagnostic for an unexpected token, with context (the previous token) and a hint."""
    words = expected_words(expected)
    prev = before[-1] if before else None
    after = ""
    if prev is not None:
        after = f" after string {prev}" if prev.type == "STRING" else f" after '{prev}'"
    hint = _hint(tok, expected, prev)
    opener = _unclosed(before)
    if tok.type == "$END":
        if opener is not None and _OPENERS[opener.type] in expected:
            close = _PUNCT[_OPENERS[opener.type].lstrip("_")]
            return Diagnostic(
                "F106", f"'{opener}' is never closed", token_span(opener),
                f"expected '{close}' before the end of the file",
            )
        span = _end_span(text, prev)
        return Diagnostic("F107", f"unexpected end of file: expected {words}{after}", span, hint)
    if hint is None and opener is not None:
        if tok.type in _OPENERS.values() and _OPENERS[opener.type] != tok.type:
            hint = f"the '{opener}' opened at {opener.line}:{opener.column} is still open"
        elif _OPENERS[opener.type] in expected and tok.type not in _OPENERS.values():
            hint = f"is the '{opener}' opened at {opener.line}:{opener.column} missing its close?"
    elif hint is None and tok.type in _OPENERS.values():
        hint = f"this '{tok}' has no matching opening bracket"
    message = f"expected {words}{after}, found {describe_token(tok)}"
    return Diagnostic("F101", message, token_span(tok), hint)


def _hint(tok: Token, expected: set[str], prev: Token | None) -> str | None:
    """Targeted advice for common mistakes, or None."""
    if expected == {"_EQUAL"} and tok.type == "_LPAR":
        return (
            "a comma after 'with' options starts another option; inside a group, "
            "wrap a step that has options in parentheses: [(a() with queue = \"q\"), b()]"
        )
    if tok.type == "_COLON" and "_EQUAL" in expected:
        return "keyword arguments and options use '=': name = value"
    if prev is not None and prev.type == "_CRON" and tok.type != "STRING":
        return 'quote the cron expression: cron "30 2 * * *"'
    if "DURATION" in expected and tok.type in ("INT", "FLOAT"):
        return f"give the duration a unit, e.g. {tok}s or {tok}m"
    if "_LBRACE" in expected and not expected >= _VALUE and tok.type != "_LBRACE":
        return "a flow needs a body in braces: flow name(params) { ... }"
    if prev is not None and prev.type == "_EQUAL" and expected >= _STAGE:
        return "only a step can be named: result = task(...); values go inside parentheses"
    if expected >= {"_LPAR"} and tok.type == "NAME" and prev is not None and prev.type == "NAME":
        return f"call '{prev}' with parentheses: {prev}(...)"
    if prev is not None and prev.type == "_USE":
        return 'quote the module path: use "examples.etl.tasks"'
    if prev is not None and prev.type == "_MAP":
        return "map takes one task call: map step(...) max 100"
    if prev is not None and prev.type == "_COLON" and expected == {"NAME"}:
        return "write a type after ':', e.g. str, int, list[str]"
    if prev is not None and prev.type == "_WITH":
        return "options are written: with key = value, key = value"
    if tok.type == "_EQUAL" and "_ARROW" in expected:
        return "only a whole statement can be named: name = step(...)"
    return None


def _unclosed(tokens: Sequence[Token]) -> Token | None:
    """The innermost bracket still open after ``tokens``."""
    stack: list[Token] = []
    for t in tokens:
        if t.type in _OPENERS:
            stack.append(t)
        elif stack and t.type == _OPENERS[stack[-1].type]:
            stack.pop()
    return stack[-1] if stack else None


def _end_span(text: str, prev: Token | None) -> ast.Span:
    """Where to point for an unexpected end of file: just after the last token."""
    if prev is not None and prev.end_line is not None and prev.end_column is not None:
        return ast.Span(prev.end_line, prev.end_column, prev.end_line, prev.end_column + 1)
    lines = text.split("\n")
    return ast.Span(len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 2)

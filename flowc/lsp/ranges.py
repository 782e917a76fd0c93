"""Source spans (1-based, code points, exclusive end) as LSP ranges and back.

LSP positions are 0-based and count columns in the code units the client negotiated (UTF-16
unless it asked for another); pygls's ``PositionCodec`` converts the units.
"""

from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types as lsp
from pygls.workspace.position_codec import PositionCodec, ServerTextPosition

from flowc.dsl import ast


def to_range(span: ast.Span, lines: Sequence[str], codec: PositionCodec) -> lsp.Range:
    """The LSP range of ``span``; an unknown span is the start of the file."""
    if not span.known:
        return lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0))
    start = ServerTextPosition(span.line - 1, span.col - 1)
    end = start if span.end_line <= 0 else ServerTextPosition(span.end_line - 1, span.end_col - 1)
    return lsp.Range(_position(start, lines, codec), _position(end, lines, codec))


def _position(at: ServerTextPosition, lines: Sequence[str], codec: PositionCodec) -> lsp.Position:
    if at.line >= len(lines):  # a span just past the last line (end of file)
        return lsp.Position(len(lines), 0)
    return codec.position_to_client_units(lines, at)


def to_line_col(
    position: lsp.Position, lines: Sequence[str], codec: PositionCodec
) -> tuple[int, int]:
    """The 1-based ``(line, col)`` in code points of a client position."""
    at = codec.position_from_client_units(lines, lsp.Position(position.line, position.character))
    return at.line + 1, at.character + 1


def contains(span: ast.Span, line: int, col: int) -> bool:
    """Whether ``(line, col)`` is inside ``span`` or just after its end (a cursor after a word)."""
    return span.known and (span.line, span.col) <= (line, col) <= (span.end_line, span.end_col)


def name_span(start: ast.Span, name: str) -> ast.Span:
    """The span of ``name`` written at the start of ``start`` (an assignment, option, func)."""
    return ast.Span(start.line, start.col, start.line, start.col + len(name))


def whole_document(lines: Sequence[str], codec: PositionCodec) -> lsp.Range:
    """The range covering every character of a document."""
    if not lines:
        return lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0))
    last = len(lines) - 1
    end = codec.position_to_client_units(lines, ServerTextPosition(last, len(lines[last])))
    return lsp.Range(lsp.Position(0, 0), end)

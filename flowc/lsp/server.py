"""The language server: LSP messages in, the pure functions of :mod:`flowc.lsp` called, LSP
types out. Each document is analysed when it opens or changes, and its diagnostics published.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace.position_codec import PositionCodec

from flowc.dsl import ast
from flowc.dsl.diagnostics import Diagnostic
from flowc.lsp.actions import Fix, fixes
from flowc.lsp.analysis import Analysis, analyse, analyse_uses
from flowc.lsp.completion import Item, complete
from flowc.lsp.definition import definition
from flowc.lsp.edits import RenameRefused, formatted, rename_spans, renameable
from flowc.lsp.hover import hover_text
from flowc.lsp.locate import Target, target_at
from flowc.lsp.ranges import to_line_col, to_range, whole_document
from flowc.lsp.symbols import Symbol, outline
from flowc.runtime.project import is_yaml

SEVERITY = {"error": lsp.DiagnosticSeverity.Error, "warning": lsp.DiagnosticSeverity.Warning,
            "note": lsp.DiagnosticSeverity.Information}
ITEM_KIND = {"task": lsp.CompletionItemKind.Function, "flow": lsp.CompletionItemKind.Module,
             "keyword": lsp.CompletionItemKind.Keyword, "option": lsp.CompletionItemKind.Property,
             "value": lsp.CompletionItemKind.Value, "argument": lsp.CompletionItemKind.Field,
             "name": lsp.CompletionItemKind.Variable}
SYMBOL_KIND = {"flow": lsp.SymbolKind.Function, "schedule": lsp.SymbolKind.Event,
               "param": lsp.SymbolKind.Variable, "result": lsp.SymbolKind.Variable}
TRIGGERS = ["(", ",", "=", " "]


class RequestFailed(JsonRpcException):
    """Raised when a valid request cannot be served (LSP's RequestFailed, shown to the user)."""

    CODE = -32803
    MESSAGE = "Request failed"


class FlowLanguageServer(LanguageServer):
    """pygls's server plus the latest analysis of each open document."""

    def __init__(self) -> None:
        super().__init__("flowc", version("flowc"))
        self.analyses: dict[str, Analysis] = {}
        self.parsed: dict[str, Analysis] = {}
        """The latest analysis with a syntax tree (completion while the text does not parse)."""

    def analysis(self, uri: str) -> Analysis:
        """The analysis of the document's current text (made now if the text changed)."""
        doc = self.workspace.get_text_document(uri)
        cached = self.analyses.get(uri)
        if cached is not None and cached.text == doc.source:
            return cached
        found = analyse(_path(uri), doc.source)
        self.analyses[uri] = found
        if not found.has_syntax_errors:
            self.parsed[uri] = found
        elif uri not in self.parsed or self.parsed[uri].uses_only:
            # the intact items of a text with syntax errors, else its use lines' tasks
            partial = found if found.module is not None else None
            self.parsed[uri] = partial or analyse_uses(_path(uri), doc.source)
        return found

    @property
    def codec(self) -> PositionCodec:
        return self.workspace.position_codec

    def range(self, span: ast.Span, analysis: Analysis) -> lsp.Range:
        return to_range(span, analysis.lines, self.codec)

    def target(self, uri: str, position: lsp.Position) -> tuple[Analysis, Target | None]:
        found = self.analysis(uri)
        if found.module is None:
            return found, None
        line, col = to_line_col(position, found.lines, self.codec)
        return found, target_at(found.module, found.lines, line, col)

    def publish(self, uri: str) -> None:
        found = self.analysis(uri)
        diags = [self.diagnostic(d, found) for d in found.diagnostics]
        version = self.workspace.get_text_document(uri).version
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, diags, version))

    def diagnostic(self, d: Diagnostic, analysis: Analysis) -> lsp.Diagnostic:
        """``flowc check``'s diagnostic as LSP's; the hint is the message's second line."""
        message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
        return lsp.Diagnostic(self.range(d.span, analysis), message, SEVERITY[d.severity],
                              code=d.code, source="flowc")


def _path(uri: str) -> Path:
    return Path(to_fs_path(uri) or "untitled.flow")


def _uri(path: Path) -> str:
    return from_fs_path(str(path)) or path.as_uri()


def build() -> FlowLanguageServer:
    """A server with every feature registered."""
    server = FlowLanguageServer()

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: FlowLanguageServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.publish(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: FlowLanguageServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.publish(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: FlowLanguageServer, params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.analyses.pop(uri, None)
        ls.parsed.pop(uri, None)
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, []))

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def hover(ls: FlowLanguageServer, params: lsp.HoverParams) -> lsp.Hover | None:
        found, target = ls.target(params.text_document.uri, params.position)
        text = hover_text(found, target) if target is not None else None
        if text is None or target is None:
            return None
        return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, text),
                         ls.range(target.span, found))

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    def goto(ls: FlowLanguageServer, params: lsp.DefinitionParams) -> lsp.Location | None:
        found, target = ls.target(params.text_document.uri, params.position)
        where = definition(found, target) if target is not None else None
        if where is None:
            return None
        path, span = where
        if path == found.path:
            return lsp.Location(params.text_document.uri, ls.range(span, found))
        at = lsp.Position(span.line - 1, 0)
        return lsp.Location(_uri(path), lsp.Range(at, at))

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION,
                    lsp.CompletionOptions(trigger_characters=TRIGGERS))
    def completion(ls: FlowLanguageServer, params: lsp.CompletionParams) -> lsp.CompletionList:
        uri = params.text_document.uri
        found = ls.analysis(uri)
        if is_yaml(found.path):  # the YAML form is completed by the schema (yamlValidation)
            return lsp.CompletionList(False, [])
        line, col = to_line_col(params.position, found.lines, ls.codec)
        items = complete(found.text, line, col, ls.parsed.get(uri))
        return lsp.CompletionList(False, [_completion_item(i) for i in items])

    @server.feature(lsp.TEXT_DOCUMENT_PREPARE_RENAME)
    def prepare_rename(
        ls: FlowLanguageServer, params: lsp.PrepareRenameParams
    ) -> lsp.Range | None:
        found, target = ls.target(params.text_document.uri, params.position)
        if target is None or found.module is None or is_yaml(found.path) or not renameable(
                target, found.module):
            return None
        return ls.range(target.span, found)

    @server.feature(lsp.TEXT_DOCUMENT_RENAME, lsp.RenameOptions(prepare_provider=True))
    def rename(ls: FlowLanguageServer, params: lsp.RenameParams) -> lsp.WorkspaceEdit | None:
        uri = params.text_document.uri
        found, target = ls.target(uri, params.position)
        if is_yaml(found.path):
            raise RequestFailed("rename works in .flow files; a YAML file is renamed by hand")
        if target is None or found.module is None or not renameable(target, found.module):
            raise RequestFailed("only a named result or a flow can be renamed")
        try:
            spans = rename_spans(found, target, params.new_name)
        except RenameRefused as e:
            raise RequestFailed(str(e)) from None
        edits = [lsp.TextEdit(ls.range(s, found), params.new_name) for s in sorted(set(spans))]
        return lsp.WorkspaceEdit(changes={uri: edits})

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    def formatting(
        ls: FlowLanguageServer, params: lsp.DocumentFormattingParams
    ) -> list[lsp.TextEdit] | None:
        found = ls.analysis(params.text_document.uri)
        text = formatted(found)
        if text is None:
            return None
        if text == found.text:
            return []
        return [lsp.TextEdit(whole_document(found.lines, ls.codec), text)]

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def symbols(
        ls: FlowLanguageServer, params: lsp.DocumentSymbolParams
    ) -> list[lsp.DocumentSymbol]:
        found = ls.analysis(params.text_document.uri)
        if found.module is None:
            return []
        return [_symbol(s, ls, found) for s in outline(found.module, found.lines)]

    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION,
                    lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]))
    def code_actions(
        ls: FlowLanguageServer, params: lsp.CodeActionParams
    ) -> list[lsp.CodeAction]:
        uri = params.text_document.uri
        found = ls.analysis(uri)
        wanted = params.range
        return [_action(fix, uri, ls, found)
                for fix in fixes(found.diagnostics, found.module, found.lines)
                if _overlaps(ls.range(fix.diagnostic.span, found), wanted)]

    return server


def _completion_item(item: Item) -> lsp.CompletionItem:
    return lsp.CompletionItem(item.label, kind=ITEM_KIND[item.kind], detail=item.detail or None)


def _symbol(s: Symbol, ls: FlowLanguageServer, found: Analysis) -> lsp.DocumentSymbol:
    return lsp.DocumentSymbol(
        s.name, SYMBOL_KIND[s.kind], ls.range(s.span, found), ls.range(s.name_span, found),
        detail=s.detail or None, children=[_symbol(c, ls, found) for c in s.children] or None)


def _action(fix: Fix, uri: str, ls: FlowLanguageServer, found: Analysis) -> lsp.CodeAction:
    edit = lsp.TextEdit(ls.range(fix.span, found), fix.new)
    return lsp.CodeAction(
        f"Replace '{fix.old}' with '{fix.new}'", kind=lsp.CodeActionKind.QuickFix,
        diagnostics=[ls.diagnostic(fix.diagnostic, found)], is_preferred=True,
        edit=lsp.WorkspaceEdit(changes={uri: [edit]}))


def _overlaps(a: lsp.Range, b: lsp.Range) -> bool:
    def key(p: lsp.Position) -> tuple[int, int]:
        return p.line, p.character

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)


def serve() -> None:
    """Run the server over stdin/stdout until the client says ``exit``."""
    build().start_io()

"""``flowc lsp``: a language server for ``.flow`` files (diagnostics, hover, definitions, more).

The server (:mod:`flowc.lsp.server`) only wires LSP messages to pure functions over one
:class:`~flowc.lsp.analysis.Analysis` of a document: the same parse, task import and checks as
``flowc check`` (:mod:`flowc.runtime.project`), so the editor and the terminal never disagree.
"""

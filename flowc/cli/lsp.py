"""``flowc lsp``: the language server for editors, over stdin/stdout (see docs/editor.md)."""

from __future__ import annotations

import click


@click.command()
def lsp() -> None:
    """Run the .flow language server on stdio.

    For editors: diagnostics, hover, completion...
    """
    from flowc.lsp.server import serve

    serve()

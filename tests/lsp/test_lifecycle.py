"""The server process: it says what it can do, and exits cleanly when asked."""

from __future__ import annotations

from tests.lsp.client import LspClient


def test_server_announces_its_features_and_exits_with_status_0_after_shutdown() -> None:
    client = LspClient()
    try:
        capabilities = client.initialize()["capabilities"]
        for feature in ("hoverProvider", "definitionProvider", "completionProvider",
                        "renameProvider", "documentFormattingProvider",
                        "documentSymbolProvider", "codeActionProvider"):
            assert capabilities.get(feature), feature
        assert client.close() == 0
    finally:
        client.kill()  # stopped by pid whatever happened above

"""One ``flowc lsp`` subprocess for the LSP tests (each test opens its own document)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lsp.client import LspClient


@pytest.fixture(scope="module")
def server() -> Iterator[LspClient]:
    client = LspClient()
    try:
        client.initialize()
    except BaseException:
        client.kill()  # a server that never answered is stopped too, not left to init
        raise
    yield client
    client.close()

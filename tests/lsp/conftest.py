"""One ``flowc lsp`` subprocess for the LSP tests (each test opens its own document)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lsp.client import LspClient


@pytest.fixture(scope="module")
def server() -> Iterator[LspClient]:
    client = LspClient()
    client.initialize()
    yield client
    client.close()

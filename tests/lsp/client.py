"""A small LSP client for tests: ``flowc lsp`` as a real subprocess, JSON-RPC over its stdio
with ``Content-Length`` framing. Responses are matched by id; notifications are kept in order.
"""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, BinaryIO

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 10.0
START_TIMEOUT_S = 60.0
"""For the answer to ``initialize``: the server's start (interpreter, imports) is not under
test, and on a loaded 2-core machine it alone took more than 10 s."""


class LspClient:
    """Start ``python -m flowc lsp`` in ``cwd``; ``initialize`` it; talk to it."""

    def __init__(self, cwd: Path = ROOT) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flowc", "lsp"], cwd=cwd,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._ids = itertools.count(1)
        self._responses: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.notifications: queue.Queue[dict[str, Any]] = queue.Queue()
        self.garbage: list[bytes] = []
        """Lines on the server's stdout that are not JSON-RPC framing."""
        assert self.process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,),
                                        daemon=True)
        self._reader.start()

    def initialize(self) -> dict[str, Any]:
        result = self.request("initialize", {"processId": None, "rootUri": ROOT.as_uri(),
                                             "capabilities": {}}, timeout=START_TIMEOUT_S)
        self.notify("initialized", {})
        return result

    # ---- framing ---------------------------------------------------------------------------
    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def _read(self, stream: BinaryIO) -> None:
        while True:
            length = None
            while True:
                header = stream.readline()
                if not header:
                    return  # the server exited
                if header in (b"\r\n", b"\n"):
                    break
                name, _, value = header.decode("utf-8", "replace").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
                elif name.strip().lower() != "content-type":
                    self.garbage.append(header)  # not JSON-RPC: someone wrote to stdout
            assert length is not None, "a message without Content-Length"
            message = json.loads(stream.read(length))
            if "id" in message and "method" not in message:
                self._mailbox(message["id"]).put(message)
            elif "method" in message:
                self.notifications.put(message)

    def _mailbox(self, request_id: int) -> queue.Queue[dict[str, Any]]:
        with self._lock:
            return self._responses.setdefault(request_id, queue.Queue())

    # ---- messages --------------------------------------------------------------------------
    def request(self, method: str, params: Any, timeout: float = TIMEOUT_S) -> Any:
        """Send a request and return its result; raise ``LspError`` on an error response."""
        request_id = next(self._ids)
        self._send({"id": request_id, "method": method, "params": params})
        response = self._mailbox(request_id).get(timeout=timeout)
        if "error" in response:
            raise LspError(response["error"])
        return response.get("result")

    def notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})

    def notification(self, method: str, uri: str | None = None) -> dict[str, Any]:
        """The next notification ``method`` (for ``uri``), skipping others."""
        while True:
            message = self.notifications.get(timeout=TIMEOUT_S)
            params = message.get("params") or {}
            if message["method"] == method and (uri is None or params.get("uri") == uri):
                return dict(params)

    # ---- documents -------------------------------------------------------------------------
    def open(self, path: Path, text: str) -> list[dict[str, Any]]:
        """Open ``path`` with ``text``; the diagnostics the server publishes for it."""
        uri = path.as_uri()
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "flow", "version": 1, "text": text}})
        return list(self.notification("textDocument/publishDiagnostics", uri)["diagnostics"])

    def change(self, path: Path, version: int, text: str) -> list[dict[str, Any]]:
        """Replace the whole text of ``path``; the diagnostics published after the change."""
        uri = path.as_uri()
        self.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"text": text}]})
        return list(self.notification("textDocument/publishDiagnostics", uri)["diagnostics"])

    def at(self, method: str, path: Path, line: int, character: int, **extra: Any) -> Any:
        """A ``textDocument/*`` request at a 0-based position."""
        return self.request(method, {"textDocument": {"uri": path.as_uri()},
                                     "position": {"line": line, "character": character},
                                     **extra})

    def close(self) -> int:
        """``shutdown`` then ``exit``; the server's exit status."""
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            return self.process.wait(timeout=TIMEOUT_S)
        finally:
            self.kill()

    def kill(self) -> None:
        """Stop the server by its pid if it still runs (also when it never answered)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None and not stream.closed:
                stream.close()


class LspError(Exception):
    """An error response: ``.error`` holds its code and message."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.error = error


def position_of(text: str, needle: str, offset: int = 0) -> tuple[int, int]:
    """The 0-based (line, UTF-16 character) of ``needle`` in ``text`` (plus ``offset``)."""
    index = text.index(needle) + offset
    line = text.count("\n", 0, index)
    start = text.rfind("\n", 0, index) + 1
    return line, len(text[start:index].encode("utf-16-le")) // 2

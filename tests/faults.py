"""Network faults for tests: a TCP proxy in front of a private Redis that can lose a reply.

``ReplyDropper(target)`` forwards every connection to the server (a unix socket path, as the
private servers of ``embedded_server_factory`` have, or a ``(host, port)``).
``arm(pattern)`` makes it watch for the next request containing ``pattern``: it forwards that
request (the server runs the command), swallows the server's reply and closes that client's
connection, so the client sees a dropped connection without knowing whether its command ran:
what a Redis shutdown or a network cut between the two can do. Used by the duplicate tests
and the chaos suite; ``stop()`` closes everything it opened.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

CHUNK = 65536


class ReplyDropper:
    """A threaded TCP proxy to ``target``; ``url`` is where clients connect."""

    def __init__(self, target: str | tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.pattern: bytes | None = None
        self.dropped = 0
        """Replies swallowed so far."""
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.stopped = False
        threading.Thread(target=self._accept, name="reply-dropper", daemon=True).start()

    def arm(self, pattern: bytes) -> None:
        """Lose the reply to the next request that contains ``pattern``."""
        with self.lock:
            self.pattern = pattern

    def stop(self) -> None:
        """Close the listener and every proxied connection."""
        self.stopped = True
        for sock in [self.listener, *self.sockets]:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = _connect(self.target)
            except OSError:
                client.close()
                continue
            self.sockets += [client, server]
            state: dict[str, Any] = {"drop": False}
            threading.Thread(target=self._requests, args=(client, server, state),
                             daemon=True).start()
            threading.Thread(target=self._replies, args=(server, client, state),
                             daemon=True).start()

    def _requests(self, client: socket.socket, server: socket.socket,
                  state: dict[str, Any]) -> None:
        try:
            while data := client.recv(CHUNK):
                with self.lock:
                    if self.pattern is not None and self.pattern in data:
                        self.pattern = None
                        state["drop"] = True
                server.sendall(data)
        except OSError:
            pass
        _close(client, server)

    def _replies(self, server: socket.socket, client: socket.socket,
                 state: dict[str, Any]) -> None:
        try:
            while data := server.recv(CHUNK):
                if state["drop"]:  # the reply to the armed request: lose it, cut the link
                    with self.lock:
                        self.dropped += 1
                    break
                client.sendall(data)
        except OSError:
            pass
        _close(client, server)


def _connect(target: str | tuple[str, int]) -> socket.socket:
    if isinstance(target, tuple):
        return socket.create_connection(target)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(target)
    return sock


def _close(*socks: socket.socket) -> None:
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()

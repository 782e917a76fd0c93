"""One raw RESP command over a server's unix socket: how the embedded server and the
rendezvous file check a server is alive, with no client pool (nothing to leak or to retry)."""

from __future__ import annotations

import socket


def send(socket_path: str, command: bytes, timeout: float = 0.5) -> bytes:
    """Send one RESP command over the unix socket; the reply's first bytes, or b"" on failure."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(socket_path)
            sock.sendall(command)
            return sock.recv(64)
        except OSError:
            return b""


def ping(socket_path: str) -> bool:
    """True if a server answers PING on ``socket_path``."""
    return send(socket_path, b"*1\r\n$4\r\nPING\r\n").startswith(b"+PONG")

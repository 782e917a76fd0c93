"""The per-user rendezvous file through which separately started processes share one server.

``flowc worker`` in one terminal and a producer in another, both with no broker configured,
find the same embedded server through it (see ``embedded.ensure_embedded_url``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

from flowc.runtime.redis.socket_ping import ping


def rendezvous_path() -> str:
    """Per-user file naming the running shared server, so separately started processes meet.

    ``flowc worker`` in one terminal and a producer in another, both with no broker configured,
    find the same server through it; it lives in a 0700 directory of the user's own.
    """
    directory = os.path.join(tempfile.gettempdir(), f"flowc-{os.getuid()}")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    return os.path.join(directory, "embedded.url")


def read_rendezvous() -> str | None:
    """The URL in the rendezvous file if its server answers, else None."""
    try:
        with open(rendezvous_path()) as f:
            url = f.read().strip()
    except OSError:
        return None
    if url.startswith("unix://") and ping(url.removeprefix("unix://").partition("?")[0]):
        return url
    return None


def write_rendezvous(url: str) -> None:
    path = rendezvous_path()
    tmp = f"{path}.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(url)
    os.replace(tmp, path)


def clear_rendezvous(url: str) -> None:
    path = rendezvous_path()
    with contextlib.suppress(OSError):
        with open(path) as f:
            if f.read().strip() != url:
                return
        os.unlink(path)


@contextlib.contextmanager
def rendezvous_lock() -> Iterator[None]:
    """Serialise check-then-start between processes of one user."""
    import fcntl

    fd = os.open(rendezvous_path() + ".lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)

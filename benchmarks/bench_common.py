"""Pieces shared by both sides: the throwaway Redis, worker subprocesses, memory sampling, stats."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"


def free_port() -> int:
    """A TCP port nobody listens on right now (bind to 0 and ask)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A private ``redis-server`` on a free loopback port, no persistence; stopped by pid."""

    def __init__(self, binary: str | None = None) -> None:
        self.binary = binary or shutil.which("redis-server")
        if not self.binary:
            raise SystemExit("redis-server is not on PATH (apt-get install redis-server)")
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    DATABASES = 256

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def next_url(self) -> str:
        """A URL on a database no earlier phase used.

        Each phase gets fresh clients on its own database: kombu keeps its connection and
        producer pools in process-wide registries keyed by URL, so closing one phase's Celery
        app would otherwise close the next one's pool too.
        """
        self._db = getattr(self, "_db", 0) + 1
        return f"redis://127.0.0.1:{self.port}/{self._db % self.DATABASES}"

    def version(self) -> str:
        out = subprocess.run([self.binary, "--version"], capture_output=True, text=True).stdout
        for part in out.split():
            if part.startswith("v="):
                return part[2:]
        return out.strip()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--databases", str(self.DATABASES),
             "--protected-mode", "yes",
             "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("redis-server did not start") from None
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_process(self.proc)
        self.proc = None


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM the process (and, after a grace period, SIGKILL it and every descendant)."""
    if proc.poll() is not None:
        return
    try:
        tree = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        tree = []
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(5)
    for child in tree:  # children the warm shutdown did not reap (by pid, never by name)
        with contextlib.suppress(psutil.Error):
            if child.is_running():
                child.kill()


class WorkerProcess:
    """A worker started as a subprocess (its own session) with output captured to a log file."""

    def __init__(self, cmd: list[str], env: dict[str, str], log_path: Path) -> None:
        self.cmd = cmd
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = None

    def start(self) -> None:
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=str(APPS), stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        if self._log is not None:
            self._log.close()
            self._log = None

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def worker_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment of a worker subprocess: ours, plus the apps dir on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(APPS), *filter(None, [env.get("PYTHONPATH")])])
    env.update(extra)
    return env


@dataclass
class MemoryPeak:
    samples: int = 0
    rss: int = 0
    pss: int = 0
    processes: int = 0


class MemorySampler:
    """Samples RSS and PSS summed over a process tree in a thread, keeping the peaks."""

    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.peak = MemoryPeak()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> tuple[int, int, int]:
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0, 0, 0
        rss = pss = n = 0
        for p in procs:
            with contextlib.suppress(psutil.Error):
                info = p.memory_full_info()
                rss += info.rss
                pss += getattr(info, "pss", 0)
                n += 1
        return rss, pss, n

    def _loop(self) -> None:
        while not self._stop.is_set():
            rss, pss, n = self.sample()
            self.peak.samples += 1
            if rss > self.peak.rss:
                self.peak.rss = rss
            if pss > self.peak.pss:
                self.peak.pss = pss
            self.peak.processes = max(self.peak.processes, n)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def iso_to_epoch(value: str) -> float:
    """``date_done`` (ISO 8601, UTC, aware or naive) as unix seconds."""
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        from datetime import UTC

        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def latency_summary(samples_s: list[float]) -> dict[str, float]:
    s = sorted(samples_s)
    return {"n": len(s), "p50_ms": percentile(s, 50) * 1e3, "p90_ms": percentile(s, 90) * 1e3,
            "p99_ms": percentile(s, 99) * 1e3, "mean_ms": statistics.fmean(s) * 1e3,
            "max_ms": s[-1] * 1e3, "min_ms": s[0] * 1e3}


def drain_summary(n: int, done_times: list[float], t_ready: float | None) -> dict[str, float]:
    """Rates from the workers' own completion timestamps (``date_done``).

    ``first_to_last``: (n-1) / (last - first) completion, the steady-state rate the issue asks
    for (boot excluded by construction). ``middle_90``: the rate between the 5th and the 95th
    percentile completion (ramp-up and tail excluded). ``ready_to_last``: n / (last completion -
    worker ready), i.e. including the ramp-up after boot.
    """
    t = sorted(done_times)
    out: dict[str, float] = {"completed": len(t)}
    if len(t) >= 2 and t[-1] > t[0]:
        out["first_to_last_per_s"] = (len(t) - 1) / (t[-1] - t[0])
        out["span_s"] = t[-1] - t[0]
        lo, hi = int(len(t) * 0.05), int(len(t) * 0.95) - 1
        if hi > lo and t[hi] > t[lo]:
            out["middle_90_per_s"] = (hi - lo) / (t[hi] - t[lo])
    if t_ready is not None and t and t[-1] > t_ready:
        out["ready_to_last_per_s"] = len(t) / (t[-1] - t_ready)
        out["first_result_after_ready_s"] = t[0] - t_ready
    return out


def machine_info(redis_version: str) -> dict[str, object]:
    import platform

    info: dict[str, object] = {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "redis_server": redis_version,
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    versions = {}
    for mod in ("celery", "kombu", "redis", "hiredis", "orjson", "billiard", "huey"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions[mod] = version(mod)
    with contextlib.suppress(Exception):
        from importlib.metadata import version

        versions["flowc"] = version("flowc")
    info["packages"] = versions
    return info


@dataclass
class Phase:
    """Everything measured for one system in one run."""

    system: str
    data: dict[str, object] = field(default_factory=dict)


def flowc_tree() -> str:
    """The commit flowc was measured at, and whether flowc's code had uncommitted changes."""
    root = HERE.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "runtime", "compiler",
                                "dsl", "flowc"], cwd=root, capture_output=True, text=True).stdout
    except OSError:
        return "?"
    n = len([ln for ln in dirty.splitlines() if ln.strip()])
    return f"commit {head}" + (f" + {n} uncommitted file(s) in flowc's code" if n else "")


def command_line(script: str, argv: list[str] | None = None) -> str:
    """How the running benchmark was invoked, as a copyable command."""
    import shlex

    args = argv if argv is not None else sys.argv[1:]
    return f"python benchmarks/{script}" + "".join(f" {shlex.quote(a)}" for a in args)


def loadavg() -> list[float]:
    """The 1-, 5- and 15-minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def fmt_load(values: list[float] | tuple[float, ...]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


class DelaySide:
    """What both sides measure the same way, through ``self.task.delay`` and ``.get``."""

    task: Any

    def enqueue(self, n: int, tick: Callable[[int], None]) -> tuple[list[str], float]:
        """``n`` calls of ``noop.delay(i)``, one at a time; returns (ids, seconds)."""
        delay = self.task.delay
        ids: list[str] = []
        append = ids.append
        started = time.perf_counter()
        for i in range(n):
            append(delay(i).id)
            if i % 1000 == 999:
                tick(1000)
        elapsed = time.perf_counter() - started
        tick(n % 1000)
        return ids, elapsed

    def round_trips(self, n: int, warmup: int) -> list[float]:
        """``n`` sequential ``noop.delay(i).get()``; seconds each (after ``warmup`` untimed)."""
        delay = self.task.delay
        for i in range(warmup):
            assert delay(i).get(timeout=30) == i
        out = []
        for i in range(n):
            t0 = time.perf_counter()
            value = delay(i).get(timeout=30)
            out.append(time.perf_counter() - t0)
            assert value == i
        return out

    @staticmethod
    def pool_cmd(cmd: list[str], pool: str) -> list[str]:
        """``cmd`` with the solo pool when asked (default: prefork, concurrency = CPU count)."""
        return [*cmd, "-P", "solo"] if pool == "solo" else cmd

"""The cost of ``flowc_wait_replicas`` (Redis WAIT after each publish) behind Sentinel.

Starts a primary, a replica and three sentinels (tests/topology/servers.py) on private ports,
then times ``delay()`` one call at a time and a batched group publish, with WAIT off and on,
alternating, several runs. Prints ratios; writes benchmarks/sentinel_wait.md.

    python benchmarks/sentinel_wait.py [--calls 3000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from flowc import App  # noqa: E402
from tests.conftest import ProcessReaper  # noqa: E402
from tests.topology.servers import SentinelSet  # noqa: E402


def rate(url: str, wait: int, calls: int) -> float:
    app = App("bench", broker=url, flowc_wait_replicas=wait, flowc_wait_timeout_ms=1000)

    @app.task(name="bench.noop")
    def noop(i: int) -> int:
        return i

    for i in range(200):
        noop.delay(i)
    started = time.perf_counter()
    for i in range(calls):
        noop.delay(i)
    elapsed = time.perf_counter() - started
    app.broker_client.flushdb()
    app.close()
    return calls / elapsed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=3000)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    reaper = ProcessReaper()
    try:
        servers = SentinelSet(Path(tempfile.mkdtemp()), reaper).start()
        off: list[float] = []
        on: list[float] = []
        for run in range(args.runs):
            for wait in ((0, 1) if run % 2 == 0 else (1, 0)):
                (on if wait else off).append(rate(servers.url, wait, args.calls))
                print(f"run {run + 1} wait={wait}: {(on if wait else off)[-1]:,.0f} delay()/s",
                      flush=True)
    finally:
        reaper.reap()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=HERE).stdout.strip()
    ratio = statistics.median(on) / statistics.median(off)
    text = (f"# WAIT for one replica: cost on delay()\n\n"
            f"`python benchmarks/sentinel_wait.py --calls {args.calls} --runs {args.runs}` at "
            f"{commit}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the "
            f"end; one primary + one replica + three sentinels on loopback.\n\n"
            f"| flowc_wait_replicas | delay() per second (median of {args.runs}) | runs |\n"
            f"|---|---|---|\n"
            f"| 0 | {statistics.median(off):,.0f} | {', '.join(f'{x:,.0f}' for x in off)} |\n"
            f"| 1 | {statistics.median(on):,.0f} | {', '.join(f'{x:,.0f}' for x in on)} |\n\n"
            f"With WAIT: {ratio:.2f}x the rate without (each delay() becomes a pipeline of XADD "
            f"+ WAIT, one round trip, plus the replica's acknowledgement).\n")
    (HERE / "sentinel_wait.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

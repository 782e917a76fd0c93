"""``flowc check`` speed: a generated 10,000-node flow (target: under 1 s) and parse rate.

Run from the repository root: ``python benchmarks/check_bench.py [--nodes 10000]``. The flow has
1,000 named results, each a 10-step chain against the examples' real tasks (so task resolution,
signatures, options and every check run), one step per line. Prints the time of each phase,
in-process (best of 3), and of the ``flowc check`` command as a user runs it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flowc.dsl.parser import parse_with_diagnostics  # noqa: E402

from flowc.cli.project import check, load  # noqa: E402

STEPS = 10


def generate(nodes: int) -> str:
    lines = ['use "examples.tasks"', "", "defaults {", '    queue = "default"',
             "    retries = 3", "}", "", "flow big(path: str = \"x.csv\") {"]
    for i in range(nodes // STEPS):
        lines.append(f"    r{i} = extract_record(path) with priority = {i % 10}")
        for _ in range(STEPS - 2):
            lines.append('        -> analyze_chunk(mode="fast")')
        lines.append(f'        -> generate_summary(title="part {i}")')
    lines.append("    execute_db_maintenance()")
    lines.append("}")
    return "\n".join(lines) + "\n"


def generate_compact(nodes: int) -> str:
    """The same number of nodes from a comprehension: a chord of ``nodes - 1`` chunks."""
    return (f'use "examples.tasks"\n\nflow wide(n: int = {nodes - 1}) {{\n'
            "    [analyze_chunk(chunk_id=i) with priority = 3 for i in range(n)]\n"
            '        -> generate_summary(title="all")\n}\n')


def best(fn: object, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=10_000)
    args = parser.parse_args()
    text = generate(args.nodes)
    lines = text.count("\n")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.flow"
        path.write_text(text)
        diags = check(load(path))
        errors = [d for d in diags if d.severity == "error"]
        assert not errors, errors[:3]
        parse_s = best(lambda: parse_with_diagnostics(text))
        check_s = best(lambda: check(load(path)))
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "flowc", "check", str(path)], cwd=ROOT,
                              capture_output=True, text=True)
        cli_s = time.perf_counter() - start
        assert done.returncode == 0, done.stderr
        wide = Path(tmp) / "wide.flow"
        wide.write_text(generate_compact(args.nodes))
        wide_s = best(lambda: check(load(wide)))
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "flowc", "check", str(wide)], cwd=ROOT,
                              capture_output=True, text=True)
        wide_cli_s = time.perf_counter() - start
        assert done.returncode == 0, done.stderr
    print(f"flow: {args.nodes} nodes, {lines} lines, {len(text) / 1024:.0f} KiB")
    print(f"parse:             {parse_s * 1000:7.0f} ms  ({lines / parse_s:,.0f} lines/s)")
    print(f"check in-process:  {check_s * 1000:7.0f} ms  (parse, resolve, lower, all checks)")
    print(f"flowc check (CLI): {cli_s * 1000:7.0f} ms  (including interpreter start-up)")
    print(f"compact flow, {args.nodes} nodes from one comprehension (lowering and checks):")
    print(f"check in-process:  {wide_s * 1000:7.0f} ms")
    print(f"flowc check (CLI): {wide_cli_s * 1000:7.0f} ms  (including interpreter start-up)")


if __name__ == "__main__":
    main()

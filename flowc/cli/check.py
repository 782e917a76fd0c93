"""``flowc check FILE...``: every diagnostic of ``.flow``/YAML files, for people and for CI.

Exit status 0 when no file has an error (warnings are shown), 1 otherwise, 2 for usage errors.
``--format json`` prints one JSON document (``files[].diagnostics[]`` with code, severity,
message, hint and 1-based positions) for editors and tools.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from flowc.cli.options import json_option
from flowc.dsl.diagnostics import Diagnostic, render_all, sort_diagnostics
from flowc.runtime.project import check as check_loaded
from flowc.runtime.project import load

SUFFIXES = (".flow", ".yaml", ".yml")


def expand(paths: tuple[Path, ...]) -> list[Path]:
    """Files as given; a directory stands for the ``.flow``/YAML files in it (recursively)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix.lower() in SUFFIXES)
        else:
            out.append(p)
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    s = d.span
    return {"code": d.code, "severity": d.severity, "message": d.message, "hint": d.hint,
            "line": s.line or None, "col": s.col or None,
            "end_line": s.end_line or None, "end_col": s.end_col or None}


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Human-readable diagnostics or one JSON document.")
@json_option("Print one JSON document (same as --format json).")
def check(files: tuple[Path, ...], output: str, as_json: bool) -> None:
    """Check .flow and YAML files for errors.

    Syntax, names, tasks, arguments, options and schedules, every error at once.
    """
    if as_json:
        output = "json"
    paths = expand(files)
    if not paths:
        raise click.UsageError("no .flow or YAML files found in the given directories")
    report = []
    errors = warnings = flows = schedules = 0
    for path in paths:
        loaded = load(path)
        diags = sort_diagnostics(check_loaded(loaded))
        errors += sum(d.severity == "error" for d in diags)
        warnings += sum(d.severity == "warning" for d in diags)
        if loaded.module is not None:
            flows += len(loaded.module.flows)
            schedules += len(loaded.module.schedules)
        report.append((loaded, diags))
    if output == "json":
        doc = {"files": [{"file": loaded.name,
                          "diagnostics": [diagnostic_json(d) for d in diags]}
                         for loaded, diags in report],
               "errors": errors, "warnings": warnings}
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        sys.exit(1 if errors else 0)
    for loaded, diags in report:
        if diags:
            click.echo(render_all(diags, loaded.text, loaded.name, limit=len(diags) or 1))
            click.echo()
    bad = sum(any(d.severity == "error" for d in diags) for _, diags in report)
    if errors:
        click.echo(f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')} in "
                   f"{bad} of {_plural(len(paths), 'file')}", err=True)
        sys.exit(1)
    extra = f", {_plural(warnings, 'warning')}" if warnings else ""
    click.echo(f"ok: {_plural(len(paths), 'file')}, {_plural(flows, 'flow')}, "
               f"{_plural(schedules, 'schedule')} checked{extra}")

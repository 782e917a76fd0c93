"""``flowc fmt FILE... [--check]``: rewrite ``.flow`` files in the canonical layout.

Files with syntax errors are left alone (their diagnostics are printed). ``--check`` changes
nothing and exits 1 when a file would be reformatted (for CI); ``--diff`` shows how.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import click

from flowc.cli.check import expand
from flowc.dsl.diagnostics import render_all
from flowc.dsl.formatter import format_module
from flowc.runtime.project import is_yaml, load


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--check", "check_only", is_flag=True, help="Change nothing; exit 1 if a file "
              "would be reformatted.")
@click.option("--diff", is_flag=True, help="Print a unified diff instead of writing.")
def fmt(files: tuple[Path, ...], check_only: bool, diff: bool) -> None:
    """Format .flow files in place.

    4-space indents, one stage per line, comments kept.
    """
    changed = failed = 0
    paths = [p for p in expand(files) if not is_yaml(p)]
    for path in paths:
        loaded = load(path, tasks=False)
        errors = [d for d in loaded.diagnostics if d.severity == "error"]
        if loaded.module is None or errors:
            click.echo(render_all(loaded.diagnostics, loaded.text, loaded.name), err=True)
            failed += 1
            continue
        text = format_module(loaded.module)
        if text == loaded.text:
            continue
        changed += 1
        if diff:
            click.echo("".join(difflib.unified_diff(
                loaded.text.splitlines(keepends=True), text.splitlines(keepends=True),
                f"{loaded.name} (original)", f"{loaded.name} (formatted)")))
        elif check_only:
            click.echo(f"would reformat {loaded.name}")
        else:
            path.write_text(text, encoding="utf-8")
            click.echo(f"reformatted {loaded.name}")
    verb = "would be reformatted" if check_only or diff else "reformatted"
    click.echo(f"{changed} of {len(paths)} file{'s' if len(paths) != 1 else ''} {verb}"
               + (f", {failed} with syntax errors" if failed else ""), err=True)
    if failed or ((check_only or diff) and changed):
        sys.exit(1)

"""``flowc convert SOURCE --to yaml|flow``: between ``.flow`` and YAML, or from a Python canvas.

SOURCE is a ``.flow``/YAML file, or ``module:attribute`` naming a canvas in a Python module
(``chain(...)``, ``group``, ``chord``, ``fanout``), exported as a flow called ``attribute``.
Comments do not survive a conversion. Output goes to stdout unless ``-o`` is given.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import click

from flowc.compiler.canvas.export import ExportError, export_flow
from flowc.compiler.canvas.signature import Canvas
from flowc.dsl import ast
from flowc.dsl.diagnostics import render_all
from flowc.dsl.formatter import format_module
from flowc.dsl.yaml_dumper import to_yaml
from flowc.runtime.project import load


def _from_canvas(spec: str) -> ast.Module:
    module_name, _, attr = spec.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as e:
        raise click.ClickException(
            f"cannot import {module_name!r}: {type(e).__name__}: {e}") from None
    canvas = getattr(module, attr, None)
    if not isinstance(canvas, Canvas):
        raise click.ClickException(f"{spec} is not a canvas (chain, group, chord, fanout or a "
                                   "signature)")
    try:
        return export_flow(canvas, attr)
    except ExportError as e:
        raise click.ClickException(f"cannot export {spec}: {e}") from None


def _from_file(path: Path) -> ast.Module:
    loaded = load(path, tasks=False)
    errors = [d for d in loaded.diagnostics if d.severity == "error"]
    if loaded.module is None or errors:
        click.echo(render_all(loaded.diagnostics, loaded.text, loaded.name), err=True)
        click.echo(f"{loaded.name} has errors; nothing converted", err=True)
        sys.exit(1)
    return loaded.module


@click.command()
@click.argument("source")
@click.option("--to", "target", type=click.Choice(["yaml", "flow"]), required=True,
              help="The output form.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Write here instead of stdout.")
def convert(source: str, target: str, output: Path | None) -> None:
    """Convert between .flow, YAML and Python canvases.

    SOURCE is a .flow or YAML file, or a Python canvas as module:attr.
    """
    path = Path(source)
    is_canvas = ":" in source and not path.exists()
    module = _from_canvas(source) if is_canvas else _from_file(path)
    text = to_yaml(module) if target == "yaml" else format_module(module)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as e:
        raise click.ClickException(f"cannot write {output}: {e.strerror or e}") from None
    click.echo(f"wrote {output}", err=True)

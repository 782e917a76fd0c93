"""What ``render``, ``plan`` and ``run`` share: load a file and compile one flow, or say why not."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from flowc.compiler.ir import Workflow
from flowc.dsl.diagnostics import render_all
from flowc.runtime.project import Loaded, compile_one, load

PARAM_HELP = "A flow parameter, name=value (a .flow literal, else text); repeatable."


def params_from(pairs: tuple[str, ...], params_json: str | None) -> dict[str, object]:
    """``--param`` pairs (as text) merged over ``--params-json`` values."""
    import json

    values: dict[str, object] = {}
    if params_json:
        try:
            loaded = json.loads(params_json)
        except json.JSONDecodeError as e:
            raise click.BadParameter(f"not JSON: {e}", param_hint="--params-json") from None
        if not isinstance(loaded, dict):
            raise click.BadParameter("must be a JSON object", param_hint="--params-json")
        values.update(loaded)
    try:
        values.update(parse_params(pairs))
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--param") from None
    return values


def parse_params(pairs: tuple[str, ...]) -> dict[str, str]:
    """``("k=v", ...)`` from ``--param`` options; raises ``ValueError`` naming a bad one."""
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--param needs name=value, got {pair!r}")
        params[key.strip()] = value
    return params


def compile_or_exit(
    path: Path, flow: str | None, params: dict[str, object]
) -> tuple[Loaded, Workflow]:
    """The compiled workflow; on errors, print every diagnostic and exit with status 1."""
    loaded = load(path)
    wf, diags = compile_one(loaded, flow, params)
    errors = [d for d in diags if d.severity == "error"]
    if diags:  # warnings too: they are about this flow only
        click.echo(render_all(diags, loaded.text, loaded.name, limit=len(diags)), err=True)
    if errors or wf is None:
        click.echo(f"{len(errors)} error{'s' if len(errors) != 1 else ''} in {loaded.name}; "
                   "nothing done", err=True)
        sys.exit(1)
    return loaded, wf

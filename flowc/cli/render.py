"""``flowc render FILE [FLOW] -o out.svg``: a picture of a flow (Graphviz or Mermaid).

The format comes from the output's suffix (``svg png pdf dot gv mmd``) or ``--format``; without
``-o`` the DOT (or Mermaid) text goes to stdout. SVG/PNG/PDF need Graphviz's ``dot`` binary.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from flowc.cli.compiling import PARAM_HELP, compile_or_exit, params_from
from flowc.compiler.flow.compile import picture_notes
from flowc.compiler.ir import Workflow
from flowc.compiler.render import render as render_graph
from flowc.compiler.render import to_dot, to_mermaid

FORMATS = ("svg", "png", "pdf", "dot", "mmd")
SUFFIX_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot",
                  ".mmd": "mmd", ".mermaid": "mmd"}


def short_names(wf: Workflow) -> Workflow:
    """``wf`` with tasks labelled by function name (``extract_record``) when that is unambiguous."""
    names = {n.task for n in wf.nodes} | {e.task for e in wf.errbacks}
    short = {name: name.rsplit(".", 1)[-1] for name in names}
    if len(set(short.values())) != len(names):
        return wf
    return wf.model_copy(update={
        "nodes": [n.model_copy(update={"task": short[n.task]}) for n in wf.nodes],
        "errbacks": [e.model_copy(update={"task": short[e.task]}) for e in wf.errbacks]})


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.argument("flow", required=False)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Where to write; the suffix picks the format. Default: DOT text to stdout.")
@click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format when the suffix does not say.")
@click.option("-p", "--param", "params", multiple=True, help=PARAM_HELP)
@click.option("--params-json", default=None, help="All parameters as one JSON object.")
@click.option("--full-names", is_flag=True, help="Label tasks by registered name (module.task).")
def render(file: Path, flow: str | None, output: Path | None, fmt: str | None,
           params: tuple[str, ...], params_json: str | None, full_names: bool) -> None:
    """Draw a flow or a schedule as a graph.

    FLOW defaults to the flow named like the file, else the first.
    """
    if fmt is None:
        fmt = SUFFIX_FORMATS.get(output.suffix.lower(), "") if output else "dot"
        if not fmt:
            raise click.BadParameter(
                f"cannot tell the format from {output}; use one of {', '.join(SUFFIX_FORMATS)} "
                "or --format", param_hint="-o")
    values = params_from(params, params_json)
    loaded, wf = compile_or_exit(file, flow, values)
    assert loaded.module is not None  # compile_or_exit exits otherwise
    notes = picture_notes(loaded.module, loaded.catalog, flow, values, filename=loaded.name)
    if not full_names:
        wf = short_names(wf)
    if fmt == "dot":
        data = to_dot(wf, notes).encode()
    elif fmt == "mmd":
        data = to_mermaid(wf, notes).encode()
    else:
        if shutil.which("dot") is None:
            raise click.ClickException(
                "Graphviz's 'dot' is not installed (apt-get install graphviz, brew install "
                "graphviz); -o out.dot or out.mmd work without it")
        data = render_graph(wf, fmt, notes)
    if output is None:
        click.echo(data.decode(errors="replace"), nl=False)
        return
    try:
        output.write_bytes(data)
    except OSError as e:
        raise click.ClickException(f"cannot write {output}: {e.strerror or e}") from None
    click.echo(f"wrote {output} ({len(wf.nodes)} nodes)", err=True)

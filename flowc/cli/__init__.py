"""The ``flowc`` command (also ``python -m flowc``): one click group, one module per command.

Commands load lazily: ``flowc worker`` imports neither the language front end (lark, YAML,
Graphviz) nor the dashboard, so every pool process is smaller and the command starts sooner.
Errors are one line on stderr (``Error: ...``), user mistakes and flowc's own errors alike;
``flowc --traceback COMMAND`` shows the stack instead.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

import click

COMMANDS = {
    "worker": "flowc.cli.worker:worker",
    "beat": "flowc.cli.beat:beat",
    "run": "flowc.cli.run:run",
    "check": "flowc.cli.check:check",
    "render": "flowc.cli.render:render",
    "fmt": "flowc.cli.fmt:fmt",
    "lsp": "flowc.cli.lsp:lsp",
    "plan": "flowc.cli.plan:plan",
    "convert": "flowc.cli.convert:convert",
    "schedule": "flowc.cli.schedule:schedule",
    "status": "flowc.cli.status:status",
    "inspect": "flowc.cli.inspect:inspect",
    "control": "flowc.cli.control:control",
    "events": "flowc.cli.events:events",
    "purge": "flowc.cli.purge:purge",
    "dlq": "flowc.cli.dlq:dlq",
    "dashboard": "flowc.cli.dashboard:dashboard",
    "call": "flowc.cli.call:call",
    "result": "flowc.cli.call:result",
}
"""Command name -> ``module:attribute`` of its click command."""


class LazyGroup(click.Group):
    """A click group that imports a command's module only when that command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        command: Any = getattr(importlib.import_module(module), attr)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; an exception it lets out becomes one ``Error:`` line."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as e:
            if ctx.meta.get(TRACEBACK_KEY):
                raise
            raise click.ClickException(error_line(e, ctx)) from None

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        """Like click's, but a usage error is one line that names ``--help``."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as e:
            where = e.ctx.command_path if e.ctx is not None else "flowc"
            click.echo(f"Error: {e.format_message()} (see '{where} --help')", err=True)
            sys.exit(e.exit_code)
        except click.ClickException as e:
            e.show()
            sys.exit(e.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)  # an int is ctx.exit(n)'s code


TRACEBACK_KEY = "flowc.traceback"


def error_line(e: Exception, ctx: click.Context) -> str:
    """One line for an exception a command let out: flowc's own errors say what to do; anything
    else is named as unexpected, with how to get the stack for a report."""
    from flowc.dsl.errors import FlowcError
    from flowc.runtime.redis.connection import CONNECTION_ERRORS

    if isinstance(e, FlowcError):
        return str(e)
    if isinstance(e, CONNECTION_ERRORS):
        return f"lost the broker: {e}; check that it runs and is reachable"
    command = ctx.invoked_subcommand or ""
    return (f"unexpected {type(e).__name__}: {e} (this may be a flowc bug: run "
            f"'flowc --traceback {command} ...' and report the stack)")


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="flowc")
@click.option("--traceback", "show_traceback", is_flag=True,
              help="Show the full stack of an error instead of one line.")
@click.pass_context
def main(ctx: click.Context, show_traceback: bool) -> None:
    """flowc: workflows as code, run on Redis with a Celery-compatible task API."""
    ctx.meta[TRACEBACK_KEY] = show_traceback

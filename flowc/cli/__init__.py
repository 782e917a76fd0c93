"""The ``flowc`` command (also ``python -m flowc``): one click group, one module per command.

Commands load lazily: ``flowc worker`` imports neither the language front end (lark, YAML,
Graphviz) nor the dashboard, so every pool process is smaller and the command starts sooner.
"""

from __future__ import annotations

import importlib
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


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="flowc")
def main() -> None:
    """flowc: workflows as code, run on Redis with a Celery-compatible task API."""

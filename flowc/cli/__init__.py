"""The ``flowc`` command (also ``python -m flowc``): one click group, one module per command."""

from __future__ import annotations

import click

from flowc.cli.beat import beat
from flowc.cli.check import check
from flowc.cli.control import control
from flowc.cli.convert import convert
from flowc.cli.dashboard import dashboard
from flowc.cli.dlq import dlq
from flowc.cli.events import events
from flowc.cli.fmt import fmt
from flowc.cli.inspect import inspect
from flowc.cli.plan import plan
from flowc.cli.purge import purge
from flowc.cli.render import render
from flowc.cli.run import run
from flowc.cli.schedule import schedule
from flowc.cli.status import status
from flowc.cli.worker import worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="flowc")
def main() -> None:
    """flowc: workflows as code, run on Redis with a Celery-compatible task API."""


main.add_command(worker)
main.add_command(dlq)
main.add_command(check)
main.add_command(render)
main.add_command(fmt)
main.add_command(plan)
main.add_command(convert)
main.add_command(run)
main.add_command(beat)
main.add_command(schedule)
main.add_command(status)
main.add_command(inspect)
main.add_command(control)
main.add_command(purge)
main.add_command(events)
main.add_command(dashboard)

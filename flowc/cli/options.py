"""Options every command spells the same way (``-A/--app``, ``--broker``, ``--json``), and
opening the App they name with a short, visible check that its broker answers.

The options sit on the command that uses them (``flowc status -A proj``, ``flowc dlq list -A
proj``); the ``control`` and ``dlq`` groups also take them before the subcommand, as they did.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click
import orjson

from flowc.runtime.app import App

AnyCallable = Callable[..., Any]

BROKER_ENV = "FLOWC_BROKER_URL"
REACH_TIMEOUT_S = 3.0
"""How long a command that needs the broker keeps trying before it gives up with the fix."""

APP_HELP = "module[:app] holding the App (Celery's -A)."
BROKER_HELP = "Broker URL, e.g. redis://host:6379/0 (overrides the App's; or $FLOWC_BROKER_URL)."


def app_option(*, required: bool = False) -> AnyCallable:
    """``-A/--app module[:app]``; a value given on the parent group counts too."""
    return click.option("-A", "--app", "app_spec", default=None, required=required,
                        help=APP_HELP, callback=_inherit("app_spec"))


def broker_option() -> AnyCallable:
    """``--broker URL`` (``$FLOWC_BROKER_URL``); a value given on the parent group counts too."""
    return click.option("--broker", "broker_url", default=None, envvar=BROKER_ENV,
                        help=BROKER_HELP, callback=_inherit("broker_url"))


def json_option(help: str = "Print JSON.") -> AnyCallable:
    """``--json``: machine-readable output on stdout."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def app_options(fn: AnyCallable) -> AnyCallable:
    """``-A module[:app]`` and ``--broker URL`` (one of them is needed)."""
    return app_option()(broker_option()(fn))


def _inherit(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A callback that falls back to the same option given on a parent group
    (``flowc dlq -A proj list`` and ``flowc dlq list -A proj`` mean the same)."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        given_here = ctx.get_parameter_source(param.name or "") in (
            click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.PROMPT)
        from_group = ctx.parent.params.get(name) if ctx.parent is not None else None
        return value if given_here or from_group is None else from_group

    return callback


def group_app_options(fn: AnyCallable) -> AnyCallable:
    """``-A`` and ``--broker`` on a group (kept where users already put them there)."""
    fn = click.option("--broker", "broker_url", default=None, envvar=BROKER_ENV,
                      help=BROKER_HELP)(fn)
    return click.option("-A", "--app", "app_spec", default=None, help=APP_HELP)(fn)


def use_broker(broker_url: str | None) -> None:
    """Make ``--broker`` win over the App's own setting, here and in child processes."""
    if broker_url:
        os.environ[BROKER_ENV] = broker_url


def open_app(app_spec: str | None, broker_url: str | None, *, reach: bool = True) -> App:
    """The user's App, or a bare App on ``broker_url``; refuses to start an embedded server.

    With ``reach`` the broker is pinged first, for a few seconds, so an unreachable one ends in
    one line naming the URL and the fix rather than in a stack trace.
    """
    if app_spec:
        from flowc.cli.loading import load_app

        use_broker(broker_url)  # over the App's own broker_url
        app = load_app(app_spec)
    elif not broker_url:
        raise click.UsageError("pass -A module[:app] or --broker redis://host:port/db "
                               "(or set FLOWC_BROKER_URL)")
    else:
        app = App(broker=broker_url)
    if reach:
        reach_broker(app)
    return app


def reach_broker(app: App, *, forever: bool = False) -> None:
    """Ping the App's broker, saying on stderr each time it does not answer.

    Gives up after :data:`REACH_TIMEOUT_S` with ``BrokerUnavailable`` (one line, with the
    fix); ``forever`` (the worker, like Celery's) keeps trying until the server appears.
    The embedded server needs no wait: this process started it or found it answering, and
    if it stopped since (the process that started it exited), it is started again here.
    """
    url = app.broker_url  # resolved first: that is what tells whether it is the embedded one
    if app.broker_is_embedded:
        from flowc.runtime.redis.embedded import revive_shared

        revive_shared(url)
        return
    from flowc.runtime.app import transport
    from flowc.runtime.redis.connection import mask_url, wait_for_broker

    # another broker's adapter fails on connect with BrokerUnavailable itself; its
    # coordination Redis (heartbeats, revocations, events) is the one to wait for here
    url = app.broker_url if transport(app.broker_url) == "redis" else app.coordination_url
    if not url:  # coordination in the PostgreSQL backend: no Redis to wait for
        return

    def say(reason: str, attempt: int, delay_s: float) -> None:
        click.echo(f"cannot reach the broker at {mask_url(url)}: {reason}; "
                   f"trying again in {delay_s:.1f}s"
                   + (" (Ctrl-C to stop)" if forever else f" (attempt {attempt})"), err=True)

    wait_for_broker(url, timeout_s=None if forever else REACH_TIMEOUT_S, on_retry=say)


def echo_json(value: Any) -> None:
    """Print ``value`` as indented JSON."""
    options = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
    click.echo(orjson.dumps(value, option=options, default=str).decode())

"""``flowc dashboard``: the web dashboard (workers, queues, tasks, workflows, dead letters)."""

from __future__ import annotations

import click

from flowc.cli.options import app_options, open_app


@click.command()
@app_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind (anything but loopback needs --auth or a token).")
@click.option("--port", type=int, default=5555, show_default=True)
@click.option("--auth", "basic_auth", default=None, envvar="FLOWC_DASHBOARD_AUTH",
              help="user:password for HTTP basic auth (or $FLOWC_DASHBOARD_AUTH).")
@click.option("--token", default=None, envvar="FLOWC_DASHBOARD_TOKEN",
              help="A secret token to log in with (or $FLOWC_DASHBOARD_TOKEN).")
@click.option("--read-only", is_flag=True, help="Disable every action (revoke, requeue, submit).")
@click.option("--max-tasks", type=int, default=100_000, show_default=True,
              help="Tasks kept in the dashboard's index (oldest forgotten first).")
@click.option("--flow-dir", default=None, type=click.Path(file_okay=False, exists=True),
              help="Directory of .flow files offered on the submit page.")
def dashboard(app_spec: str | None, broker_url: str | None, host: str, port: int,
              basic_auth: str | None, token: str | None, read_only: bool, max_tasks: int,
              flow_dir: str | None) -> None:
    """Serve the live dashboard (Ctrl-C stops it)."""
    import uvicorn

    from flowc.runtime.dashboard.app import create_app
    from flowc.runtime.dashboard.security import AuthConfig, InsecureBind

    try:  # a refused bind is a usage mistake: said before anything connects
        auth = AuthConfig.build(host, basic_auth=basic_auth, token=token, read_only=read_only)
    except InsecureBind as e:
        raise click.UsageError(str(e)) from None
    app = open_app(app_spec, broker_url)
    web = create_app(app, auth, max_tasks=max_tasks, flow_dir=flow_dir)
    where = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    click.echo(f"flowc dashboard on {where}/ ({auth.describe()})", err=True)
    if auth.login_url_hint:
        click.echo(f"log in to enable actions: {where}{auth.login_url_hint}", err=True)
    uvicorn.run(web, host=host, port=port, log_level="warning", access_log=False)


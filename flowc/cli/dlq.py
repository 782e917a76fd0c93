"""``flowc dlq list|show|requeue|purge``: inspect and replay dead-lettered messages."""

from __future__ import annotations

from datetime import UTC, datetime

import click
import orjson
from rich.console import Console
from rich.table import Table

from flowc.cli.options import app_options, echo_json, group_app_options, json_option, open_app
from flowc.runtime.monitoring.dlq import DeadLetter, DeadLetters

REASON_WIDTH = 60


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else "?"


@click.group()
@group_app_options
def dlq(app_spec: str | None, broker_url: str | None) -> None:
    """List, show, requeue or purge dead letters.

    Dead letters are messages no worker could or should run, kept with the reason.

    -A/--broker go after the command (flowc dlq list -A proj); before it works too.
    """


def _letters(app_spec: str | None, broker_url: str | None) -> DeadLetters:
    return DeadLetters(open_app(app_spec, broker_url))


@dlq.command("list")
@click.option("-n", "--limit", default=50, show_default=True, help="Newest entries to show.")
@app_options
@json_option()
def list_(limit: int, app_spec: str | None, broker_url: str | None, as_json: bool) -> None:
    """Show the newest dead letters.

    Id, time, task, task id, reason and worker of each.
    """
    letters = _letters(app_spec, broker_url)
    total = letters.count()
    if as_json:
        echo_json({"total": total, "letters": [_as_dict(x) for x in letters.newest(limit)]})
        return
    if not total:
        click.echo("the dead-letter stream is empty")
        return
    table = Table(title=f"dead letters ({min(limit, total)} of {total}, newest first)")
    for column in ("id", "when (UTC)", "task", "task id", "reason", "worker"):
        table.add_column(column, overflow="fold")
    for letter in letters.newest(limit):
        reason = letter.reason if len(letter.reason) <= REASON_WIDTH \
            else letter.reason[:REASON_WIDTH - 1] + "…"
        table.add_row(letter.id, _when(letter.ts), letter.task, letter.task_id, reason,
                      letter.worker)
    Console(width=200).print(table)


@dlq.command()
@click.argument("entry_id")
@app_options
@json_option()
def show(entry_id: str, app_spec: str | None, broker_url: str | None, as_json: bool) -> None:
    """Show one dead letter in full.

    Its reason, origin and the decoded message.
    """
    letter = _letters(app_spec, broker_url).get(entry_id)
    if letter is None:
        raise click.ClickException(f"no dead letter {entry_id!r}; see `flowc dlq list`")
    if as_json:
        echo_json(_as_dict(letter))
        return
    click.echo(_describe(letter))


def _as_dict(letter: DeadLetter) -> dict[str, object]:
    return {"id": letter.id, "ts": letter.ts, "reason": letter.reason, "worker": letter.worker,
            "source": letter.source, "task": letter.task, "task_id": letter.task_id,
            "message": letter.envelope}


def _describe(letter: DeadLetter) -> str:
    lines = [f"id:      {letter.id}", f"when:    {_when(letter.ts)} UTC",
             f"reason:  {letter.reason}", f"worker:  {letter.worker}",
             f"source:  {letter.source}", f"task:    {letter.task}",
             f"task id: {letter.task_id}"]
    if letter.envelope is not None:
        lines.append("message:")
        lines.append(orjson.dumps(letter.envelope, option=orjson.OPT_INDENT_2,
                                  default=str).decode())
    else:
        lines.append(f"message (undecodable, {len(letter.body)} bytes): {letter.body[:200]!r}")
    return "\n".join(lines)


@dlq.command()
@click.argument("entry_ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Replay every dead letter.")
@click.option("--resign", is_flag=True,
              help="Sign again letters whose signature does not verify (you vouch for them).")
@app_options
def requeue(entry_ids: tuple[str, ...], everything: bool, resign: bool, app_spec: str | None,
            broker_url: str | None) -> None:
    """Put dead letters back on their queues.

    They are removed from the dead-letter stream.
    """
    letters = _letters(app_spec, broker_url)
    ids = letters.all_ids() if everything else list(entry_ids)
    if not ids:
        raise click.UsageError("name entry ids (see `flowc dlq list`) or pass --all")
    n = letters.requeue(ids, resign=resign)
    missing = len(ids) - n - len(letters.refused)
    click.echo(f"requeued {n} message(s)" + (f"; {missing} not found" if missing else ""))
    for entry_id, reason in letters.refused:
        click.echo(f"kept {entry_id}: {reason} (inspect it with `flowc dlq show {entry_id}`; "
                   "--resign replays it signed)")


@dlq.command()
@click.argument("entry_ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Delete every dead letter.")
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
@app_options
def purge(entry_ids: tuple[str, ...], everything: bool, force: bool, app_spec: str | None,
          broker_url: str | None) -> None:
    """Delete dead letters for good."""
    letters = _letters(app_spec, broker_url)
    if not everything and not entry_ids:
        raise click.UsageError("name entry ids (see `flowc dlq list`) or pass --all")
    what = f"all {letters.count()}" if everything else str(len(entry_ids))
    if not force:
        click.confirm(f"delete {what} dead letter(s)?", abort=True)
    n = letters.purge(None if everything else list(entry_ids))
    click.echo(f"deleted {n} dead letter(s)")

"""Commands that read a line: status, log (a job's runs, a resource's versions), logs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from controller.cli.base import (
    HomeCommand,
    complete_names,
    emit_json,
    home_option,
    load_settings,
    main,
    open_home,
    remote_server,
)
from controller.cli.printing import print_status, words

if TYPE_CHECKING:
    from controller.cli.remote import Remote
    from controller.settings import Settings


@main.command(cls=HomeCommand, short_help="Resources, jobs, and why jobs are not running.")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(home: Path | None, as_json: bool) -> None:
    """Show each resource's latest version and each job's last run, or why it waits."""
    if remote := remote_server():
        from controller.cli import remote as remote_cli

        remote_cli.status(remote, as_json)
        return
    from controller.answerclient import ask
    from controller.homelock import serving

    settings = load_settings(home)
    holder = serving(settings.home)  # from HOME/serve.lock, held by a running `gitline serve`
    # the running controller answers from what it holds; else the branches are read here
    answer = ask(str(settings.home), {"ask": "status"}) if holder else None
    held = answer.get("status") if answer is not None else None
    report: dict[str, Any]
    if isinstance(held, dict):
        report = held
    else:
        from controller.service.status import read_status

        report = read_status(settings, *open_home(settings)).to_json()
    report["controller"] = {"pid": holder.pid, "since": holder.since} if holder else None
    if as_json:
        emit_json(report)
        return
    click.echo(f"controller: pid {holder.pid} since {holder.since}" if holder else
               f"controller: not running (start it with `gitline serve {settings.home}`)")
    print_status(report)


@main.command(cls=HomeCommand, short_help="History of a resource or a job.")
@home_option
@click.argument("name", shell_complete=complete_names("any"))
@click.option("-n", "--limit", default=20, show_default=True, help="How many entries.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def log(home: Path | None, name: str, limit: int, as_json: bool) -> None:
    """Versions of resource NAME, or runs of job NAME, newest first, from the state branch."""
    if remote := remote_server():
        from controller.cli import remote as remote_cli

        rows = remote_cli.history(remote, name, limit)
    else:
        rows = _history(load_settings(home), name, limit)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(_history_line(row))
    if not rows:
        raise click.ClickException(f"no history for {name!r} on the state branch")


def _history(settings: Settings, name: str, limit: int) -> list[dict[str, Any]]:
    """A job's runs or a resource's versions as `log --json` shows them."""
    from controller.service.history import entries

    _, store = open_home(settings)
    rows: list[dict[str, Any]] = []
    for entry in entries(store, name, limit):
        row: dict[str, Any] = {"commit": entry.commit, "when": entry.when}
        if entry.version is not None:
            v = entry.version
            row.update(kind="version", number=v.number, versionName=v.name,
                       createdBy=v.created_by)
        elif entry.run is not None:
            r = entry.run
            row.update(kind="run", number=r.number, status=r.status, cause=str(r.cause),
                       worker=r.worker)
        else:
            continue
        rows.append(row)
    return rows


def _history_line(row: dict[str, Any]) -> str:
    at = f"{row['commit'][:7]} {row['when']}"
    if row["kind"] == "version":
        named = f" ({row['versionName']})" if row["versionName"] else ""
        return f"{at}  version {row['number']}{named}  from {row['createdBy']}"
    on = f"  on {row['worker']}" if row["worker"] else ""
    return f"{at}  run {row['number']} {words(row['status'])}  ({row['cause']}){on}"


@main.command(cls=HomeCommand, short_help="Output of a run.")
@home_option
@click.argument("job", shell_complete=complete_names("job"))
@click.argument("run", type=int, required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("-f", "--follow", is_flag=True,
              help="Follow the newest (or RUN's) run as it writes, until it ends; exit 0 if "
              "it succeeded, 1 if not.")
def logs(home: Path | None, job: str, run: int | None, as_json: bool, follow: bool) -> None:
    """Print the log of JOB's latest finished run, or of run RUN (-f: as it runs)."""
    if remote := remote_server():
        _remote_logs(remote, job, run, as_json, follow)
        return
    from controller.service import logs as service_logs

    settings = load_settings(home)
    if follow:
        follower = service_logs.Follower(settings, job, run)
        for chunk in follower:
            sys.stdout.write(chunk)
            sys.stdout.flush()
        ended(job, follower.number, follower.status or "")
    text = service_logs.read_log(*open_home(settings), job, run)
    if as_json:
        emit_json({"job": job, "run": run, "log": text})
        return
    click.echo(text, nl=False)


def _remote_logs(remote: Remote, job: str, run: int | None, as_json: bool,
                 follow: bool) -> None:
    from controller.cli import remote as remote_cli

    if follow:
        ended(job, *remote_cli.follow(remote, job, run))
    text = remote_cli.read_log(remote, job, run)
    if as_json:
        emit_json({"job": job, "run": run, "log": text})
        return
    click.echo(text, nl=False)


def ended(job: str, number: int, status: str) -> None:
    """Say how a followed run ended, and exit 0 if it succeeded, 1 if not."""
    click.echo(f"gitline: {job} run {number} {words(status)}", err=True)
    raise click.exceptions.Exit(0 if status == "succeeded" else 1)

"""Commands that ask a line to act, as the local user: trigger, approve, cancel, replay.

The checks and the writing are the service layer's (controller/service/actions.py), the
same as the API's; here only the arguments and the words."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from controller.cli.base import (
    HomeCommand,
    complete_names,
    home_option,
    load_settings,
    local_actor,
    main,
    open_home,
    remote_server,
)

if TYPE_CHECKING:
    from controller.service.actions import Answer, Requests
    from controller.settings import Settings

WATCH = click.option("--watch", is_flag=True,
                     help="Then follow the run this starts until it ends (as logs -f); exit "
                     "0 if it succeeded, 1 if not.")
WAIT = click.option("--wait", "wait_seconds", type=float, default=5.0, show_default=True,
                    help="Seconds to wait for the controller's answer.")


def parse_params(params: tuple[str, ...]) -> dict[str, str]:
    """-p KEY=VALUE options as a mapping (UsageError for a malformed or refused one)."""
    from controller.core import triggers

    values: dict[str, str] = {}
    for p in params:
        key, sep, value = p.partition("=")
        if not sep or not key.isidentifier():
            raise click.UsageError(f"--param {p!r}: expected KEY=VALUE")
        if triggers.denied(key):
            raise click.UsageError(f"--param {key}: {triggers.denied(key)}")
        values[key] = value
    return values


@main.command(cls=HomeCommand, short_help="Start a job by committing triggers/JOB.")
@home_option
@click.argument("job", shell_complete=complete_names("job"))
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A variable for that run (repeatable).")
@click.option("-m", "--message", help="Commit message.")
@WATCH
def trigger(home: Path | None, job: str, params: tuple[str, ...], message: str | None,
            watch: bool) -> None:
    """Commit triggers/JOB to the config branch, exactly as a user's commit would."""
    from controller.cli import watching

    if remote := remote_server():
        from controller.cli import remote as remote_cli

        before = watching.newest_number(None, remote, job) if watch else 0
        remote_cli.trigger(remote, job, parse_params(params), message)
        if watch:
            watching.watch_after(None, remote, job, before)
        return
    from controller.service import actions
    from controller.service.names import check_job, running_names

    settings = load_settings(home)
    jobs, _ = running_names(*open_home(settings))
    check_job(jobs, job)  # a wrong name is said before a wrong parameter
    values = parse_params(params)
    before = watching.newest_number(settings, None, job) if watch else 0
    note = f"gitline trigger at {datetime.now(UTC).isoformat(timespec='seconds')}"
    sha = actions.trigger(settings, jobs, job, values, local_actor(),
                          message=message or f"trigger {job}", note=note)
    click.echo(f"committed triggers/{job} as {sha[:7]}; the controller runs {job} once")
    if watch:
        watching.watch_after(settings, None, job, before)


def _requests(settings: Settings, wait_seconds: float) -> Requests:
    from controller.homelock import serving
    from controller.service.actions import Requests

    return Requests(settings.home, wait_seconds,
                    controller_running=lambda: serving(settings.home) is not None)


def _said(answer: Answer) -> None:
    click.echo(answer.message)


@main.command(cls=HomeCommand, short_help="Approve (or reject) a job's pending run.")
@home_option
@click.argument("job", shell_complete=complete_names("job"))
@click.option("--reject", is_flag=True, help="Reject instead: the pending run is cancelled.")
@click.option("-m", "--message", "reason", default="", help="Why (recorded on the run).")
@WAIT
@WATCH
def approve(home: Path | None, job: str, reject: bool, reason: str,
            wait_seconds: float, watch: bool) -> None:
    """Approve JOB's pending run as the unix user running this (or cancel it: --reject).

    The controller commits approvals/JOB for you: it knows who you are from the owner of
    the request file in HOME/requests (local_users in gitline.yml maps users to emails).
    With --server, the controller commits it as the token's (which needs the approve scope).
    """
    from controller.cli import watching

    decision = "reject" if reject else "approve"
    if remote := remote_server():
        from controller.cli import remote as remote_cli

        pending = watching.pending_number(None, remote, job) if watch else None
        remote_cli.decide(remote, job, decision, reason)
        if pending is not None:
            watching.watch(None, remote, job, pending)
        return
    from controller.service.names import running_workflow

    settings = load_settings(home)
    config, store = open_home(settings)
    snap = store.read_snapshot()
    pending = watching.pending_number(settings, None, job) if watch else None
    _said(_requests(settings, wait_seconds).approve(
        running_workflow(config, store, snap, settings), snap, job, decision, reason,
        local_actor()))
    if pending is not None:
        watching.watch(settings, None, job, pending)


@main.command(cls=HomeCommand, short_help="Stop a job's running or waiting runs.")
@home_option
@click.argument("job", shell_complete=complete_names("job"))
@WAIT
def cancel(home: Path | None, job: str, wait_seconds: float) -> None:
    """Ask the controller to cancel JOB's runs: running ones are stopped, on_cancel runs.

    Prints which runs were cancelled, or that no controller runs and the request waits.
    """
    if remote := remote_server():
        from controller.cli import remote as remote_cli

        remote_cli.cancel(remote, job)
        return
    from controller.service.names import running_names

    settings = load_settings(home)
    jobs, _ = running_names(*open_home(settings))
    _said(_requests(settings, wait_seconds).cancel(jobs, job, local_actor()))


@main.command(cls=HomeCommand, short_help="Run a past run again with exactly its inputs.")
@home_option
@click.argument("job", shell_complete=complete_names("job"))
@click.argument("run", type=int)
@WAIT
def replay(home: Path | None, job: str, run: int, wait_seconds: float) -> None:
    """Queue a new run of JOB with the exact input versions and parameters of run RUN.

    Prints the number of the new run, or that no controller runs and the request waits.
    """
    if remote := remote_server():
        from controller.cli import remote as remote_cli

        remote_cli.replay(remote, job, run)
        return
    from controller.service.names import running_names

    settings = load_settings(home)
    config, store = open_home(settings)
    jobs, _ = running_names(config, store)
    _said(_requests(settings, wait_seconds).replay(jobs, store, job, run, local_actor()))

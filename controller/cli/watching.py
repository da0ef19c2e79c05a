"""`--watch` on trigger and approve: follow the run the command starts, to its end.

The number of that run is known before the command acts (a trigger's run is the first
numbered above the job's newest; an approval's is the pending run), so the watch follows
exactly it, locally through service.logs.Follower or remotely through the API, and exits
as `gitline logs -f` does: 0 if it succeeded, 1 if not.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import click

from controller.cli.reading import ended

if TYPE_CHECKING:
    from controller.cli.remote import Remote
    from controller.settings import Settings

START_SECONDS = 120.0  # how long a watch waits for the controller to start the run


def newest_number(settings: Settings | None, remote: Remote | None, job: str) -> int:
    """The highest run number `job` has now (0: none)."""
    return max((n for n, _ in _runs(settings, remote, job)), default=0)


def pending_number(settings: Settings | None, remote: Remote | None, job: str) -> int | None:
    """The number of `job`'s run waiting for approval, if any."""
    return next((n for n, s in _runs(settings, remote, job) if s == "pending_approval"), None)


def _runs(settings: Settings | None, remote: Remote | None, job: str) -> list[tuple[int, str]]:
    """(number, status) of `job`'s runs in flight and its newest one."""
    if remote is not None:
        found: list[dict[str, Any]] = remote.call("GET", remote.job(job, "/runs?limit=50"))["runs"]
        return [(int(r["number"]), str(r["status"])) for r in found]
    from controller.service.repos import open_readers

    assert settings is not None
    _, store, cat = open_readers(settings)
    with cat:
        hist = store.read_snapshot().jobs.get(job)
    if hist is None:
        return []
    runs: list[tuple[int, str]] = [(r.number, r.status) for r in hist.active]
    return runs + ([(hist.last.number, hist.last.status)] if hist.last else [])


def watch_after(settings: Settings | None, remote: Remote | None, job: str, after: int) -> None:
    """Wait for `job`'s first run numbered above `after`, then follow it to its end."""
    deadline = time.monotonic() + START_SECONDS
    click.echo(f"gitline: waiting for {job}'s run to start...", err=True)
    while newest_number(settings, remote, job) <= after:
        if time.monotonic() > deadline:
            raise click.ClickException(
                f"no run of {job} was queued within {START_SECONDS:g} s: is `gitline serve` "
                "running? (`gitline status` says why a job waits)")
        time.sleep(0.3)
    watch(settings, remote, job, after + 1)  # numbers are given in order


def watch(settings: Settings | None, remote: Remote | None, job: str, number: int) -> None:
    """Follow `job` run `number` as it writes, then exit with its status."""
    if remote is not None:
        from controller.cli import remote as remote_cli

        ended(job, *remote_cli.follow(remote, job, number))
    from controller.service.logs import Follower

    assert settings is not None
    follower = Follower(settings, job, number)
    for chunk in follower:
        sys.stdout.write(chunk)
        sys.stdout.flush()
    ended(job, follower.number, follower.status or "")

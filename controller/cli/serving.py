"""Commands that run things: init, serve, worker, workers, gc."""

from __future__ import annotations

import os
from pathlib import Path

import click

from controller.cli.base import (
    HOME_ARG,
    HomeCommand,
    home_option,
    load_settings,
    log_options,
    main,
    open_home,
)


@main.command(short_help="Create a Gitline home with its config repository.")
@HOME_ARG
def init(home: Path) -> None:
    """Create HOME/config.git (bare, branch main), HOME/gitline.yml and the hooks."""
    from controller.store.repoinit import init_home

    repo = init_home(home)
    click.echo(f"Initialised {repo}\nNext: git clone {repo} work && cd work, add shippable.yml,"
               f" commit, push; run `gitline serve {home}`.")


@main.command(short_help="Run the controller in the foreground.")
@HOME_ARG
@click.option("--workers", type=click.IntRange(min=1),
              help="Runs at once (default from HOME/gitline.yml: 4).")
@click.option("--poll", "poll_seconds", type=click.FloatRange(min=0, min_open=True),
              help="Safety-net poll interval in seconds.")
@log_options
@click.option("--listen", help="HTTP address for git, the API and webhooks, HOST:PORT "
              "(default from HOME/gitline.yml: 127.0.0.1:8080; '' or none: off).")
def serve(home: Path, workers: int | None, poll_seconds: float | None, verbose: bool,
          log_format: str, log_level: str | None, listen: str | None) -> None:
    """Watch HOME/config.git and run jobs until SIGINT or SIGTERM."""
    import signal
    import threading

    from controller.homelock import HomeBusy, HomeLock
    from controller.service.repos import check_home

    settings = load_settings(home, workers=workers, poll_seconds=poll_seconds,
                         listen="none" if listen == "" else listen)
    check_home(settings)
    lock = HomeLock(settings.home)
    try:  # before anything reads the state: a second controller must touch nothing
        lock.acquire()
    except HomeBusy as err:
        raise click.ClickException(str(err)) from err
    except OSError as err:
        raise click.ClickException(f"{lock.path}: cannot lock: {err.strerror}") from err
    from controller import logsetup
    from controller.app import Controller
    from controller.execution.sandbox import SandboxError

    logsetup.configure(log_level or ("debug" if verbose else "info"), log_format)
    try:
        controller = Controller(settings)
    except SandboxError as err:
        raise click.ClickException(str(err)) from err
    stop = threading.Event()

    def stopping(*_: object) -> None:
        stop.set()
        controller.loop.poke()  # at once: a long --poll must not delay the stop

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stopping)
    try:
        controller.serve(stop)
    finally:
        lock.release()
    click.echo("gitline: stopped", err=True)


@main.command(cls=HomeCommand, short_help="Live Celery workers, their queues and runs.")
@home_option
def workers(home: Path | None) -> None:
    """List the workers that answer on the controller's broker (their queues, free slots,
    the runs they hold and how long ago each last sent a heartbeat) and each queue the
    workflow sends to, with the runs waiting there and who serves it."""
    from controller.execution import workerlist
    from controller.service.workers import survey

    settings = load_settings(home)
    try:
        click.echo(workerlist.render(survey(settings, *open_home(settings))))
    except (OSError, ImportError) as err:
        raise click.ClickException(f"cannot ask the broker: {err}") from err


@main.command(short_help="Run a Celery worker that runs jobs for a controller.")
@click.option("--broker", "broker_url", envvar="GITLINE_BROKER_URL", required=True,
              help="Redis URL of the broker and result backend, the controller's broker_url "
              "(e.g. redis://127.0.0.1:6379/0; env GITLINE_BROKER_URL).")
@click.option("--queues", default="gitline", show_default=True, envvar="GITLINE_WORKER_QUEUES",
              help="Comma-separated queues to take runs from: a job with runtime.nodePool: X "
              "goes to queue X, any other to the controller's default_queue (gitline).")
@click.option("--concurrency", type=click.IntRange(min=1), default=2, show_default=True,
              help="Runs at once on this worker (processes).")
@click.option("--work-root", type=click.Path(file_okay=False, path_type=Path),
              envvar="GITLINE_WORK_ROOT",
              help="Where run folders are made (default ~/.gitline-worker/work).")
@click.option("--hostname", default="", help="Celery node name (default gitline-PID@HOST).")
@click.option("--sandbox", "sandbox_kind", default="bwrap", show_default=True,
              envvar="GITLINE_SANDBOX", type=click.Choice(["bwrap", "none"]),
              help="What job steps run in (as the controller's `sandbox` setting).")
@click.option("--sandbox-bind", default="", envvar="GITLINE_SANDBOX_BIND",
              help="Extra folders jobs may write (comma-separated absolute paths).")
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path),
              envvar="GITLINE_WORKER_KEY_FILE",
              help="The controller's HOME/worker.key, which seals every run sent (env "
              "GITLINE_WORKER_KEY_FILE, or the key itself in GITLINE_WORKER_KEY).")
@click.option("--controller", "controller_url", default="", envvar="GITLINE_CONTROLLER_URL",
              help="The controller's HTTP base URL (e.g. https://ci.example:8080): input "
              "files over 1 MB are fetched from it, not sent in the message.")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path),
              envvar="GITLINE_WORKER_TOKEN_FILE",
              help="A file holding a controller token with the worker scope (gitline token "
              "add HOME NAME --scope worker), or the token in GITLINE_WORKER_TOKEN.")
@log_options
def worker(broker_url: str, queues: str, concurrency: int, work_root: Path | None,
           hostname: str, sandbox_kind: str, sandbox_bind: str, key_file: Path | None,
           controller_url: str, token_file: Path | None,
           verbose: bool, log_format: str, log_level: str | None) -> None:
    """Take runs from the broker's QUEUES and run them here until SIGTERM or Ctrl-C.

    Jobs run exactly as on the controller's machine (same folders, variables and
    shipctl); the controller records them. Needs the `celery` extra:
    pip install 'gitline[celery]'. Runs travel as JSON, never pickle.
    """

    try:
        from controller.execution import celery_worker
    except ImportError as err:
        raise click.ClickException(f"{err}: install the celery extra "
                                   "(pip install 'gitline[celery]')") from err
    names = [q.strip() for q in queues.split(",") if q.strip()]
    if not names:
        raise click.UsageError("--queues names no queue")
    from controller.execution import sealing

    try:
        if key_file is not None:
            key = sealing.read_key(key_file)
        elif os.environ.get("GITLINE_WORKER_KEY"):
            key = sealing.check_key(os.environ["GITLINE_WORKER_KEY"].strip().encode(),
                                    "GITLINE_WORKER_KEY")
        else:
            raise click.UsageError("give the controller's HOME/worker.key with --key-file "
                                   "(or GITLINE_WORKER_KEY_FILE, or the key in "
                                   "GITLINE_WORKER_KEY)")
    except sealing.SealError as err:
        raise click.ClickException(str(err)) from err
    try:
        token = (token_file.read_text().strip() if token_file is not None
                 else os.environ.get("GITLINE_WORKER_TOKEN", "").strip())
    except OSError as err:
        raise click.ClickException(f"cannot read {token_file}: {err.strerror}") from err
    from controller import logsetup

    logsetup.configure(log_level or ("debug" if verbose else "info"), log_format)
    from controller.execution import sandbox

    binds = tuple(p.strip() for p in sandbox_bind.split(",") if p.strip())
    try:
        box = sandbox.find(sandbox_kind, binds=binds)
    except sandbox.SandboxError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"gitline worker: sandbox: {box.describe()}", err=True)
    celery_worker.run_worker(broker_url, queues=names, concurrency=concurrency,
                             work_root=work_root or celery_worker.default_work_root(),
                             key=key, hostname=hostname,
                             loglevel="DEBUG" if verbose else "INFO", box=box,
                             controller=controller_url.strip(), token=token)



@main.command(cls=HomeCommand, short_help="Housekeeping now: pack, index, prune.")
@home_option
@click.option("--keep-pushes", type=click.IntRange(min=0), default=None,
              help="Trim HOME/pushes.jsonl to this many entries (default: rotate it "
                   "as pushes_rotate_lines says).")
def gc(home: Path | None, keep_pushes: int | None) -> None:
    """Pack the state branch's objects (unreachable ones older than two weeks pruned) and
    write its commit-graph, remove old run folders (the newest 3 of each job stay, none
    of a job no longer defined; never a running one) and mirrors of repositories no
    resource follows, rotate HOME/pushes.jsonl; print what each freed. Safe beside a
    running controller."""
    from controller.service.housekeeping import collect_garbage

    for step in collect_garbage(load_settings(home), keep_pushes):
        click.echo(step.line)

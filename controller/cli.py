"""The `gitline` command: thin. Each command parses, calls one function, prints.

Exit codes come from exceptions: ClickException exits 1, UsageError 2.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from controller.settings import Settings, SettingsError

HOME_ARG = click.argument("home", envvar="GITLINE_HOME", type=click.Path(path_type=Path))


def _settings(home: Path, **overrides) -> Settings:
    try:
        return Settings.load(home, **overrides)
    except SettingsError as err:
        raise click.ClickException(str(err)) from err


def _open(home: Path):
    # Only the store: importing controller.app (scheduler, HTTP server, executors) cost
    # `gitline log` ~250 ms of its 200 ms budget.
    from controller.store.configrepo import ConfigRepo
    from controller.store.gitstate import GitStateStore

    settings = _settings(home)
    if not settings.repo_path.is_dir():
        raise click.ClickException(
            f"{settings.home} is not a Gitline home: run `gitline init {settings.home}`")
    return (ConfigRepo(settings.repo_path, settings.branch),
            GitStateStore(settings.repo_path, settings.state_branch))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gitline")
def main() -> None:
    """Gitline: push workflow YAML to a git repository; jobs run; state is git history."""


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
@click.option("--workers", type=int, help="Runs at once (default from HOME/gitline.yml: 4).")
@click.option("--poll", "poll_seconds", type=float, help="Safety-net poll interval in seconds.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.option("--listen", help="HTTP address for git, the API and webhooks, HOST:PORT "
              "(default from HOME/gitline.yml: 127.0.0.1:8080; '' or none: off).")
def serve(home: Path, workers: int | None, poll_seconds: float | None, verbose: bool,
          listen: str | None) -> None:
    """Watch HOME/config.git and run jobs until SIGINT or SIGTERM."""
    from controller.app import Controller, HomeError
    from controller.execution.sandbox import SandboxError

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    try:
        controller = Controller(_settings(home, workers=workers, poll_seconds=poll_seconds,
                                          listen="none" if listen == "" else listen))
    except (HomeError, SandboxError) as err:
        raise click.ClickException(str(err)) from err
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    controller.serve(stop)
    click.echo("gitline: stopped", err=True)


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
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def worker(broker_url: str, queues: str, concurrency: int, work_root: Path | None,
           hostname: str, sandbox_kind: str, sandbox_bind: str, verbose: bool) -> None:
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
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    from controller.execution import sandbox

    binds = tuple(p.strip() for p in sandbox_bind.split(",") if p.strip())
    try:
        box = sandbox.find(sandbox_kind, binds=binds)
    except sandbox.SandboxError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"gitline worker: sandbox: {box.describe()}", err=True)
    celery_worker.run_worker(broker_url, queues=names, concurrency=concurrency,
                             work_root=work_root or celery_worker.default_work_root(),
                             hostname=hostname, loglevel="DEBUG" if verbose else "INFO",
                             box=box)


@main.group(short_help="API and git-over-HTTP tokens.")
def token() -> None:
    """Tokens for `gitline serve`'s HTTP side: git clone/push and the API (basic auth)."""


@token.command("add", short_help="Make a token (printed once).")
@HOME_ARG
@click.argument("name")
def token_add(home: Path, name: str) -> None:
    """Make a token for NAME; only its hash is kept, in HOME/tokens.yml."""
    from controller.server.auth import TokenError, TokenStore

    try:
        value = TokenStore(home).add(name)
    except TokenError as err:
        raise click.ClickException(str(err)) from err
    click.echo(value)
    click.echo(f"token for {name}: use it as the password, e.g. "
               f"git clone http://{name}:<token>@HOST:PORT/config.git", err=True)


@token.command("remove", short_help="Revoke a token.")
@HOME_ARG
@click.argument("name")
def token_remove(home: Path, name: str) -> None:
    """Revoke NAME's token; requests with it are refused at once."""
    from controller.server.auth import TokenError, TokenStore

    try:
        TokenStore(home).remove(name)
    except TokenError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"removed the token of {name}")


@token.command("list", short_help="Names of the tokens.")
@HOME_ARG
def token_list(home: Path) -> None:
    """Print each token's name and when it was made (never the token)."""
    from controller.server.auth import TokenStore

    for name, created in TokenStore(home).list().items():
        click.echo(f"{name}\t{created}")


@main.command(short_help="Resources, jobs, and why jobs are not running.")
@HOME_ARG
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(home: Path, as_json: bool) -> None:
    """Show each resource's latest version and each job's last run, or why it waits."""
    from controller.app import HomeError, read_status

    try:
        report = read_status(_settings(home))
    except HomeError as err:
        raise click.ClickException(str(err)) from err
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    cfg = report["config"]
    click.echo(f"config: processed {cfg['processed'][:7] or '-'}, running {cfg['good'][:7] or '-'}")
    for p in cfg["problems"]:
        click.echo(f"  {p}")
    for t in cfg["triggerErrors"]:
        click.echo(f"  trigger error: {t}")
    click.echo("resources:")
    for name, r in report["resources"].items():
        ver = f"v{r['version']}" if r["version"] else "no version"
        vname = f" ({r['versionName'][:12]})" if r["versionName"] else ""
        bad = f"  INCONSISTENT: {r['inconsistent']}" if r["inconsistent"] else ""
        click.echo(f"  {name:<24} {r['type']:<12} {ver}{vname}{bad}")
    click.echo("jobs:")
    for name, j in report["jobs"].items():
        last = j["lastRun"]
        shown = f"run {last['number']} {last['status']} ({last['cause']})" if last else "never run"
        click.echo(f"  {name:<24} {shown}")
        for a in j["active"]:
            note = f" ({a['message']})" if a.get("message") else ""
            click.echo(f"  {'':<24} run {a['number']} {a['status'].replace('_', ' ')}{note}")
        if j["waiting"]:
            click.echo(f"  {'':<24} not running: {j['waiting']}")


@main.command(short_help="History of a resource or a job.")
@HOME_ARG
@click.argument("name")
@click.option("-n", "--limit", default=20, show_default=True, help="How many entries.")
def log(home: Path, name: str, limit: int) -> None:
    """Versions of resource NAME, or runs of job NAME, newest first, from the state branch."""
    _, store = _open(home)
    found = False
    for entry in store.history(name, limit=limit):
        found = True
        if entry.version is not None:
            v = entry.version
            label = f" ({v.name})" if v.name else ""
            click.echo(f"{entry.commit[:7]} {entry.when}  version {v.number}{label}"
                       f"  from {v.created_by}")
        elif entry.run is not None:
            r = entry.run
            click.echo(f"{entry.commit[:7]} {entry.when}  run {r.number} {r.status}"
                       f"  ({r.cause})")
    if not found:
        raise click.ClickException(f"no history for {name!r} on the state branch")


@main.command(short_help="Output of a run.")
@HOME_ARG
@click.argument("job")
@click.argument("run", type=int, required=False)
def logs(home: Path, job: str, run: int | None) -> None:
    """Print the log of JOB's latest finished run, or of run RUN."""
    _, store = _open(home)
    text = store.read_log(job, run)
    if text is None:
        raise click.ClickException(f"no log for {job}" + (f" run {run}" if run else ""))
    click.echo(text, nl=False)


@main.command(short_help="Start a job by committing triggers/JOB.")
@HOME_ARG
@click.argument("job")
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A variable for that run (repeatable).")
@click.option("-m", "--message", help="Commit message.")
def trigger(home: Path, job: str, params: tuple[str, ...], message: str | None) -> None:
    """Commit triggers/JOB to the config branch, exactly as a user's commit would."""
    from controller.core import triggers

    config, _ = _open(home)
    if triggers.trigger_job(f"triggers/{job}") != job:
        raise click.UsageError(f"{job!r} is not a valid job name")
    values: dict[str, str] = {}
    for p in params:
        key, sep, value = p.partition("=")
        if not sep or not key.isidentifier():
            raise click.UsageError(f"--param {p!r}: expected KEY=VALUE")
        if triggers.denied(key):
            raise click.UsageError(f"--param {key}: {triggers.denied(key)}")
        values[key] = value
    text = triggers.render_params(
        values, f"gitline trigger at {datetime.now(UTC).isoformat(timespec='seconds')}")
    user, email = _identity()
    sha = config.commit_file(f"triggers/{job}", text, message or f"trigger {job}", user, email)
    click.echo(f"committed triggers/{job} as {sha[:7]}; the controller runs {job} once")


def _identity() -> tuple[str, str]:
    """Who is acting, as git would record it: GIT_AUTHOR_*, then git config, then $USER."""
    def git_config(key: str) -> str:
        try:
            out = subprocess.run(["git", "config", "--get", key], capture_output=True,
                                 text=True, timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return out.stdout.strip()

    user = (os.environ.get("GIT_AUTHOR_NAME") or git_config("user.name")
            or os.environ.get("USER") or "gitline")
    email = os.environ.get("GIT_AUTHOR_EMAIL") or git_config("user.email") or f"{user}@localhost"
    return user, email


@main.command(short_help="Approve (or reject) a job's pending run.")
@HOME_ARG
@click.argument("job")
@click.option("--reject", is_flag=True, help="Reject instead: the pending run is cancelled.")
@click.option("-m", "--message", "reason", default="", help="Why (recorded on the run).")
def approve(home: Path, job: str, reject: bool, reason: str) -> None:
    """Commit approvals/JOB: the pending run of JOB runs (or is cancelled with --reject)."""
    from controller.core import approvals

    config, _ = _open(home)
    if approvals.approval_job(f"approvals/{job}") != job:
        raise click.UsageError(f"{job!r} is not a valid job name")
    decision = "reject" if reject else "approve"
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    body = f"{decision}{': ' + reason if reason else ''}\n# gitline approve at {stamp}\n"
    user, email = _identity()
    sha = config.commit_file(f"approvals/{job}", body.encode(), f"{decision} {job}", user, email)
    click.echo(f"committed approvals/{job} ({decision}) as {sha[:7]} by {user} <{email}>")


@main.command(short_help="Stop a job's running or waiting runs.")
@HOME_ARG
@click.argument("job")
def cancel(home: Path, job: str) -> None:
    """Ask the controller to cancel JOB's runs: running ones are stopped, on_cancel runs."""
    _request(home, "cancel", job=job)


@main.command(short_help="Run a past run again with exactly its inputs.")
@HOME_ARG
@click.argument("job")
@click.argument("run", type=int)
def replay(home: Path, job: str, run: int) -> None:
    """Queue a new run of JOB with the exact input versions and parameters of run RUN."""
    _request(home, "replay", job=job, run=run)


def _request(home: Path, action: str, **fields: object) -> None:
    from controller.reactor.requests import write_request

    _open(home)
    user, email = _identity()
    path = write_request(_settings(home).home, action, by=f"{user} <{email}>", **fields)
    for _ in range(50):  # a running controller picks it up at once
        if not path.exists():
            click.echo(f"{action} of {fields['job']}: done by the controller")
            return
        time.sleep(0.1)
    click.echo(f"{action} of {fields['job']}: requested; the controller handles it when it "
               "runs (gitline serve)")


@main.command(short_help="Check workflow files offline.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Load PATHS (files or folders) as one workflow; print path:line:col: problems."""
    from controller.core import loader

    wf = loader.load_workflow(_read_files(paths))
    for p in wf.problems:
        click.echo(str(p))
    errors = len(wf.errors)
    click.echo(f"{len(wf.resources)} resources, {len(wf.jobs)} jobs, {errors} errors, "
               f"{len(wf.problems) - errors} warnings", err=True)
    if errors:
        sys.exit(1)


@main.command(short_help="Draw the workflow (DOT or Mermaid).")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["dot", "mermaid"]), default="dot",
              show_default=True, help="Graphviz DOT or a Mermaid flowchart.")
def graph(paths: tuple[Path, ...], fmt: str) -> None:
    """Print the resources, jobs and edges of PATHS; switch: off edges are dotted."""
    from controller.core import graph as graphs
    from controller.core import loader

    wf = loader.load_workflow(_read_files(paths))
    click.echo(graphs.render_dot(wf) if fmt == "dot" else graphs.render_mermaid(wf), nl=False)


def _read_files(paths: tuple[Path, ...]) -> list[tuple[str, bytes]]:
    from controller.core import loader

    files: list[tuple[str, bytes]] = []
    for path in paths:
        if path.is_file():
            files.append((str(path), path.read_bytes()))
            continue
        for f in sorted(path.rglob("*")):
            rel = f.relative_to(path).as_posix()
            if f.is_file() and not f.is_symlink() and ".git/" not in f"{rel}/" \
                    and loader.is_workflow_file(rel):
                files.append((str(f), f.read_bytes()))
    return files


if __name__ == "__main__":
    main()

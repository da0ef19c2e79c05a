"""The `gitline` command: thin. Each command parses, calls one function, prints.

Exit codes come from exceptions: ClickException exits 1, UsageError 2.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from controller.settings import Settings
    from controller.store.statereader import ConfigReader, StateReader

# readable=False: an unreadable HOME is reported by Settings.load as file + problem, exit 1
HOME_ARG = click.argument("home", envvar="GITLINE_HOME",
                          type=click.Path(path_type=Path, readable=False))
HOME_HELP = ("The Gitline home (default: $GITLINE_HOME). The older form, HOME as the first "
             "argument, works too.")


def _log_options(command: Any) -> Any:
    """-v, --log-format and --log-level: how `serve` and `worker` log (logsetup.py)."""
    for option in reversed([
        click.option("-v", "--verbose", is_flag=True, help="Debug logging."),
        click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
                     show_default=True, envvar="GITLINE_LOG_FORMAT",
                     help="Log lines as text or as JSON (job and run on lines about a run)."),
        click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
                     default=None, envvar="GITLINE_LOG_LEVEL",
                     help="Log level (default info; -v means debug)."),
    ]):
        command = option(command)
    return command


class NoSuchName(click.ClickException):
    """A job, resource or run that the workflow does not have: a usage error (exit 2)."""

    exit_code = 2


class HomeCommand(click.Command):
    """A command on a Gitline home: `--home/-H`, $GITLINE_HOME, or HOME as the first
    argument (when it names a home, or when there is one argument too many)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        positions = _positionals(self, args)
        most = sum(1 if p.nargs == 1 else 99 for p in self.params
                   if isinstance(p, click.Argument))
        if positions and (len(positions) > most or _is_home(args[positions[0]])):
            i = positions[0]
            args = ["--home", args[i], *args[:i], *args[i + 1:]]
        return super().parse_args(ctx, args)


def _positionals(cmd: click.Command, args: list[str]) -> list[int]:
    """Indexes of the positional arguments in `args` (not options nor their values)."""
    takes_value = {o for p in cmd.params if isinstance(p, click.Option) and not p.is_flag
                   and not p.count for o in p.opts + p.secondary_opts}
    found: list[int] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            return found + list(range(i + 1, len(args)))
        if a.startswith("-") and a != "-":
            if a in takes_value:
                i += 1
        else:
            found.append(i)
        i += 1
    return found


def _is_home(arg: str) -> bool:
    # A name of a job or resource never holds "/", so a path is meant as HOME even when it
    # names no home (yet): that is then reported as "not a Gitline home", not as a job.
    path = Path(arg)
    return "/" in arg or path.is_dir() or (path / "gitline.yml").is_file()


def home_option(fn):
    return click.option("--home", "-H", "home", envvar="GITLINE_HOME",
                        type=click.Path(path_type=Path, readable=False), help=HOME_HELP)(fn)


def _home(home: Path | None) -> Path:
    if home is None:
        raise click.UsageError("give HOME or set GITLINE_HOME")
    return home


def _settings(home: Path | None, **overrides) -> Settings:
    # imported here: ruamel.yaml costs every command's start-up, even --help
    from controller.settings import Settings, SettingsError

    try:
        return Settings.load(_home(home), **overrides)
    except SettingsError as err:
        raise click.ClickException(str(err)) from err


def _open(settings: Settings) -> tuple[ConfigReader, StateReader]:
    """(config, state) readers through `git cat-file`, closed with the command. Neither
    controller.app (scheduler, HTTP server, executors: ~250 ms) nor pygit2 (~50 ms) is
    imported: `status`, `log`, `logs` and `trigger` must answer in 150 ms."""
    from controller.readview import HomeError, open_readers

    try:
        config, store, cat = open_readers(settings)
    except HomeError as err:
        raise click.ClickException(str(err)) from err
    click.get_current_context().call_on_close(cat.close)
    return config, store


def _workflow(config: ConfigReader, store: StateReader):
    from controller.readview import running_workflow

    return running_workflow(config, store)


def _names(config: ConfigReader, store: StateReader) -> tuple[set[str], set[str]]:
    """Job and resource names of the running workflow (recorded: no YAML to load)."""
    from controller.readview import running_names

    return running_names(config, store)


def _check_name(known: tuple[set[str], set[str]], name: str, kind: str = "job") -> None:
    """Exit 2 with a suggestion when the running workflow has no such job (or resource)."""
    jobs, resources = known
    if kind == "job":
        with _services_errors():
            from controller import services

            services.check_job(jobs, name)
        return
    names = sorted(jobs | resources)
    if name in names:
        return
    import difflib

    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else (
        f" (jobs: {', '.join(names)})" if names and len(names) <= 12 else "")
    raise NoSuchName(f"no job or resource {name!r}{hint}")


@contextmanager
def _services_errors() -> Iterator[None]:
    """controller.services' refusals as exit codes: no such name 2, refused 1."""
    from controller import services

    try:
        yield
    except (services.NoSuchName, services.NeedsNoApproval) as err:
        raise NoSuchName(str(err)) from err
    except services.Refused as err:
        raise click.ClickException(str(err)) from err


def _complete_names(kind: str):
    """click shell_complete: the job (or job and resource) names of the running workflow."""
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str):
        from click.shell_completion import CompletionItem

        home = ctx.params.get("home") or os.environ.get("GITLINE_HOME")
        if not home:
            return []
        try:
            from controller.readview import open_readers
            from controller.settings import Settings

            config, store, cat = open_readers(Settings.load(home))
            with cat:
                jobs, resources = _names(config, store)
        except Exception:  # noqa: BLE001  completion must never print a traceback
            return []
        names = jobs if kind == "job" else jobs | resources
        return [CompletionItem(n) for n in sorted(names) if n.startswith(incomplete)]
    return complete


def _emit_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


class _Gitline(click.Group):
    """Turns what a damaged or unreadable HOME raises into one line and exit status 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except OSError as err:
            if err.filename is None:
                raise
            raise click.ClickException(f"{err.filename}: {err.strerror or err}") from err
        except Exception as err:
            # all imported only by the commands that need them (start-up time)
            settings = sys.modules.get("controller.settings")
            if settings is not None and isinstance(err, settings.SettingsError):
                raise click.ClickException(str(err)) from err
            if not isinstance(err, _git_errors()):
                raise
            raise click.ClickException(f"git repository error: {err}") from err


def _git_errors() -> tuple[type[Exception], ...]:
    """What pygit2 and `git cat-file` raise, of those this process imported."""
    found = ((sys.modules.get("pygit2"), "GitError"),
             (sys.modules.get("controller.store.catfile"), "GitCommandError"))
    return tuple(getattr(module, name) for module, name in found if module is not None)


@click.group(cls=_Gitline, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option("--workers", type=click.IntRange(min=1),
              help="Runs at once (default from HOME/gitline.yml: 4).")
@click.option("--poll", "poll_seconds", type=click.FloatRange(min=0, min_open=True),
              help="Safety-net poll interval in seconds.")
@_log_options
@click.option("--listen", help="HTTP address for git, the API and webhooks, HOST:PORT "
              "(default from HOME/gitline.yml: 127.0.0.1:8080; '' or none: off).")
def serve(home: Path, workers: int | None, poll_seconds: float | None, verbose: bool,
          log_format: str, log_level: str | None, listen: str | None) -> None:
    """Watch HOME/config.git and run jobs until SIGINT or SIGTERM."""
    import signal
    import threading

    from controller.homelock import HomeBusy, HomeLock

    settings = _settings(home, workers=workers, poll_seconds=poll_seconds,
                         listen="none" if listen == "" else listen)
    if not settings.repo_path.is_dir():
        raise click.ClickException(
            f"{settings.home} is not a Gitline home: run `gitline init {settings.home}`")
    lock = HomeLock(settings.home)
    try:  # before anything reads the state: a second controller must touch nothing
        lock.acquire()
    except HomeBusy as err:
        raise click.ClickException(str(err)) from err
    except OSError as err:
        raise click.ClickException(f"{lock.path}: cannot lock: {err.strerror}") from err
    from controller import logsetup
    from controller.app import Controller, HomeError
    from controller.execution.sandbox import SandboxError

    logsetup.configure(log_level or ("debug" if verbose else "info"), log_format)
    try:
        controller = Controller(settings)
    except (HomeError, SandboxError) as err:
        raise click.ClickException(str(err)) from err
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        controller.serve(stop)
    finally:
        lock.release()
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
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path),
              envvar="GITLINE_WORKER_KEY_FILE",
              help="The controller's HOME/worker.key, which seals every run sent (env "
              "GITLINE_WORKER_KEY_FILE, or the key itself in GITLINE_WORKER_KEY).")
@_log_options
def worker(broker_url: str, queues: str, concurrency: int, work_root: Path | None,
           hostname: str, sandbox_kind: str, sandbox_bind: str, key_file: Path | None,
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
                             loglevel="DEBUG" if verbose else "INFO", box=box)


@main.group(short_help="API and git-over-HTTP tokens.")
def token() -> None:
    """Tokens for `gitline serve`'s HTTP side: git clone/push and the API (basic auth)."""


@token.command("add", cls=HomeCommand, short_help="Make a token (printed once).")
@home_option
@click.argument("name")
@click.option("--scope", "scopes", default="read,push,trigger", show_default=True,
              help="Comma-separated: read (clone, fetch, GET), push, trigger (API), approve "
              "(approval commits pushed with it count), admin (tags; implies all).")
@click.option("--email", default="", help="The approver this token speaks for "
              "(matched against requiresApproval.approvers).")
def token_add(home: Path | None, name: str, scopes: str, email: str) -> None:
    """Make a token for NAME; only the SHA-256 of its secret is kept, in HOME/tokens.yml."""
    from controller.server.auth import TokenError, TokenStore

    try:
        value = TokenStore(_home(home)).add(name, scopes, email)
    except TokenError as err:
        raise click.ClickException(str(err)) from err
    click.echo(value)
    click.echo(f"token for {name}: use it as the password, e.g. "
               f"git clone http://{name}:<token>@HOST:PORT/config.git", err=True)


@token.command("remove", cls=HomeCommand, short_help="Revoke a token.")
@home_option
@click.argument("name")
def token_remove(home: Path | None, name: str) -> None:
    """Revoke NAME's token; requests with it are refused at once."""
    from controller.server.auth import TokenError, TokenStore

    try:
        TokenStore(_home(home)).remove(name)
    except TokenError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"removed the token of {name}")


@token.command("list", cls=HomeCommand, short_help="Names of the tokens.")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def token_list(home: Path | None, as_json: bool) -> None:
    """Print each token's name, when it was made, scopes and email (never the token)."""
    from controller.server.auth import TokenStore

    entries = TokenStore(_home(home)).entries()
    if as_json:
        _emit_json([{"name": n, "created": e["created"], "scopes": list(e["scopes"]),
                     "email": e["email"], "legacy": bool(e["legacy"])}
                    for n, e in entries.items()])
        return
    for name, e in entries.items():
        legacy = "\tlegacy: re-issue it" if e["legacy"] else ""
        click.echo(f"{name}\t{e['created']}\t{','.join(e['scopes'])}\t{e['email'] or '-'}"
                   f"{legacy}")



@main.command(cls=HomeCommand, short_help="Resources, jobs, and why jobs are not running.")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(home: Path | None, as_json: bool) -> None:
    """Show each resource's latest version and each job's last run, or why it waits."""
    from controller.homelock import serving
    from controller.readview import read_status

    settings = _settings(home)
    report = read_status(settings, *_open(settings))
    holder = serving(settings.home)  # from HOME/serve.lock, held by a running `gitline serve`
    report["controller"] = {"pid": holder.pid, "since": holder.since} if holder else None
    if as_json:
        _emit_json(report)
        return
    click.echo(f"controller: pid {holder.pid} since {holder.since}" if holder else
               f"controller: not running (start it with `gitline serve {settings.home}`)")
    cfg = report["config"]
    click.echo(f"config: processed {cfg['processed'][:7] or '-'}, running {cfg['good'][:7] or '-'}")
    for p in cfg["problems"]:
        click.echo(f"  {p}")
    for line in cfg["refused"]:
        click.echo(f"  refused: {line}")
    for line in cfg["waitingTriggers"]:
        click.echo(f"  waits: {line}")
    from controller.core.model import shown as shown_name

    click.echo("resources:")
    for name, r in report["resources"].items():
        ver = f"v{r['version']}" if r["version"] else "no version"
        vname = f" ({r['versionName'][:12]})" if r["versionName"] else ""
        bad = f"  INCONSISTENT: {r['inconsistent']}" if r["inconsistent"] else ""
        click.echo(f"  {shown_name(name):<24} {r['type']:<12} {ver}{vname}{bad}")
    click.echo("jobs:")
    for name, j in report["jobs"].items():
        last = j["lastRun"]
        shown = (f"run {last['number']} {_words(last['status'])}{_on(last)} ({last['cause']})"
                 if last else "never run")
        click.echo(f"  {shown_name(name):<24} {shown}")
        for a in j["active"]:
            if last and a["number"] == last["number"]:
                continue  # the line above said it
            note = f" ({a['message']})" if a.get("message") else ""
            click.echo(f"  {'':<24} run {a['number']} {_words(a['status'])}{_on(a)}{note}")
        if j["waiting"]:
            click.echo(f"  {'':<24} not running: {j['waiting']}")


def _words(status: str) -> str:
    return status.replace("_", " ")


def _on(run: dict) -> str:
    """" on WORKER" for a running run that names its worker (status), else ""."""
    return f" on {run['worker']}" if run.get("worker") and run["status"] == "running" else ""


@main.command(cls=HomeCommand, short_help="History of a resource or a job.")
@home_option
@click.argument("name", shell_complete=_complete_names("any"))
@click.option("-n", "--limit", default=20, show_default=True, help="How many entries.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def log(home: Path | None, name: str, limit: int, as_json: bool) -> None:
    """Versions of resource NAME, or runs of job NAME, newest first, from the state branch."""
    _, store = _open(_settings(home))
    rows: list[dict] = []
    for entry in store.history(name, limit=limit):
        row: dict[str, Any] = {"commit": entry.commit, "when": entry.when}
        if entry.version is not None:
            v = entry.version
            row.update(kind="version", number=v.number, versionName=v.name,
                       createdBy=v.created_by)
            text = (f"{entry.commit[:7]} {entry.when}  version {v.number}"
                    f"{f' ({v.name})' if v.name else ''}  from {v.created_by}")
        elif entry.run is not None:
            r = entry.run
            row.update(kind="run", number=r.number, status=r.status, cause=str(r.cause),
                       worker=r.worker)
            text = (f"{entry.commit[:7]} {entry.when}  run {r.number} {_words(r.status)}"
                    f"  ({r.cause}){f'  on {r.worker}' if r.worker else ''}")
        else:
            continue
        rows.append(row)
        if not as_json:
            click.echo(text)
    if as_json:
        _emit_json(rows)
    elif not rows:
        raise click.ClickException(f"no history for {name!r} on the state branch")


@main.command(cls=HomeCommand, short_help="Output of a run.")
@home_option
@click.argument("job", shell_complete=_complete_names("job"))
@click.argument("run", type=int, required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("-f", "--follow", is_flag=True,
              help="Follow the newest (or RUN's) run as it writes, until it ends; exit 0 if "
              "it succeeded, 1 if not.")
def logs(home: Path | None, job: str, run: int | None, as_json: bool, follow: bool) -> None:
    """Print the log of JOB's latest finished run, or of run RUN (-f: as it runs)."""
    if follow:
        _follow_log(_settings(home), job, run)
        return
    config, store = _open(_settings(home))
    text = store.read_log(job, run)
    if text is None:  # a typo gets the suggestion; a job that never finished, the fact
        _check_name(_names(config, store), job)
        raise click.ClickException(f"no log for {job}" + (f" run {run}" if run else ""))
    if as_json:
        _emit_json({"job": job, "run": run, "log": text})
        return
    click.echo(text, nl=False)


def _follow_log(settings: Settings, job: str, number: int | None) -> None:
    """Print a run's live log (beside its folder, written by the local executor) as it
    grows; at its end, the recorded log if there was no live one (a Celery worker's)."""
    import time

    from controller.execution.workspace import job_folder

    config, store = _open(settings)
    _check_name(_names(config, store), job)
    number = number or _newest_run(store.read_snapshot(), job)
    if number is None:
        raise click.ClickException(f"{job} has no run to follow")
    live = settings.work_root / job_folder(job) / f"{number}.log"
    printed, status, checked = 0, None, 0.0
    while status is None:
        if time.monotonic() - checked >= 1.0:  # the state branch once a second, not per read
            checked = time.monotonic()
            status = _run_end(settings, job, number)  # before the file: nothing is lost
        if live.exists():
            with live.open("rb") as f:
                f.seek(printed)
                chunk = f.read()
            printed += len(chunk)
            sys.stdout.write(chunk.decode("utf-8", "replace"))
            sys.stdout.flush()
        if status is None:
            time.sleep(0.3)
    if not printed:
        click.echo(_open(settings)[1].read_log(job, number) or "", nl=False)
    click.echo(f"gitline: {job} run {number} {status.replace('_', ' ')}", err=True)
    sys.exit(0 if status == "succeeded" else 1)


def _newest_run(snap: Any, job: str) -> int | None:
    hist = snap.jobs.get(job)
    if hist is None:
        return None
    return hist.active[-1].number if hist.active else hist.last.number if hist.last else None


def _run_end(settings: Settings, job: str, number: int) -> str | None:
    """The final status of `job` run `number`, or None while it is queued or running."""
    from controller.readview import open_readers

    _, store, cat = open_readers(settings)  # fresh: the state branch moves under us
    try:
        hist = store.read_snapshot().jobs.get(job)
        if hist is None or any(r.number == number for r in hist.active):
            return None
        if hist.last is not None and hist.last.number == number:
            return hist.last.status
        found = next((e.run for e in store.history(job, 200)
                      if e.run is not None and e.run.number == number), None)
        if found is None:
            raise click.ClickException(f"{job} has no run {number}")
        return found.status
    finally:
        cat.close()


@main.command(cls=HomeCommand, short_help="Start a job by committing triggers/JOB.")
@home_option
@click.argument("job", shell_complete=_complete_names("job"))
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A variable for that run (repeatable).")
@click.option("-m", "--message", help="Commit message.")
def trigger(home: Path | None, job: str, params: tuple[str, ...], message: str | None) -> None:
    """Commit triggers/JOB to the config branch, exactly as a user's commit would."""
    from controller.core import triggers
    from controller.store.filecommit import commit_file

    settings = _settings(home)
    _check_name(_names(*_open(settings)), job)
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
    sha = commit_file(settings.repo_path, settings.branch, f"triggers/{job}", text,
                      message or f"trigger {job}", user, email)
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


@main.command(cls=HomeCommand, short_help="Approve (or reject) a job's pending run.")
@home_option
@click.argument("job", shell_complete=_complete_names("job"))
@click.option("--reject", is_flag=True, help="Reject instead: the pending run is cancelled.")
@click.option("-m", "--message", "reason", default="", help="Why (recorded on the run).")
@click.option("--wait", "wait_seconds", type=float, default=5.0, show_default=True,
              help="Seconds to wait for the controller's answer.")
def approve(home: Path | None, job: str, reject: bool, reason: str,
            wait_seconds: float) -> None:
    """Approve JOB's pending run as the unix user running this (or cancel it: --reject).

    The controller commits approvals/JOB for you: it knows who you are from the owner of
    the request file in HOME/requests (local_users in gitline.yml maps users to emails).
    """
    from controller import services

    config, store = _open(_settings(home))
    snap = store.read_snapshot()
    with _services_errors():
        services.check_approvable(_workflow(config, store), snap, job)
    _request(home, "approve", wait_seconds, job=job,
             decision="reject" if reject else "approve", reason=reason)


@main.command(cls=HomeCommand, short_help="Stop a job's running or waiting runs.")
@home_option
@click.argument("job", shell_complete=_complete_names("job"))
@click.option("--wait", "wait_seconds", type=float, default=5.0, show_default=True,
              help="Seconds to wait for the controller's answer.")
def cancel(home: Path | None, job: str, wait_seconds: float) -> None:
    """Ask the controller to cancel JOB's runs: running ones are stopped, on_cancel runs.

    Prints which runs were cancelled, or that no controller runs and the request waits.
    """
    config, store = _open(_settings(home))
    _check_name(_names(config, store), job)
    _request(home, "cancel", wait_seconds, job=job)


@main.command(cls=HomeCommand, short_help="Run a past run again with exactly its inputs.")
@home_option
@click.argument("job", shell_complete=_complete_names("job"))
@click.argument("run", type=int)
@click.option("--wait", "wait_seconds", type=float, default=5.0, show_default=True,
              help="Seconds to wait for the controller's answer.")
def replay(home: Path | None, job: str, run: int, wait_seconds: float) -> None:
    """Queue a new run of JOB with the exact input versions and parameters of run RUN.

    Prints the number of the new run, or that no controller runs and the request waits.
    """
    config, store = _open(_settings(home))
    _check_name(_names(config, store), job)
    from controller import services

    with _services_errors():
        services.check_replayable(store, job, run)
    _request(home, "replay", wait_seconds, job=job, run=run)


def _request(home: Path | None, action: str, wait_seconds: float, **fields: Any) -> None:
    from controller import services
    from controller.homelock import serving

    settings = _settings(home)
    user, email = _identity()
    answer = services.ask(settings.home, action, f"{user} <{email}>", wait_seconds=wait_seconds,
                          controller_running=lambda: serving(settings.home) is not None,
                          **fields)
    if answer.state == "refused":
        raise click.ClickException(answer.message)
    click.echo(answer.message)


@main.command(cls=HomeCommand, short_help="Housekeeping now: pack, index, prune.")
@home_option
@click.option("--keep-pushes", type=click.IntRange(min=0), default=None,
              help="Entries of HOME/pushes.jsonl to keep (default 100000).")
def gc(home: Path | None, keep_pushes: int | None) -> None:
    """Pack the state branch's objects and write its commit-graph, remove old run
    folders (the newest 3 of each job stay; never a running one) and trim
    HOME/pushes.jsonl; print what each freed. Safe beside a running controller."""
    from controller.execution.local import prune_workdirs
    from controller.readview import HomeError, open_repos
    from controller.store.pushlog import KEEP_ENTRIES, PushLog

    settings = _settings(home)
    try:
        _, store = open_repos(settings)
    except HomeError as err:
        raise click.ClickException(str(err)) from err
    before = _size(settings.repo_path)
    store.maintain(limit=0, wait=True)
    click.echo(f"packed {settings.repo_path} and wrote its commit-graph: "
               f"{_mb(before)} -> {_mb(_size(settings.repo_path))}")
    root, removed, freed = settings.work_root, 0, 0
    for job_dir in sorted(root.iterdir()) if root.is_dir() else []:
        if job_dir.is_dir() and not job_dir.is_symlink():
            size = _size(job_dir)
            removed += len(prune_workdirs(job_dir))
            freed += size - _size(job_dir)
    click.echo(f"removed {removed} old run folder(s) under {root}: {_mb(freed)}")
    dropped = PushLog(settings.home).rotate(KEEP_ENTRIES if keep_pushes is None else keep_pushes)
    click.echo(f"dropped {dropped} old entr{'y' if dropped == 1 else 'ies'} of pushes.jsonl")


def _size(path: Path) -> int:
    """Bytes of the regular files under `path` (links not followed)."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} KB"


@main.command(short_help="Check workflow files offline.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text",
              show_default=True, help="text (path:line:col: ...), json, or GitHub Actions "
              "annotations (::error file=F,line=L,col=C::message).")
@click.option("--json", "as_json", is_flag=True, help="The same as --format json.")
@click.option("--strict", is_flag=True, help="Warnings (an unknown key, ...) are errors.")
def validate(paths: tuple[Path, ...], fmt: str, as_json: bool, strict: bool) -> None:
    """Load PATHS (files or folders) as one workflow; print path:line:col: problems.

    Exits 1 when there is an error (with --strict, also a warning), or when PATHS hold no
    workflow file. An info (a key Gitline reads but does not act on) never fails.
    """
    from dataclasses import replace

    from controller.core import loader

    files = _read_files(paths)
    if not files:
        raise click.ClickException(
            f"no workflow file in {', '.join(map(str, paths))} (looked for shippable.yml, "
            "*.shippable.yml and the like)")
    wf = loader.load_workflow(files)
    problems = sorted(wf.problems, key=_where)
    if strict:
        problems = [replace(p, severity="error") if p.severity == "warning" else p
                    for p in problems]
    errors = sum(p.severity == "error" for p in problems)
    infos = sum(p.severity == "info" for p in problems)
    warnings = len(problems) - errors - infos
    fmt = "json" if as_json else fmt
    if fmt == "json":
        _emit_json({"files": [f for f, _ in files], "resources": len(wf.resources),
                    "jobs": len(wf.jobs), "errors": errors, "warnings": warnings,
                    "infos": infos,
                    "problems": [{"file": p.location.path, "line": p.location.line,
                                  "col": p.location.col,
                                  "severity": p.severity, "message": p.message}
                                 for p in problems]})
    else:
        for p in problems:
            if fmt == "github":
                level = {"error": "error", "warning": "warning"}.get(p.severity, "notice")
                at = p.location
                click.echo(f"::{level} file={at.path},line={at.line},col={at.col}::"
                           + p.message.replace("%", "%25").replace("\n", "%0A"))
            else:
                click.echo(str(p))
        click.echo(f"{len(wf.resources)} resources, {len(wf.jobs)} jobs, {errors} errors, "
                   f"{warnings} warnings, {infos} infos", err=True)
    if errors:
        raise click.exceptions.Exit(1)


@main.command(short_help="JSON Schema of workflow files, for editors.")
def schema() -> None:
    """Print the JSON Schema (draft 2020-12) of workflow files, made from the same table
    of known keys as validate's warnings.

    \b
    gitline schema > shippable.schema.json
    then start a workflow file with (yaml-language-server, VS Code's YAML extension):
    # yaml-language-server: $schema=./shippable.schema.json
    """
    from controller.core import schema as schemas

    _emit_json(schemas.build_schema())


@main.command(cls=HomeCommand, short_help="What a push would do, before it is made.")
@home_option
@click.argument("rev", required=False)
@click.option("--work", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Plan the working tree of this clone (uncommitted and new files too), "
              "against HOME's state or, without HOME, the clone's origin/state.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plan(home: Path | None, rev: str | None, work: Path | None, as_json: bool) -> None:
    """Print what pushing REV (default: the config branch) or a clone's working tree
    (--work) does: problems at file:line:col, new versions, the jobs that will run and why,
    trigger and approval files accepted or refused. Does nothing; exits 1 on errors.

    The same lines a push shows as `remote:`. As a clone's .git/hooks/pre-push it stops a
    push whose workflow has errors:

    \b
    exec gitline plan --work "$(git rev-parse --show-toplevel)"
    """
    from controller import pushanswer
    from controller.core import pushwords

    if work is not None and rev is not None:
        raise click.UsageError("give REV or --work, not both")
    if work is not None:
        pushed, reject = _plan_work(home, work)
    else:
        from controller.readview import HomeError, open_repos

        settings = _settings(home)
        try:  # pygit2's: plan reads commits, diffs and trees the cat-file readers do not
            config, store = open_repos(settings)
        except HomeError as err:
            raise click.ClickException(str(err)) from err
        try:
            new = config.resolve(rev or settings.branch)
        except KeyError as err:
            raise NoSuchName(f"no commit {rev or settings.branch!r} in {settings.repo_path}"
                             ) from err
        old = store.read_snapshot().processed_commit
        pushed = pushanswer.plan_commit(config, store, old, new, home=settings.home)
        reject = settings.reject_invalid
    if as_json:
        _emit_json(pushwords.as_json(pushed, reject_invalid=reject))
    else:
        click.echo("\n".join(pushwords.render(pushed, reject_invalid=reject)))
    if pushed.errors:
        raise click.exceptions.Exit(1)


def _plan_work(home: Path | None, work: Path):
    """The plan of a clone's working tree: (PushPlan, reject_invalid)."""
    from controller import pushanswer
    from controller.store.configrepo import ConfigRepo
    from controller.store.gitstate import GitStateStore
    from controller.store.worktree import WorkTreeError, commit_worktree

    settings = _settings(home) if home is not None else None
    branch = settings.branch if settings else "main"
    try:
        wc = commit_worktree(work, branch)
    except WorkTreeError as err:
        raise click.ClickException(str(err)) from err
    if settings is not None:
        store = GitStateStore(settings.repo_path, settings.state_branch)
    else:
        store = GitStateStore(wc.git_dir, ref="refs/remotes/origin/state")
        if not store.read_snapshot().tip:
            click.echo("gitline: no origin/state in this clone (git fetch origin state): "
                       "planned as if nothing had run yet", err=True)
    config = ConfigRepo(wc.git_dir, branch)
    pushed = pushanswer.plan_commit(config, store, wc.base, wc.commit,
                                    home=settings.home if settings else None)
    return pushed, settings.reject_invalid if settings else False


@main.command(short_help="Draw the workflow (DOT or Mermaid).")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["dot", "mermaid"]), default="dot",
              show_default=True, help="Graphviz DOT or a Mermaid flowchart.")
def graph(paths: tuple[Path, ...], fmt: str) -> None:
    """Print the resources, jobs and edges of PATHS; switch: off edges are dotted.

    A workflow that does not load prints its errors and exits 1.
    """
    from controller.core import graph as graphs
    from controller.core import loader

    files = _read_files(paths)
    if not files:
        raise click.ClickException(f"no workflow file in {', '.join(map(str, paths))}")
    wf = loader.load_workflow(files)
    if wf.fatal or (wf.errors and not wf.jobs and not wf.resources):
        for p in sorted(wf.errors, key=_where):
            click.echo(str(p), err=True)
        raise click.ClickException("the workflow does not load; nothing to draw")
    click.echo(graphs.render_dot(wf) if fmt == "dot" else graphs.render_mermaid(wf), nl=False)


@main.command(short_help="Shell completion script (bash, zsh or fish).")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the completion script of SHELL; job and resource names complete too.

    bash: eval "$(gitline completion bash)" in ~/.bashrc; zsh: the same in ~/.zshrc;
    fish: gitline completion fish > ~/.config/fish/completions/gitline.fish
    """
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None  # the Choice above names only shells click knows
    click.echo(cls(main, {}, "gitline", "_GITLINE_COMPLETE").source())


def _where(p) -> tuple[str, int, int]:
    return (p.location.path, p.location.line, p.location.col)


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

"""What every `gitline` command shares: the group, HOME handling, settings, readers, who
is acting, and the one place where the service layer's refusals become exit codes.

Exit codes come from exceptions: ClickException exits 1, UsageError 2, core/errors.py's
NotFound and Invalid 2, Refused 1 (`_Gitline.invoke`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from controller.core.errors import Absent, Invalid, NeedsNoApproval, NotFound, ServiceError

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

    from controller.cli.remote import Remote
    from controller.service.actions import Actor
    from controller.settings import Settings
    from controller.store.statereader import ConfigReader, StateReader

F = TypeVar("F", bound=Callable[..., Any])

# readable=False: an unreadable HOME is reported by Settings.load as file + problem, exit 1
HOME_ARG = click.argument("home", envvar="GITLINE_HOME",
                          type=click.Path(path_type=Path, readable=False))
HOME_HELP = ("The Gitline home (default: $GITLINE_HOME). The older form, HOME as the first "
             "argument, works too.")


def log_options(command: F) -> F:
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


def exit_code(err: ServiceError) -> int:
    """A refusal's exit status: 2 for a wrong name or ask (a usage error), else 1."""
    if isinstance(err, Absent):
        return 1
    return 2 if isinstance(err, NotFound | Invalid | NeedsNoApproval) else 1


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


def home_option(fn: F) -> F:
    return click.option("--home", "-H", "home", envvar="GITLINE_HOME",
                        type=click.Path(path_type=Path, readable=False), help=HOME_HELP)(fn)


def need_home(home: Path | None) -> Path:
    if home is None:
        raise click.UsageError("give HOME or set GITLINE_HOME")
    return home


def load_settings(home: Path | None, **overrides: Any) -> Settings:
    # imported here: ruamel.yaml costs every command's start-up, even --help
    from controller.settings import Settings, SettingsError

    try:
        return Settings.load(need_home(home), **overrides)
    except SettingsError as err:
        raise click.ClickException(str(err)) from err


def open_home(settings: Settings) -> tuple[ConfigReader, StateReader]:
    """(config, state) readers through `git cat-file`, closed with the command. Neither
    controller.app (scheduler, HTTP server, executors: ~250 ms) nor pygit2 (~50 ms) is
    imported: `status`, `log`, `logs` and `trigger` must answer in 150 ms."""
    from controller.service.repos import open_readers

    config, store, cat = open_readers(settings)
    click.get_current_context().call_on_close(cat.close)
    return config, store


def local_actor() -> Actor:
    """Who is acting, as git would record it: GIT_AUTHOR_*, then git config, then $USER."""
    from controller.service.actions import Actor

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
    return Actor(user, email)


def complete_names(kind: str) -> Callable[[click.Context, click.Parameter, str],
                                          list[CompletionItem]]:
    """click shell_complete: the job (or job and resource) names of the running workflow."""
    def complete(ctx: click.Context, param: click.Parameter,
                 incomplete: str) -> list[CompletionItem]:
        from click.shell_completion import CompletionItem

        home = ctx.params.get("home") or os.environ.get("GITLINE_HOME")
        if not home:
            return []
        try:
            from controller.service.names import running_names
            from controller.service.repos import open_readers
            from controller.settings import Settings

            config, store, cat = open_readers(Settings.load(home))
            with cat:
                jobs, resources = running_names(config, store)
        except Exception:  # noqa: BLE001  completion must never print a traceback
            return []
        names = jobs if kind == "job" else jobs | resources
        return [CompletionItem(n) for n in sorted(names) if n.startswith(incomplete)]
    return complete


def emit_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


class _Gitline(click.Group):
    """Turns the service layer's refusals into their exit codes, and what a damaged or
    unreadable HOME raises into one line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ServiceError as err:
            failed = click.ClickException(str(err))
            failed.exit_code = exit_code(err)
            raise failed from err
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
@click.option("--server", metavar="URL", envvar="GITLINE_SERVER",
              help="A remote controller's HTTP address (`gitline serve --listen`), for status, "
              "log, trigger, approve, cancel, replay and logs; the token comes from "
              "GITLINE_TOKEN (env GITLINE_SERVER).")
def main(server: str | None) -> None:
    """Gitline: push workflow YAML to a git repository; jobs run; state is git history."""


def remote_server() -> Remote | None:
    """The controller `gitline --server URL` (or GITLINE_SERVER) names, if any: then the
    command goes through its HTTP API instead of HOME."""
    url = click.get_current_context().find_root().params.get("server") or ""
    if not url:
        return None
    from controller.cli.remote import Remote  # urllib: only when it is used

    return Remote(url, os.environ.get("GITLINE_TOKEN", ""))

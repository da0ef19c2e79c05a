"""One frozen Settings for a Gitline HOME: read from HOME/gitline.yml, then GITLINE_* env."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from controller.core import sourcenames, subscription
from controller.core.remotes import url_problem
from controller.store import yamlio

SETTINGS_FILE = "gitline.yml"


class SettingsError(Exception):
    """HOME/gitline.yml or a GITLINE_* variable holds something unusable."""


@dataclass(frozen=True)
class Settings:
    home: Path
    branch: str = "main"  # the config branch users push to
    state_branch: str = "state"
    workers: int = 4  # runs at once on the local executor
    poll_seconds: float = 10.0  # safety-net re-read of refs, besides the watcher
    listen: str = "127.0.0.1:8080"  # HTTP: git smart HTTP, the API, webhooks ("none": off)
    anonymous_read: bool = False  # clone, fetch and GET /api without a token
    webhook_secret: str = ""  # secret-store name of the key of POST /hooks/git
    upstream: str = ""  # a git URL this HOME follows (https, ssh, git, file); "" = none
    upstream_branch: str = ""  # its branch to follow ("" = the same as `branch`)
    upstream_poll_seconds: float = 60.0
    upstream_secret: str = ""  # secret-store name of the upstream's credentials
    push_state: bool = False  # push the state branch back to the upstream
    # gitRepo `url:`s and `upstream` may be local paths or file:// (else only https, http,
    # ssh, git and user@host:path remotes are fetched)
    allow_local_repos: bool = False
    repo_poll_seconds: float = 60.0  # default interval of gitRepo resources elsewhere
    max_payload: int = 1024 * 1024  # bytes of a webhook or API request body (413 past it)
    # The HTTP listener (waitress): bodies are bounded before they are read (413 past).
    max_request_body: int = 256 * 1024 * 1024  # bytes of a git push (after gunzip)
    max_fetch_body: int = 1024 * 1024  # bytes of a git fetch's want/have lines
    http_threads: int = 8  # requests served at once; idle connections take no thread
    http_connections: int = 2000  # open connections at most (then new ones wait)
    http_timeout: float = 60.0  # seconds an idle connection (or unfinished headers) lives
    # Host header names the listener answers (comma-separated; DNS rebinding). "" = any,
    # except with anonymous_read: then localhost, 127.0.0.1, ::1 and the listen host.
    allowed_hosts: str = ""
    # Names of the controller's environment variables that jobs see (comma-separated).
    # Nothing else of the controller's environment reaches a job, so its secrets don't.
    pass_env: str = ""
    # Deliver `notification` resources (webhook, Slack, email): on | off. Off records each
    # notice a run owes as skipped, and sends nothing.
    notifications: str = "on"
    # The web view's address as users reach it (https://ci.example.com): commit statuses
    # link to the run there; "" = statuses carry no link.
    web_url: str = ""
    # Ticks of `time` resources missed while the controller was down: once (one catch-up
    # tick) | skip. A resource's own `catchup:` overrides it.
    time_catchup: str = "once"
    # Minutes a run of a job without runtime.timeoutMinutes may take, as Shippable's 60;
    # there is no "no timeout": a hung job would hold its serial line forever.
    default_timeout_minutes: float = 60.0
    # Where runs go: local (this machine, `workers` at once) | celery (Celery workers that
    # `gitline worker` starts, through the Redis broker at `broker_url`).
    executor: str = "local"
    broker_url: str = ""  # e.g. redis://127.0.0.1:6379/0; required when executor is celery
    default_queue: str = "gitline"  # the queue of jobs without runtime.nodePool
    worker_lost_seconds: float = 60.0  # a celery run whose worker is silent this long: resent once
    # Unix user -> approver email for `gitline approve` (`{ada: ada@example.com}` in
    # gitline.yml, `ada=ada@example.com,bob=...` in GITLINE_LOCAL_USERS).
    local_users: str = ""
    # In upstream mode the config branch takes pushes only from the upstream, unless this.
    allow_push_with_upstream: bool = False
    # A push whose workflow has errors is refused (with the errors in the pusher's terminal);
    # false: it is accepted and recorded, and the last good workflow keeps running.
    reject_invalid: bool = False
    # The main config repository's name (its `<repo>_runCI`), and the other repositories
    # of the subscription (issue #14; core/subscription.py): HOME/repos/NAME.git each.
    name: str = sourcenames.DEFAULT_MAIN_NAME
    sources: tuple[subscription.SourceSpec, ...] = ()
    # Where the main repository's `<repo>_runCI` posts commit statuses (`{integration:
    # SECRET, repo: owner/repo}`; a source has its own `commit_status:`); None = nowhere.
    commit_status: subscription.StatusTarget | None = None
    # Run logs per job on the tip of the state branch (jobs/<name>/logs/<n>.txt beside
    # log.txt); older ones leave the tip but stay in history (`gitline logs JOB N`).
    run_logs_kept: int = 1
    # Lines of HOME/pushes.jsonl before it is rotated to pushes.jsonl.1 (.2, ...), and how
    # many rotated files are kept.
    pushes_rotate_lines: int = 100_000
    pushes_rotated_kept: int = 3

    @property
    def local_user_map(self) -> dict[str, str]:
        pairs = (p.partition("=") for p in self.local_users.split(",") if p.strip())
        return {k.strip(): v.strip() for k, _, v in pairs if k.strip()}
    # What every job step runs in: bwrap (bubblewrap: its workdir read-write, the system
    # read-only, nothing of HOME; `gitline serve` refuses to start when it does not work)
    # | none (jobs run as the controller's user and see its files; set it explicitly).
    sandbox: str = "bwrap"
    sandbox_bwrap: str = "bwrap"  # the bwrap program (looked up on PATH unless a path)
    # Extra folders (absolute, comma-separated) jobs may write, e.g. a local deploy target.
    sandbox_bind: str = ""

    @property
    def notifications_on(self) -> bool:
        # YAML reads a bare `on`/`off` as true/false, which arrive here as "True"/"False"
        return self.notifications.strip().lower() not in ("off", "false", "no", "0")

    def job_env(self) -> dict[str, str]:
        names = [n.strip() for n in self.pass_env.split(",") if n.strip()]
        return {n: os.environ[n] for n in names if n in os.environ}

    @property
    def sandbox_binds(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.sandbox_bind.split(",") if p.strip())

    @property
    def repo_path(self) -> Path:
        return self.home / "config.git"

    def source_path(self, name: str) -> Path:
        """HOME/repos/NAME.git of source `name` (MAIN: config.git)."""
        if name == sourcenames.MAIN:
            return self.repo_path
        return self.home / subscription.REPOS_DIR / f"{subscription.check_source_name(name)}.git"

    @property
    def work_root(self) -> Path:
        return self.home / "work"

    @classmethod
    def load(cls, home: str | os.PathLike[str], **overrides: Any) -> Settings:
        """Defaults, then HOME/gitline.yml, then GITLINE_<FIELD> env, then `overrides`."""
        settings = cls(home=Path(home).resolve())
        path = settings.home / SETTINGS_FILE
        values: dict[str, Any] = {}
        values.update({str(k).replace("-", "_"): v for k, v in _read_file(path).items()})
        env_names = {}
        for f in fields(cls):
            env = os.environ.get(f"GITLINE_{f.name.upper()}")
            if env is not None and f.name != "home":
                values[f.name] = env
                env_names[f.name] = f"GITLINE_{f.name.upper()}"
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return _checked(replace(settings, **_typed(values, path)), path)
        except _Bad as bad:  # name where the bad value came from: the file or the variable
            where = ("the command line" if overrides.get(bad.key) is not None
                     else env_names.get(bad.key, str(path)))
            raise SettingsError(f"{where}: setting {bad.key}: {bad}") from None


class _Bad(ValueError):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(problem)
        self.key = key


def _read_file(path: Path) -> dict[str, Any]:
    """HOME/gitline.yml as a mapping ({} when there is none); one clear line when damaged."""
    try:
        if not path.exists():
            return {}
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SettingsError(f"{path}: not UTF-8 text") from None
    except OSError as err:  # an unreadable HOME, gitline.yml a folder, ...
        raise SettingsError(f"{err.filename or path}: cannot read: "
                            f"{err.strerror or err}") from None
    try:  # the fast reader of state records; ruamel.yaml only for what it does not take
        loaded = yamlio.load(text)
    except Exception as err:
        from ruamel.yaml.error import YAMLError

        if not isinstance(err, YAMLError):
            raise
        mark = getattr(err, "problem_mark", None)
        at = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise SettingsError(f"{path}{at}: not valid YAML: {problem}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise SettingsError(f"{path}: must be a mapping of setting: value")
    return loaded


# Settings that must be positive, and their smallest value.
_MINIMUM = {"workers": 1, "max_payload": 1, "run_logs_kept": 1, "pushes_rotate_lines": 1,
            "pushes_rotated_kept": 0}
_POSITIVE = ("poll_seconds", "upstream_poll_seconds", "repo_poll_seconds",
             "worker_lost_seconds", "default_timeout_minutes")


def _checked(settings: Settings, path: Path) -> Settings:
    for key, least in _MINIMUM.items():
        if getattr(settings, key) < least:
            raise _Bad(key, f"must be at least {least}, not {getattr(settings, key)}")
    for key in _POSITIVE:
        if not getattr(settings, key) > 0:
            unit = key.rsplit("_", 1)[-1]  # seconds, or minutes
            raise _Bad(key, f"must be more than 0 {unit}, not {getattr(settings, key):g}")
    if settings.executor not in ("local", "celery"):
        raise SettingsError(f"{path}: setting executor: local or celery, not "
                            f"{settings.executor!r}")
    if settings.executor == "celery" and not settings.broker_url.strip():
        raise SettingsError(f"{path}: executor: celery needs broker_url "
                            "(e.g. redis://127.0.0.1:6379/0)")
    if not sourcenames.is_source_name(settings.name):
        raise _Bad("name", f"{settings.name!r} is not allowed: {sourcenames.SOURCE_RULE}")
    for source in settings.sources:
        problem = url_problem(source.upstream, allow_local=settings.allow_local_repos) \
            if source.upstream else ""
        if problem:
            raise _Bad("sources", f"{source.name}: upstream: {problem}")
    if settings.commit_status is not None and not (settings.commit_status.repo
                                                   or settings.upstream):
        raise _Bad("commit_status", "'repo:' is needed (config.git's owner/repo on the git "
                   "host, or its URL) unless the HOME follows an upstream")
    if settings.upstream:
        problem = url_problem(settings.upstream, allow_local=settings.allow_local_repos)
        if problem:
            raise SettingsError(f"{path}: setting upstream: {problem}")
    return settings


def _bool(value: Any) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, not {value!r}")


def _typed(values: dict[str, Any], path: Path) -> dict[str, Any]:
    kinds = {f.name: f.type for f in fields(Settings) if f.name != "home"}
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in kinds:
            raise SettingsError(f"{path}: unknown setting {key!r} (known: {', '.join(kinds)})")
        converters: dict[str, Callable[[Any], Any]] = {"int": int, "float": float, "bool": _bool}
        conv = converters.get(str(kinds[key]), str)
        if key == "sources":  # a structure of its own (core/subscription.py)
            try:
                out[key] = subscription.parse_sources(value, str(values.get("name") or
                                                                 sourcenames.DEFAULT_MAIN_NAME))
            except ValueError as err:
                raise _Bad(key, str(err)) from err
            continue
        if key == "commit_status":
            try:
                out[key] = subscription.parse_status_target(value, "")
            except ValueError as err:
                raise _Bad(key, str(err)) from err
            continue
        if isinstance(value, dict):  # local_users: {ada: ada@example.com}
            value = ",".join(f"{k}={v}" for k, v in value.items())
        try:
            out[key] = conv(value)
        except (TypeError, ValueError) as err:
            raise _Bad(key, str(err)) from err
    return out

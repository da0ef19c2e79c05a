"""Creating a Gitline HOME: the bare config repository, its hook, the settings file.

Owns what `gitline init` leaves on disk: HOME/config.git (bare, HEAD -> the watched
branch, no auto-gc), HOME/config.git/hooks/pre-receive (refuses pushes to the state
branch; answers a push to the config branch with its plan, controller.pushanswer), and
HOME/gitline.yml with documented defaults (never overwritten).
Idempotent: running it again only refreshes the hook and the repository settings.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pygit2

from controller.atomicfile import write_atomic
from controller.store.statebranch import check_branch

REPO_DIR = "config.git"
# The hook answers a push with this interpreter and this copy of Gitline: the code of the
# `gitline` that installed it, whatever the pusher's environment holds.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
REFUSE = 3  # controller.pushanswer's exit status that refuses the push
UNANSWERED = 4  # controller/answerclient.py's: no controller answered, plan in the hook
SETTINGS_FILE = "gitline.yml"

DEFAULT_SETTINGS = """\
# Gitline settings. Environment variables GITLINE_<KEY> (upper case) override these.
# Every setting, its default and meaning: docs/settings.md in the Gitline source.

# The branch of config.git whose workflow YAML Gitline runs.
branch: {branch}

# The branch where Gitline records versions and runs; written only by the controller.
state_branch: {state_branch}

# How many jobs may run at the same time.
workers: 4

# Seconds between two reconcile passes when no push was noticed.
poll_seconds: 10

# HOST:PORT of the HTTP side: git clone/push over HTTP, the JSON API, webhooks (none: off).
listen: 127.0.0.1:8080
"""

HOOK = """\
#!/bin/sh
# Installed by gitline: pushes may update {branch} only (never delete it); the state
# branch and refs/gitline/* are written only by the controller. Objects are checked by
# receive.fsckObjects (repository config). A push to {branch} is answered with its
# problems and what it will run (controller.pushanswer; with reject_invalid: true in
# gitline.yml a workflow with errors is refused). Re-written at every `gitline serve` start.
status=0
zero=0000000000000000000000000000000000000000
config_old=
config_new=
while read -r old new ref; do
  case "$ref" in
    refs/heads/{state_branch}|refs/gitline/*)
      echo "gitline: $ref is written only by the controller; push to {branch} instead" >&2
      status=1 ;;
    refs/heads/{branch})
      if [ "$new" = "$zero" ]; then
        echo "gitline: refs/heads/{branch} cannot be deleted" >&2
        status=1
      elif [ "{upstream}" = "1" ]; then
        echo "gitline: refs/heads/{branch} follows the upstream repository (setting\
 upstream); push there, or set allow_push_with_upstream: true" >&2
        status=1
      else
        config_old=$old
        config_new=$new
      fi ;;
    *)
      echo "gitline: $ref is not refs/heads/{branch}: only {branch} takes pushes" >&2
      status=1 ;;
  esac
done
if [ $status -eq 0 ] && [ -n "$config_new" ]; then
  # the running controller answers (HOME/answers.sock); without one, plan here
  {python} -S -E {client} "$config_old" "$config_new" </dev/null
  answered=$?
  if [ $answered -eq {unanswered} ]; then
    PYTHONPATH={root}${{PYTHONPATH:+:$PYTHONPATH}} {python} -m controller.pushanswer \
"$config_old" "$config_new"
    answered=$?
  fi
  if [ $answered -eq {refuse} ]; then
    status=1
  elif [ $answered -ne 0 ]; then
    echo "gitline: no plan for this push (exit $answered); it is accepted" >&2
  fi
fi
exit $status
"""

REPO_CONFIG = {
    "receive.denyNonFastForwards": "false",
    "receive.fsckObjects": "true",  # a tree with `..` or `.git` entries is refused
    "gc.auto": "0",
}


def init_home(home: Path, branch: str = "main", state_branch: str = "state") -> Path:
    """Create (or refresh) a Gitline HOME; returns the path of HOME/config.git."""
    check_branch(branch)
    check_branch(state_branch)
    if branch == state_branch:
        raise ValueError("the watched branch and the state branch must differ")
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    repo_path = home / REPO_DIR
    repo = _open_or_create(repo_path, branch)
    for key, value in REPO_CONFIG.items():
        repo.config[key] = value
    install_hook(repo_path, branch, state_branch)
    settings = home / SETTINGS_FILE
    if not settings.exists():
        settings.write_text(DEFAULT_SETTINGS.format(branch=branch, state_branch=state_branch))
    return repo_path


def _open_or_create(repo_path: Path, branch: str) -> pygit2.Repository:
    if (repo_path / "HEAD").exists():
        return pygit2.Repository(str(repo_path))
    return pygit2.init_repository(str(repo_path), bare=True, initial_head=branch)


def install_hook(repo_path: Path, branch: str = "main", state_branch: str = "state", *,
                 upstream: bool = False) -> Path:
    """Write hooks/pre-receive (executable POSIX sh) that refuses all but the config branch
    (that too when `upstream`), and turn receive.fsckObjects on."""
    hooks = Path(repo_path) / "hooks"
    hooks.mkdir(exist_ok=True)
    config = pygit2.Repository(str(repo_path)).config
    for key, value in REPO_CONFIG.items():
        if _config_value(config, key) != str(value).lower():  # no write when set (full disk)
            config[key] = value
    hook = hooks / "pre-receive"
    text = HOOK.format(branch=branch, state_branch=state_branch,
                       upstream="1" if upstream else "0", refuse=REFUSE,
                       python=shlex.quote(sys.executable), root=shlex.quote(str(PACKAGE_ROOT)),
                       client=shlex.quote(str(PACKAGE_ROOT / "controller" / "answerclient.py")),
                       unanswered=UNANSWERED)
    if hook.exists() and os.access(hook, os.X_OK) and hook.read_text() == text:
        return hook  # each `serve` re-installs it; unchanged means nothing to write
    write_atomic(hook, text, mode=0o755)
    return hook


def _config_value(config: pygit2.Config, key: str) -> str | None:
    try:
        return str(config[key]).lower()
    except KeyError:
        return None

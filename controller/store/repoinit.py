"""Creating a Gitline HOME: the bare config repository, its hook, the settings file.

Owns what `gitline init` leaves on disk: HOME/config.git (bare, HEAD -> the watched
branch, no auto-gc), HOME/config.git/hooks/pre-receive (refuses pushes to the state
branch; answers a push to the config branch with its plan, controller.pushanswer), and
HOME/gitline.yml with documented defaults (never overwritten).
Idempotent: running it again only refreshes the hook and the repository settings.
"""

from __future__ import annotations

import io
import os
import shlex
import sys
from pathlib import Path

import pygit2

from controller.answerclient import ACCEPTED, REFUSED, VERDICT
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
{ask}  if [ -z "$answered" ]; then
    {python} -S -E {client} "$config_old" "$config_new" </dev/null
    answered=$?
  fi
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

# The hook asks the running controller through git's own socket client (no interpreter to
# start: server/hookwire.py); `answered` stays empty when that gave no verdict (no
# controller, no credential-cache in this git, a path with a newline), and the Python
# client asks then (or says no controller answered).
ASK = """\
  answered=
  objects=${{GIT_QUARANTINE_PATH:-$GIT_OBJECT_DIRECTORY}}
  case "$objects" in ""|/*) ;; *) objects=$PWD/$objects ;; esac
  case "$objects" in *"
"*) ;; *)
    reply=$(git credential-cache --socket "${{GIT_DIR:-.}}/{up}answers.sock" get \
2>/dev/null <<EOF
old=${old}
new=${new}
objects=$objects{source}
EOF
)
    case "$reply" in
      "{accept}"|*"
{accept}") answered=0 ;;
      "{refuse}"|*"
{refuse}") answered={refuse_code} ;;
    esac
    [ -z "$answered" ] || printf '%s' "${{reply%{verdict}*}}" ;;
  esac
"""


def _ask(old: str, new: str, source: str = "") -> str:
    """The hook's lines that ask the running controller (ASK) about `old`..`new`."""
    return ASK.format(old=old, new=new, up="../../" if source else "../",
                      source=f"\nsource={source}" if source else "",
                      accept=ACCEPTED, refuse=REFUSED, verdict=VERDICT, refuse_code=REFUSE)


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
                       unanswered=UNANSWERED, ask=_ask("config_old", "config_new"))
    if hook.exists() and os.access(hook, os.X_OK) and hook.read_text() == text:
        return hook  # each `serve` re-installs it; unchanged means nothing to write
    write_atomic(hook, text, mode=0o755)
    return hook


def _config_value(config: pygit2.Config, key: str) -> str | None:
    try:
        return str(config[key]).lower()
    except KeyError:
        return None


SOURCE_HOOK = """\
#!/bin/sh
# Installed by gitline: HOME/repos/{name}.git is source {name} of the subscription. Pushes
# may update {branch} only (never delete it); its workflow files load with config.git's.
# Trigger and approval files are read from config.git only. Re-written at every start.
status=0
zero=0000000000000000000000000000000000000000
source_old=
source_new=
while read -r old new ref; do
  case "$ref" in
    refs/heads/{branch})
      if [ "$new" = "$zero" ]; then
        echo "gitline: refs/heads/{branch} cannot be deleted" >&2
        status=1
      elif [ "{upstream}" = "1" ]; then
        echo "gitline: source {name} follows its upstream repository; push there" >&2
        status=1
      else
        source_old=$old
        source_new=$new
      fi ;;
    *)
      echo "gitline: $ref is not refs/heads/{branch}: only {branch} takes pushes" >&2
      status=1 ;;
  esac
done
if [ $status -eq 0 ] && [ -n "$source_new" ]; then
  # the running controller answers with the subscription's plan (HOME/answers.sock);
  # without one the push is taken in when it starts
{ask}  if [ -z "$answered" ]; then
    {python} -S -E {client} "$source_old" "$source_new" {name}
    answered=$?
  fi
  if [ $answered -eq {refuse} ]; then
    status=1
  fi
fi
exit $status
"""


def init_source(home: Path, name: str, branch: str = "main", *, upstream: bool = False) -> Path:
    """Create (or refresh) HOME/repos/NAME.git, a source of the subscription; its path.
    `name` must already be checked (core.subscription.check_source_name)."""
    from controller.core.subscription import REPOS_DIR, check_source_name

    check_branch(branch)
    repo_path = Path(home) / REPOS_DIR / f"{check_source_name(name)}.git"
    repo_path.parent.mkdir(parents=True, exist_ok=True)
    repo = _open_or_create(repo_path, branch)
    for key, value in REPO_CONFIG.items():
        if _config_value(repo.config, key) != str(value).lower():
            repo.config[key] = value
    hook = repo_path / "hooks" / "pre-receive"
    hook.parent.mkdir(exist_ok=True)
    text = SOURCE_HOOK.format(
        name=name, branch=branch, upstream="1" if upstream else "0", refuse=REFUSE,
        python=shlex.quote(sys.executable),
        client=shlex.quote(str(PACKAGE_ROOT / "controller" / "answerclient.py")),
        ask=_ask("source_old", "source_new", name))
    if not (hook.exists() and hook.read_text() == text):
        write_atomic(hook, text, mode=0o755)
    return repo_path


def add_source_setting(home: Path, name: str) -> bool:
    """List `name` under `sources:` in HOME/gitline.yml (its comments kept); False when
    it is listed already."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    path = Path(home) / SETTINGS_FILE
    yaml = YAML()  # round trip: the user's comments and order stay
    data = yaml.load(path.read_text(encoding="utf-8")) if path.exists() else None
    data = CommentedMap() if data is None else data
    sources = data.get("sources")
    if isinstance(sources, list):
        if any((s.get("name") if isinstance(s, dict) else s) == name for s in sources):
            return False
        sources.append(name)
    elif isinstance(sources, dict):
        if name in sources:
            return False
        sources[name] = CommentedMap()
    elif isinstance(sources, str) and sources.strip():
        if name in [s.strip() for s in sources.split(",")]:
            return False
        data["sources"] = f"{sources},{name}"
    else:
        data["sources"] = CommentedMap({name: CommentedMap()})


    out = io.StringIO()
    yaml.dump(data, out)
    write_atomic(path, out.getvalue())
    return True

"""Shared by the identity tests: a served HOME with tokens, clones over HTTP, a gated job."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from e2ekit import Home, gitline, run, wait_for
from kit import free_port

GATED = """\
resources:
  - name: cfg
    type: params
    versionTemplate:
      params: {N: "1"}
jobs:
  - name: deploy
    type: runSh
    requiresApproval:
      approvers: [ada@example.com]
    steps:
      - IN: cfg
      - TASK:
          script: [echo "deploying N=$N"]
"""


def token(home: Home, name: str, *args: str) -> str:
    return gitline("token", "add", home.path, name, *args).stdout.strip()


def serve(home: Home) -> str:
    port = free_port()
    home.start("--listen", f"127.0.0.1:{port}")
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            urllib.request.urlopen(base + "/api/status", timeout=5)
        except urllib.error.HTTPError as err:
            return err.code == 401
        except OSError:
            return False
        return True

    wait_for(up, 30, "the HTTP listener")
    return base


def url(base: str, user: str, tok: str) -> str:
    return base.replace("http://", f"http://{user}:{tok}@") + "/config.git"


def git(*args: str | Path, cwd: Path | None = None, check: bool = True,
        env: dict[str, str] | None = None):
    return run("git", "-c", "credential.helper=", *args, cwd=cwd, check=check,
               env={"GIT_TERMINAL_PROMPT": "0", **(env or {})})


def commit(work: Path, rel: str, text: str, message: str, *extra: str,
           env: dict[str, str] | None = None) -> None:
    path = work / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git("add", "-A", cwd=work)
    git(*extra, "commit", "-q", "-m", message, cwd=work, env=env)


def pending(home: Home) -> None:
    wait_for(lambda: "deploy: run 1 pending approval" in home.subjects(), 30, "a pending run")

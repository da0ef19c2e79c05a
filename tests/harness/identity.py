"""The identity tests' kit: git over HTTP with no credential helper, a gated job."""

from __future__ import annotations

from pathlib import Path

from tests.harness.commands import run
from tests.harness.home import Home
from tests.harness.wait import wait_for

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

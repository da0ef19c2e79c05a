"""Push storms: several users' clones pushing at once (the reliability tests).

GITLINE_SOAK=1 makes the storm tests run far longer; CI runs the bounded ones.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from tests.harness.commands import run
from tests.harness.home import Home

SOAK = os.environ.get("GITLINE_SOAK", "") not in ("", "0")


def client_file(k: int, value: int) -> str:
    return f"""\
resources:
  - name: r{k}
    type: params
    versionTemplate:
      params: {{V: "{value}"}}
jobs:
  - name: j{k}
    type: runSh
    steps:
      - IN: r{k}
      - TASK:
          script:
            - mkdir -p "$GITLINE_DEMO_ROOT"
            - echo "$JOB_NAME $BUILD_NUMBER $V" >> "$GITLINE_DEMO_ROOT/ledger"
            - sleep 0.$((RANDOM % 3))
"""


class Client:
    """One user's clone: edits only its own file, pulls --rebase when a push is rejected."""

    def __init__(self, home: Home, root: Path, k: int) -> None:
        self.k = k
        self.work = root / f"client{k}"
        run("git", "clone", "-q", home.repo, self.work)
        self.value = 0
        self.triggers: list[str] = []  # shas of pushed trigger commits
        self.pushes = 0

    def git(self, *args: str, check: bool = True):
        return run("git", *args, cwd=self.work, check=check)

    def commit(self, i: int) -> bool:
        """A change of this client's resource or a trigger file; True for a trigger."""
        trigger = i % 3 == 2
        if trigger:
            (self.work / "triggers").mkdir(exist_ok=True)
            (self.work / "triggers" / f"j{self.k}").write_text(f"N={i}\n")
        else:
            self.value += 1
            (self.work / f"c{self.k}.shippable.yml").write_text(client_file(self.k, self.value))
        self.git("add", "-A")
        self.git("commit", "-q", "-m", f"client {self.k} change {i}")
        return trigger

    def push(self) -> None:
        for _ in range(50):
            if self.git("push", "-q", "origin", "HEAD:main", check=False).returncode == 0:
                self.pushes += 1
                return
            self.git("pull", "-q", "--rebase", "origin", "main")
        raise AssertionError(f"client {self.k} could not push")

    def storm(self, count: int, errors: list[BaseException]) -> None:
        try:
            for i in range(count):
                trigger = self.commit(i)
                self.push()
                if trigger:  # its sha is final once pushed (later rebases move only new commits)
                    self.triggers.append(self.git("rev-parse", "HEAD").stdout.strip())
                time.sleep(random.uniform(0, 0.15))
        except BaseException as err:  # noqa: BLE001 - reported by the test
            errors.append(err)

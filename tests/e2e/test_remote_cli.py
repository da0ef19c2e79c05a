"""`gitline --server URL` against a real `gitline serve --listen`, with real tokens and no
HOME: status, log, trigger, logs (-f), approve, cancel, replay; refusals exit as they do
locally (2 for a wrong name, 1 for no token or a missing scope)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.commands import GIT_ENV, gitline
from tests.harness.home import Home
from tests.harness.http import serve_base as serve
from tests.harness.wait import wait_for

ROOT = str(Path(__file__).resolve().parents[2])
LINE = """\
resources:
  - name: go
    type: params
    versionTemplate: {params: {N: "1"}}
jobs:
  - name: paint
    type: runSh
    steps:
      - IN: go
      - TASK: {script: ["echo painting N=$N"]}
  - name: deploy
    type: runSh
    requiresApproval: {approvers: [ada@example.com]}
    steps:
      - IN: go
      - TASK: {script: ["echo deploying"]}
  - name: slow
    type: runSh
    steps:
      - TASK: {script: ["sleep 120"]}
"""


def remote(base: str, token: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI as a remote user: GITLINE_SERVER and GITLINE_TOKEN, no HOME."""
    env = {k: v for k, v in os.environ.items() if k not in ("GITLINE_HOME", "GITLINE_TOKEN")}
    env.update(GIT_ENV, PYTHONPATH=ROOT, GITLINE_SERVER=base)
    if token:
        env["GITLINE_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "controller.cli", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120)


@pytest.fixture
def line(home: Home, tmp_path: Path):
    ada = gitline("token", "add", home.path, "ada", "--scope", "read,trigger,approve",
                  "--email", "ada@example.com").stdout.strip()
    reader = gitline("token", "add", home.path, "reader", "--scope", "read").stdout.strip()
    base = serve(home)
    home.write("shippable.yml", LINE)
    home.push("line")
    wait_for(lambda: "deploy: run 1 pending approval" in home.subjects(), 60, "pending run")
    home.wait_runs("paint", 1, timeout=60)
    away = tmp_path / "elsewhere"  # no HOME here, nor in the environment
    away.mkdir()
    return base, ada, reader, away


def test_a_remote_user_reads_triggers_follows_and_approves(home, line):
    base, ada, _, away = line
    done = remote(base, ada, "status", cwd=away)
    assert done.returncode == 0, done.stderr
    assert f"controller: {base}" in done.stdout and "run 1 succeeded" in done.stdout
    report = json.loads(remote(base, ada, "status", "--json", cwd=away).stdout)
    assert report["jobs"]["deploy"]["active"][0]["status"] == "pending_approval"

    done = remote(base, ada, "trigger", "paint", "-p", "N=7", cwd=away)
    assert done.returncode == 0 and "committed triggers/paint" in done.stdout, done.stderr
    done = remote(base, ada, "logs", "-f", "paint", "2", cwd=away)
    assert done.returncode == 0, done.stderr
    assert "painting N=7" in done.stdout and "paint run 2 succeeded" in done.stderr
    assert "painting N=1" in remote(base, ada, "logs", "paint", "1", cwd=away).stdout
    done = remote(base, ada, "trigger", "paint", "-p", "N=8", "--watch", cwd=away)
    assert done.returncode == 0, done.stderr
    assert "painting N=8" in done.stdout and "paint run 3 succeeded" in done.stderr
    for args in (["log", "paint"], ["log", "go", "--json"], ["log", "paint", "-n", "3"]):
        here = gitline(args[0], home.path, *args[1:])
        there = remote(base, ada, *args, cwd=away)
        assert (there.returncode, there.stdout) == (0, here.stdout), there.stderr
    done = remote(base, ada, "log", "nothing", cwd=away)
    assert done.returncode == 1 and "no history for 'nothing'" in done.stderr

    done = remote(base, ada, "approve", "deploy", "-m", "ship it", "--watch", cwd=away)
    assert done.returncode == 0 and "committed approvals/deploy" in done.stdout, done.stderr
    assert "deploying" in done.stdout and "deploy run 1 succeeded" in done.stderr
    assert home.wait_runs("deploy", 1, timeout=60) == ["run 1 succeeded"]
    assert home.git("log", "-1", "--format=%an", "main").strip() == "ada"


def test_a_remote_user_cancels_and_replays_and_is_refused_as_locally(home, line):
    base, ada, reader, away = line
    assert remote(base, ada, "trigger", "slow", cwd=away).returncode == 0
    wait_for(lambda: "slow: run 1 started" in home.subjects(), 60, "slow running")
    done = remote(base, ada, "cancel", "slow", cwd=away)
    assert done.returncode == 0 and "cancel" in done.stdout, done.stderr
    assert home.wait_runs("slow", 1, timeout=60) == ["run 1 cancelled"]
    done = remote(base, ada, "logs", "-f", "slow", "1", cwd=away)
    assert done.returncode == 1 and "slow run 1 cancelled" in done.stderr

    done = remote(base, ada, "replay", "paint", "1", cwd=away)
    assert done.returncode == 0, done.stderr
    assert home.wait_runs("paint", 2, timeout=60)[-1] == "run 2 succeeded"

    done = remote(base, ada, "cancel", "pain", cwd=away)
    assert done.returncode == 2 and "did you mean 'paint'" in done.stderr
    done = remote(base, ada, "replay", "paint", "99", cwd=away)
    assert done.returncode == 2 and "paint has no run 99 to replay" in done.stderr
    done = remote(base, ada, "approve", "paint", cwd=away)  # 409: exit 1 (locally a usage error)
    assert done.returncode == 1 and "does not require approval" in done.stderr
    done = remote(base, reader, "trigger", "paint", cwd=away)
    assert done.returncode == 1 and "reader" in done.stderr and "trigger" in done.stderr
    done = remote(base, "", "status", cwd=away)
    assert done.returncode == 1 and "GITLINE_TOKEN" in done.stderr

"""The quick start, as a new user meets it: every shell line of the README's quick start and
every line quickstart.sh prints, run in order in a fresh copy of the project, against the
controller quickstart.sh itself starts.

The copy holds what a clone holds (the tracked and unignored files), so no `.venv`, no
`triggers/`, no home. `GITLINE_BIN` points quickstart.sh at this checkout's gitline instead
of a pip install into `.venv`. Between two lines the test waits until the controller has
reacted to the previous one (as a user reads the output before typing on).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from tests.harness.commands import GIT_ENV
from tests.harness.wait import wait_for

ROOT = Path(__file__).resolve().parents[2]


def fresh_copy(dest: Path) -> Path:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=ROOT, capture_output=True, check=True)
    for rel in filter(None, listed.stdout.decode().split("\0")):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def readme_quick_start() -> list[str]:
    """The shell lines of the first ```sh block under `## Quick start`."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [ln for ln in block.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def printed_lines(out: str) -> list[str]:
    """The indented lines after 'In another shell:' in what quickstart.sh printed."""
    after = out.split("In another shell:\n", 1)[1]
    lines = []
    for line in after.splitlines():
        if not line.startswith("  "):
            break
        lines.append(line.strip())
    return lines


def status(gitline: Path, home: Path) -> dict:
    out = subprocess.run([gitline, "status", home, "--json"], capture_output=True, text=True,
                         timeout=60)
    return json.loads(out.stdout) if out.returncode == 0 else {}


def settled(gitline: Path, home: Path) -> bool:
    """Every pushed commit processed and no run queued or running (a gate may wait)."""
    st = status(gitline, home)
    head = subprocess.run(["git", "--git-dir", home / "config.git", "rev-parse", "main"],
                          capture_output=True, text=True).stdout.strip()
    if not st or st["config"]["processed"] != head:
        return False
    return all(r.get("status") == "pending_approval"
               for j in st["jobs"].values() for r in j["active"])


def test_every_quick_start_line_works_in_a_fresh_clone(tmp_path):
    project = fresh_copy(tmp_path / "gitline")
    assert not (project / "sample-repo" / "triggers").exists()
    home, user = tmp_path / "home", tmp_path / "user"
    user.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gitline = bin_dir / "gitline"  # this copy's gitline, as `pip install -e .` would make it
    gitline.write_text(f'#!/bin/sh\nPYTHONPATH={project} exec {sys.executable} '
                       f'-m controller.cli "$@"\n')
    gitline.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITLINE_")}
    env.update(GIT_ENV, GITLINE_HOME=str(home), GITLINE_BIN=str(gitline),
               GITLINE_LISTEN="none", PYTHONUNBUFFERED="1", HOME=str(user))

    readme = readme_quick_start()
    assert readme[0].split("#")[0].strip() == "./quickstart.sh", readme
    for line in readme[1:]:  # `bash .ci/run` is the whole suite: this test is part of it
        command = line.split("#")[0].strip()
        assert command == "bash .ci/run", f"a quick start line this test does not run: {line}"
        check = subprocess.run(["bash", "-n", project / ".ci" / "run"], capture_output=True)
        assert check.returncode == 0, check.stderr

    out_path, err_path = tmp_path / "quickstart.out", tmp_path / "quickstart.err"
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen(["./quickstart.sh"], cwd=project, env=env, stdout=out,
                                stderr=err, text=True, start_new_session=True)
    try:
        wait_for(lambda: "In another shell:" in out_path.read_text()
                 and proc.poll() is None, 60, "quickstart.sh to start the controller")
        assert not (project / ".venv").exists()
        lines = printed_lines(out_path.read_text())
        assert any("triggers/deploy_prod" in ln for ln in lines), lines
        assert any(" approve " in ln for ln in lines), lines

        cwd = tmp_path / "shell"
        cwd.mkdir()
        transcript = []
        for line in lines:
            wait_for(lambda: settled(gitline, home), 90, f"the controller, before: {line}")
            # one shell per line, but `cd` carries on, as in the user's one shell
            done = subprocess.run(["bash", "-c", 'cd "$1" && eval "$2"; rc=$?; pwd > "$3"; '
                                   'exit $rc', "line", cwd, line, tmp_path / "cwd"],
                                  capture_output=True, text=True, env=env, timeout=120)
            transcript.append(f"$ {line}\n{done.stdout}{done.stderr}")
            said = "\n".join(transcript) + f"\ncontroller:\n{err_path.read_text()[-3000:]}"
            assert done.returncode == 0, said
            if " approve " in line:
                assert not re.search(r"refused|not an approver|denied", done.stdout + done.stderr,
                                     re.I), said
            cwd = Path((tmp_path / "cwd").read_text().strip())

        # the end state: staging deployed, the approved prod deploy ran after its approval
        wait_for(lambda: settled(gitline, home), 90, "the controller to settle")
        log = subprocess.run(["git", "--git-dir", home / "config.git", "log", "--format=%s",
                              "state"], capture_output=True, text=True).stdout.splitlines()
        log.reverse()
        said = "\n".join(transcript) + "\n" + "\n".join(log)
        assert "deploy_staging: run 1 succeeded" in log, said
        assert not any("approval" in s and "refused" in s for s in log), said
        approved = [i for i, s in enumerate(log) if s.startswith("deploy_prod: run 1 approved")]
        assert approved and "deploy_prod: run 1 succeeded" in log[approved[0]:], said
        assert "Hello from production" in transcript[-2], said  # the printed `git show`
        assert "deploy_prod" in transcript[-1] and "succeeded" in transcript[-1], said
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

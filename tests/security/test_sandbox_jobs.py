"""Issue #9, jobs run in a sandbox: what a pushed job tries against a real `gitline serve`.

Each attack is the one the issue describes; each fails, the run still records, and no
secret reaches the state branch (which anonymous clones may read).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from controller.core import triggers
from controller.execution import sandbox
from tests.harness.absent import missing
from tests.harness.commands import gitline
from tests.harness.home import serve_argv
from tests.harness.wait import wait_for

FILE_SECRET = "file-secret-5e1f09"
ENV_SECRET = "env-secret-a7c3d2"
CONTROLLER_ONLY = "controller-only-91b4"



@pytest.fixture(autouse=True)
def _bwrap_works() -> None:
    if sandbox.default().kind == "none":
        missing("bwrap does not work on this machine (apt-get install bubblewrap)")


ATTACK = """\
resources:
  - name: go
    type: params
    versionTemplate: {params: {N: "1"}}
jobs:
  - name: attack
    type: runSh
    steps:
      - IN: go
      - TASK:
          script:
            - cat HOME_DIR/secrets.yml > "$JOB_STATE/cat.txt" || echo "blocked: cat"
            - ln HOME_DIR/secrets.yml "$JOB_STATE/hard.txt" || echo "blocked: ln"
            - cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' > "$JOB_STATE/environ.txt" || true
            - env > "$JOB_STATE/env.txt"
            - echo forged >> HOME_DIR/tokens.yml || echo "blocked: tokens"
            - >-
              git --git-dir HOME_DIR/config.git update-ref refs/heads/state HEAD
              || echo "blocked: update-ref"
            - ln -s /etc/passwd passwd-link
            - shipctl copy_file_to_state passwd-link || echo "blocked: copy_file_to_state"
            - ln -s /etc/passwd "$JOB_STATE/link.txt"
            - ls "$(dirname "$PWD")" > "$JOB_STATE/siblings.txt"
"""


def test_a_job_reaches_nothing_of_home_nor_the_controller(home, monkeypatch):
    (home.path / "secrets.yml").write_text(f"my_secret: {FILE_SECRET}\n")
    (home.path / "secrets.yml").chmod(0o600)
    tokens = home.path / "tokens.yml"
    before_tokens = tokens.read_bytes() if tokens.exists() else None
    monkeypatch.setenv("GITLINE_SECRET_OTHER_TEAM", ENV_SECRET)
    monkeypatch.setenv("CONTROLLER_ONLY_VAR", CONTROLLER_ONLY)
    home.start()
    home.write("shippable.yml", ATTACK.replace("HOME_DIR", str(home.path)))
    home.push("a job that attacks")
    assert home.wait_runs("attack", 1, timeout=60) == ["run 1 succeeded"]
    home.wait_idle()
    log = home.show("jobs/attack/log.txt")
    # (appending to HOME/tokens.yml may "work" inside the job: HOME is under /tmp here and
    # /tmp is the job's private tmpfs; the real file is checked unchanged below)
    for blocked in ("cat", "ln", "update-ref", "copy_file_to_state"):
        assert f"blocked: {blocked}" in log
    assert "refused to copy" in log and "it is a symlink" in log
    assert "refused link.txt: it is a symlink" in log
    # nothing of it on the state branch, in any commit
    history = home.git("log", "-p", "state")
    for secret in (FILE_SECRET, ENV_SECRET, CONTROLLER_ONLY, "root:x:0:0"):
        assert secret not in history
    env = home.show("jobs/attack/state/env.txt")
    assert "GITLINE_SECRET" not in env and "CONTROLLER_ONLY_VAR" not in env
    assert f"HOME={home.path}\n" not in env and "/.gitline/home\n" in env
    assert "environ.txt" in home.git("ls-tree", "--name-only", "state", "jobs/attack/state/")
    assert home.show("jobs/attack/state/siblings.txt").split() == ["1"]
    # HOME untouched, the state branch still the controller's own
    assert (tokens.read_bytes() if tokens.exists() else None) == before_tokens
    assert all(s.startswith(("attack", "go", "config", "controller")) or ":" in s
               for s in home.subjects())
    assert "gitline: sandbox: bwrap" in home.server_log()  # serve says what is in force


ROOT_JOB = """\
resources:
  - name: go
    type: params
    versionTemplate: {params: {N: "1"}}
jobs:
  - name: drop_uid
    type: runSh
    steps:
      - IN: go
      - TASK:
          script:
            - id -u > "$JOB_STATE/uid.txt"
            - head -c 4 /etc/shadow > "$JOB_STATE/shadow.txt" || echo "blocked: shadow"
            - touch /etc/forged || echo "blocked: etc"
            - echo one > made-by-step-1.txt
            - mkdir -p sub && echo x > sub/deep.txt
      - TASK:
          script:
            - echo two >> made-by-step-1.txt && echo "step 2 wrote" && cat made-by-step-1.txt
            - echo tmp > /tmp/scratch && cat /tmp/scratch
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="the uid drop is what a root controller does")
def test_under_root_a_job_runs_as_nobody_and_reads_no_root_file(home):
    home.start()
    home.write("shippable.yml", ROOT_JOB)
    home.push("a job that tries root's files")
    assert home.wait_runs("drop_uid", 1, timeout=60) == ["run 1 succeeded"]
    home.wait_idle()
    log = home.show("jobs/drop_uid/log.txt")
    assert home.show("jobs/drop_uid/state/uid.txt").strip() == str(sandbox.NOBODY)
    assert "blocked: shadow" in log and "blocked: etc" in log
    assert home.show("jobs/drop_uid/state/shadow.txt") == ""  # not a byte of /etc/shadow
    assert not os.path.exists("/etc/forged")
    assert "step 2 wrote" in log and "one\ntwo" in log and "tmp" in log
    assert f"jobs run as uid {sandbox.NOBODY}" in home.server_log()


def test_hand_over_changes_only_a_run_folder(tmp_path):
    box = sandbox.Sandbox("bwrap", user=sandbox.NOBODY)
    for wrong in (tmp_path / "missing", Path("/tmp")):
        with pytest.raises(sandbox.SandboxError, match="not a run folder"):
            box.hand_over(wrong)
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    with pytest.raises(sandbox.SandboxError):
        box.hand_over(link)


def test_runs_of_one_work_root_each_write_only_their_own_folder(tmp_path):
    """The mounts up to a run's folder are worked out once per work root; each run
    still gets its own folder, and its siblings stay out of its sight."""
    box = sandbox.default()
    root = tmp_path / "work"
    folders = [root / job / "1" for job in ("a", "b", "c")]
    for folder in folders:
        folder.mkdir(parents=True)
        box.hand_over(folder)
    for folder in folders:
        script = ('echo mine > own.txt; for d in ../../*/1; do [ "$d" = "../../$1/1" ] || '
                  '{ ls "$d" >/dev/null 2>&1 && echo "sees $d"; touch "$d/x" 2>/dev/null '
                  '&& echo "writes $d"; }; done; true')
        done = subprocess.run(box.wrap(["/bin/sh", "-c", script, "sh", folder.parent.name],
                                       folder), capture_output=True, text=True, timeout=60,
                              cwd=folder, stdin=subprocess.DEVNULL,
                              env={"PATH": "/usr/bin:/bin"})
        assert done.returncode == 0, done.stderr
        assert done.stdout == ""
        assert (folder / "own.txt").read_text() == "mine\n"
    for folder in folders:
        assert sorted(p.name for p in folder.iterdir()) == ["own.txt"]


TRIGGERED = """\
resources:
  - name: t
    type: trigger
jobs:
  - name: deploy
    type: runSh
    steps:
      - IN: t
      - TASK: {script: ['echo "reason=[$REASON]"', 'env > "$JOB_STATE/env.txt"']}
"""


def test_trigger_params_that_steer_the_job_are_refused_at_their_line(home):
    home.start()
    home.write("shippable.yml", TRIGGERED)
    home.push("line")
    home.wait_runs("deploy", 1, timeout=60)  # the trigger resource's first version
    home.wait_idle()
    home.write("triggers/deploy", "REASON=fine\nLD_PRELOAD=/tmp/evil.so\n")
    home.push("trigger with LD_PRELOAD")

    def error() -> str:
        errs = home.status()["config"].get("triggerErrors") or []
        return " ".join(str(e.get("error", "")) for e in errs)
    wait_for(lambda: "LD_PRELOAD" in error(), 30, "the trigger error")
    assert "triggers/deploy:2:" in error() and "not allowed" in error()
    home.wait_idle()
    assert len(home.runs("deploy")) == 1  # the refused trigger runs nothing
    home.write("triggers/deploy", "REASON: fine\nPATH: /tmp/evil\n")
    home.push("trigger with PATH (YAML)")
    wait_for(lambda: "triggers/deploy:2: parameter PATH" in error(), 30, "the PATH error")


def test_cli_trigger_refuses_path_and_a_newline_never_makes_a_variable(home):
    home.start()
    home.write("shippable.yml", TRIGGERED)
    home.push("line")
    home.wait_runs("deploy", 1, timeout=60)
    home.wait_idle()
    refused = gitline("trigger", home.path, "deploy", "-p", "PATH=/tmp/x", check=False)
    assert refused.returncode == 2 and "PATH" in refused.stderr and "not allowed" in refused.stderr
    gitline("trigger", home.path, "deploy", "-p", "REASON=x\nBASH_ENV=/tmp/evil\nINJECTED=1")
    assert home.wait_runs("deploy", 2, timeout=60)[-1] == "run 2 succeeded"
    env = home.show("jobs/deploy/state/env.txt")
    value = "REASON=x\nBASH_ENV=/tmp/evil\nINJECTED=1\n"
    assert value in env  # the whole text is REASON's value ...
    rest = env.replace(value, "")
    assert "BASH_ENV" not in rest and "INJECTED" not in rest  # ... and never a variable
    assert "reason=[x" in home.show("jobs/deploy/log.txt")


def test_render_and_parse_keep_a_newline_inside_its_value():
    data = triggers.render_params({"REASON": "x\nBASH_ENV=/tmp/evil"}, "API trigger by ada")
    assert triggers.parse_params(data, "triggers/d") == ({"REASON": "x\nBASH_ENV=/tmp/evil"}, "")


def _serve(home, settings: str, seconds: float = 8) -> subprocess.CompletedProcess[str]:
    (home.path / "gitline.yml").open("a").write(settings)
    try:
        return subprocess.run(serve_argv(home.path), capture_output=True, text=True,
                              timeout=seconds, env={**os.environ})
    except subprocess.TimeoutExpired as exc:
        out = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return subprocess.CompletedProcess(exc.cmd, -1, "", out)


def test_serve_refuses_to_start_when_bwrap_does_not_work(home):
    done = _serve(home, "\nsandbox_bwrap: /nonexistent/bwrap\n")
    assert done.returncode == 1
    assert "sandbox: bwrap: /nonexistent/bwrap not found" in done.stderr
    assert "sandbox: none" in done.stderr  # says how to run without one
    assert "Traceback" not in done.stderr


def test_serve_with_sandbox_none_says_so(home):
    done = _serve(home, "\nsandbox: none\n", seconds=4)
    assert done.returncode == -1  # still running when the timeout ended it
    assert "sandbox: none" in done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="the uid drop is what a root controller does")
def test_serve_refuses_a_bound_folder_its_jobs_could_not_write(home, tmp_path):
    target = tmp_path / "deploy target"
    target.mkdir(mode=0o755)
    done = _serve(home, f"\nsandbox_bind: {target}\n")
    assert done.returncode == 1
    assert f"jobs run as uid {sandbox.NOBODY} and cannot write {target} (chown" in done.stderr
    assert "Traceback" not in done.stderr

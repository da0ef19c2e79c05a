"""A newcomer's path: push a workflow, jobs run, a trigger file runs a job, history is git."""

from __future__ import annotations

import signal
import socket
import textwrap

from tests.harness.commands import gitline, run
from tests.harness.lines import params_and_job
from tests.harness.wait import wait_for

PIPELINE = """\
resources:
  - name: app_cfg
    type: params
    versionTemplate:
      params: {COLOR: blue}
  - name: other_cfg
    type: params
    versionTemplate:
      params: {SIZE: "1"}
  - name: app_img
    type: image
    versionTemplate: {sourceName: app}
jobs:
  - name: build_img
    type: runSh
    steps:
      - IN: app_cfg
      - TASK:
          script:
            - echo "building $COLOR"
            - shipctl post_resource_state app_img versionName "1.4.$BUILD_NUMBER"
      - OUT: app_img
  - name: deploy_prod
    type: runSh
    steps:
      - IN: build_img
      - IN: app_img
        switch: off
      - TASK:
          script:
            - echo "deploying $APP_IMG_VERSIONNAME reason=${REASON:-none}"
  - name: other_job
    type: runSh
    steps:
      - IN: other_cfg
      - TASK:
          script:
            - echo "size $SIZE"
"""


def test_push_runs_the_line_and_history_is_git_log(home):
    home.start()
    home.write("shippable.yml", PIPELINE)
    config = home.push("first line")
    assert home.wait_runs("deploy_prod", 1) == ["run 1 succeeded"]
    home.wait_idle()
    assert home.runs("build_img") == ["run 1 succeeded"]
    assert home.runs("other_job") == ["run 1 succeeded"]

    subjects = home.subjects()
    assert "app_img: version 2 (1.4.1) from build_img run 1" in subjects
    assert "deploy_prod: run 1 succeeded" in subjects
    # one resource's versions, with path-limited git log, as a user reads them
    img_log = home.git("log", "--format=%s", "state", "--", "resources/app_img").splitlines()
    assert img_log == ["app_img: version 2 (1.4.1) from build_img run 1",
                       "app_img: version 1 from config " + config[:7]]
    version = home.show("resources/app_img/version.yml")
    assert "versionNumber: 2" in version and "1.4.1" in version
    deploy_run = home.show("jobs/deploy_prod/run.yml")
    assert "status: succeeded" in deploy_run and "build_img" in deploy_run
    assert "deploying 1.4.1 reason=none" in home.show("jobs/deploy_prod/log.txt")
    trailers = home.git("log", "-1", "--format=%B", "state", "--", "jobs/deploy_prod/run.yml")
    assert "Gitline-Job: deploy_prod" in trailers and "Gitline-Status: succeeded" in trailers
    assert "Gitline-Config: " + config in trailers
    assert run("git", "--git-dir", home.repo, "fsck", "--full").returncode == 0


def test_a_change_runs_exactly_what_is_downstream_and_nothing_else(home):
    home.start()
    home.write("shippable.yml", PIPELINE)
    home.push("first line")
    home.wait_runs("deploy_prod", 1)
    home.wait_idle()

    home.write("shippable.yml", PIPELINE.replace("COLOR: blue", "COLOR: red"))
    home.push("red")
    home.wait_runs("deploy_prod", 2)
    home.wait_idle()
    assert len(home.runs("build_img")) == 2
    assert home.runs("other_job") == ["run 1 succeeded"]
    cause = home.show("jobs/build_img/run.yml")
    assert "app_cfg version 2" in cause and "Ada Lovelace" in cause

    before = len(home.subjects())
    home.write("README.md", "nothing to do with the workflow\n")
    head = home.push("docs only")
    wait_for(lambda: home.status()["config"]["processed"] == head, what="processing")
    home.wait_idle()
    new = home.subjects()[: len(home.subjects()) - before]
    assert all(s.startswith("config:") for s in new), new


def test_trigger_file_runs_one_job_once_with_its_parameters(home):
    home.start()
    home.write("shippable.yml", PIPELINE)
    home.push("first line")
    home.wait_runs("deploy_prod", 1)
    home.wait_idle()

    home.write("triggers/deploy_prod", "REASON: hotfix\n")
    sha = home.push("deploy now")
    assert home.wait_runs("deploy_prod", 2)[-1] == "run 2 succeeded"
    home.wait_idle()
    assert home.runs("build_img") == ["run 1 succeeded"]
    assert "reason=hotfix" in home.show("jobs/deploy_prod/log.txt")
    record = home.show("jobs/deploy_prod/run.yml")
    assert sha in record and "triggers/deploy_prod" in record and "Ada Lovelace" in record
    assert "REASON: hotfix" in record

    out = gitline("trigger", home.path, "deploy_prod", "-p", "REASON=cli").stdout
    assert "committed triggers/deploy_prod" in out
    assert home.wait_runs("deploy_prod", 3)[-1] == "run 3 succeeded"
    assert "reason=cli" in gitline("logs", home.path, "deploy_prod").stdout
    assert "reason=hotfix" in gitline("logs", home.path, "deploy_prod", "2").stdout


def test_broken_push_is_reported_with_file_and_line_and_last_good_keeps_running(home):
    home.start()
    home.write("shippable.yml", PIPELINE)
    home.push("first line")
    home.wait_runs("deploy_prod", 1)
    home.wait_idle()

    broken = PIPELINE.replace("{sourceName: app}", "{sourceName: app")
    bad_line = broken.splitlines().index("    versionTemplate: {sourceName: app") + 1
    home.write("shippable.yml", broken)
    home.push("oops")
    wait_for(lambda: home.status()["config"]["problems"], what="the problem recorded")
    problems = home.status()["config"]["problems"]
    lines = [int(p.split(":")[1]) for p in problems if p.startswith("shippable.yml:")]
    assert lines and bad_line <= lines[0] <= bad_line + 2, problems
    assert "shippable.yml:" in home.show("controller/config.yml")
    text = gitline("status", home.path).stdout
    assert "shippable.yml:" in text

    # the last good workflow still runs: a trigger file runs the job
    home.write("triggers/deploy_prod", "REASON: still-alive\n")
    home.push("deploy anyway")
    assert home.wait_runs("deploy_prod", 2)[-1] == "run 2 succeeded"


def test_unknown_input_marks_only_that_job_inconsistent(home):
    home.start()
    broken = PIPELINE + textwrap.indent(textwrap.dedent("""\
        - name: typo_job
          type: runSh
          steps:
            - IN: app_cgf
            - TASK:
                script: [echo never]
    """), "  ")
    home.write("shippable.yml", broken)
    home.push("with a typo")
    home.wait_runs("deploy_prod", 1)
    home.wait_idle()
    status = home.status()
    assert "app_cgf" in status["jobs"]["typo_job"]["waiting"]
    assert any("app_cgf" in p and "shippable.yml:" in p for p in status["config"]["problems"])


def test_state_branch_cannot_be_pushed_by_users(home):
    home.start()
    home.write("shippable.yml", PIPELINE)
    home.push("first line")
    home.wait_runs("build_img", 1)
    run("git", "fetch", "-q", "origin", "state", cwd=home.work)
    run("git", "checkout", "-q", "-b", "mystate", "origin/state", cwd=home.work)
    home.write("evil.txt", "x")
    run("git", "add", "-A", cwd=home.work)
    run("git", "commit", "-qm", "evil", cwd=home.work)
    refused = run("git", "push", "origin", "+HEAD:state", cwd=home.work, check=False)
    assert refused.returncode != 0
    assert "written only by the controller" in refused.stderr


def test_kill_9_while_jobs_run_loses_nothing_and_reruns_interrupted(home):
    slow = PIPELINE.replace('echo "building $COLOR"', 'echo "building $COLOR"; sleep 3')
    home.write("shippable.yml", slow)
    home.start()
    home.push("first line")
    wait_for(lambda: "build_img: run 1 started" in home.subjects(), what="build to start")
    home.stop(signal.SIGKILL)
    assert "build_img: run 1 started" in home.subjects()

    home.start()
    runs = home.wait_runs("build_img", 2, timeout=40)
    assert runs == ["run 1 interrupted", "run 2 succeeded"]
    home.wait_runs("deploy_prod", 1)
    home.wait_idle()
    record = home.git("log", "-1", "--format=%B", "state", "--", "jobs/build_img/run.yml")
    assert "run 1 was interrupted" in home.show("jobs/build_img/run.yml") or "retry" in record
    # every version is there exactly once
    versions = [s for s in home.subjects() if s.startswith("app_cfg: version")]
    assert versions == [f"app_cfg: version 1 from config {home.git('rev-parse', 'main')[:7]}"]
    assert run("git", "--git-dir", home.repo, "fsck", "--full").returncode == 0


def test_status_log_and_validate_commands(home, tmp_path):
    home.start()
    home.write("shippable.yml", PIPELINE)
    home.push("first line")
    home.wait_runs("deploy_prod", 1)
    home.wait_idle()
    text = gitline("status", home.path).stdout
    assert "app_img" in text and "deploy_prod" in text and "run 1 succeeded" in text
    log = gitline("log", home.path, "app_img").stdout.splitlines()
    assert "version 2 (1.4.1)" in log[0] and "version 1" in log[1]
    assert "run 1 succeeded" in gitline("log", home.path, "build_img").stdout

    bad = tmp_path / "lint" / "shippable.yml"
    bad.parent.mkdir()
    bad.write_text("jobs:\n  - name: j\n    type: runSh\n    steps:\n      - IN: nope\n")
    result = gitline("validate", bad.parent, check=False)
    assert result.returncode == 1
    assert f"{bad}:5:" in result.stdout and "nope" in result.stdout


def test_the_local_worker_of_a_run_is_recorded_and_shown(home):
    """Who ran what: local@<hostname> in run.yml, the trailers, status and log."""
    here = f"local@{socket.gethostname()}"
    home.start()
    home.write("shippable.yml", params_and_job("nap", "[sleep 300]"))
    home.push("a job that waits")
    wait_for(lambda: "nap: run 1 started" in home.subjects(), 30, "nap to start")
    assert f"worker: {here}" in home.show("jobs/nap/active/1.yml")
    assert f"run 1 running on {here}" in gitline("status", home.path).stdout
    assert home.status()["jobs"]["nap"]["lastRun"]["worker"] == here
    gitline("cancel", home.path, "nap")
    assert home.wait_runs("nap", 1) == ["run 1 cancelled"]
    assert f"worker: {here}" in home.show("jobs/nap/run.yml")
    bodies = home.git("log", "--format=%B", "state", "--", "jobs/nap/run.yml")
    assert bodies.count(f"Gitline-Worker: {here}") == 2  # started and cancelled, not queued
    log = gitline("log", home.path, "nap").stdout
    assert "run 1 cancelled  (input: go version 1" in log and log.rstrip().endswith(f"on {here}")

"""The job model through the running controller: approvals, retries, timeouts, cancel,
replay, release and manifest, replicate, job state handed downstream."""

from __future__ import annotations

import os
import pwd

from tests.harness.commands import gitline, run
from tests.harness.lines import GATED_JOB as GATED
from tests.harness.lines import jobs
from tests.harness.wait import wait_for


def as_user(name: str, email: str) -> dict[str, str]:
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email}


ME = pwd.getpwuid(os.getuid()).pw_name


def map_me(home) -> None:
    """local_users: this unix user is ada@example.com (before the controller starts)."""
    with (home.path / "gitline.yml").open("a") as f:
        f.write(f"local_users: {{{ME}: ada@example.com}}\n")


def approve(home, job: str, *args: str) -> str:
    """`gitline approve` as this unix user."""
    return gitline("approve", home.path, job, *args).stdout


def test_approval_gate_waits_refuses_others_and_runs_when_approved(home):
    map_me(home)
    home.start()
    home.write("shippable.yml", jobs(GATED))
    home.push("gated deploy")
    wait_for(lambda: "deploy: run 1 pending approval" in home.subjects(), what="pending run")
    status = home.status()["jobs"]["deploy"]
    assert status["active"][0]["status"] == "pending_approval"
    assert status["waiting"] == ("approve with `gitline approve deploy` or a commit to "
                                 "approvals/deploy (by one of: ada@example.com)")
    assert home.runs("deploy") == []

    # a hand-made commit whose author claims to be Ada proves nothing
    home.write("approvals/deploy", "approve\n")
    home.push("approve as if Ada")
    wait_for(lambda: "deploy: run 1 approve by Ada Lovelace <ada@example.com> "
             "(unauthenticated) refused" in home.subjects(), what="refusal recorded")
    assert home.status()["jobs"]["deploy"]["active"][0]["status"] == "pending_approval"

    out = approve(home, "deploy", "-m", "ship it")
    assert "approve" in out
    assert home.wait_runs("deploy", 1) == ["run 1 succeeded"]
    record = home.show("jobs/deploy/run.yml")
    assert f"approved by {ME} <ada@example.com> (local user)" in record and "ship it" in record


def test_rejection_cancels_and_runs_on_cancel_and_a_newer_run_supersedes(home):
    map_me(home)
    home.start()
    home.write("shippable.yml", jobs(GATED))
    home.push("gated deploy")
    wait_for(lambda: "deploy: run 1 pending approval" in home.subjects(), what="pending run")
    home.write("shippable.yml", jobs(GATED).replace('N: "1"', 'N: "2"'))
    home.push("new params")
    assert home.wait_runs("deploy", 1) == ["run 1 cancelled"]
    assert "superseded by run 2" in home.git("log", "-1", "--format=%B", "state", "--",
                                             "jobs/deploy/finished.yml") or \
        "superseded by run 2" in gitline("log", home.path, "deploy").stdout + home.show(
            "jobs/deploy/finished.yml")
    wait_for(lambda: "deploy: run 2 pending approval" in home.subjects(), what="run 2 pending")

    approve(home, "deploy", "--reject", "-m", "not today")
    assert home.wait_runs("deploy", 2)[-1] == "run 2 cancelled"
    assert "on_cancel ran" in gitline("logs", home.path, "deploy", "2").stdout
    assert f"rejected by {ME} <ada@example.com> (local user)" in home.show(
        "jobs/deploy/run.yml")


def test_approval_timeout_cancels_the_run(home):
    home.start()
    home.write("shippable.yml", jobs(GATED.replace("timeoutMinutes: 60", "timeoutMinutes: 0.02")))
    home.push("gated deploy, short timeout")
    assert home.wait_runs("deploy", 1, timeout=40) == ["run 1 cancelled"]
    assert "approval timed out after 0.02 minutes" in home.show("jobs/deploy/run.yml")


def test_retries_record_each_attempt_and_succeed(home):
    marker = home.path / "deployed" / "tried-once"
    home.start()
    home.write("shippable.yml", jobs("""\
        - name: flaky
          type: runSh
          retries: 2
          steps:
            - IN: cfg
            - TASK:
                script:
                  - mkdir -p "$GITLINE_DEMO_ROOT"
                  - cd "$GITLINE_DEMO_ROOT"
                  - if [ ! -f tried-once ]; then touch tried-once; echo first; exit 3; fi
                  - echo "second attempt ok"
        """))
    home.push("flaky job")
    assert home.wait_runs("flaky", 1) == ["run 1 succeeded"]
    assert marker.exists()
    assert "flaky: run 1 attempt 1 failed, retrying" in home.subjects()
    record = home.show("jobs/flaky/run.yml")
    assert "attempt: 2" in record
    # each attempt's started and end commits name its worker (the retry commit the failed one)
    bodies = home.git("log", "--format=%B", "state", "--", "jobs/flaky/run.yml")
    assert bodies.count("Gitline-Worker: local@") == 4


def test_timeout_kills_the_job_and_runs_on_failure(home):
    home.start()
    home.write("shippable.yml", jobs("""\
        - name: slow
          type: runSh
          runtime: {timeoutMinutes: 0.02}
          steps:
            - IN: cfg
            - TASK:
                script: [sleep 60 & sleep 60]
          on_failure:
            script: [echo "on_failure ran"]
        """))
    home.push("slow job")
    assert home.wait_runs("slow", 1, timeout=40) == ["run 1 timed out"]
    assert "on_failure ran" in gitline("logs", home.path, "slow").stdout


def test_cancel_stops_a_running_job_and_runs_on_cancel(home):
    home.start()
    home.write("shippable.yml", jobs("""\
        - name: long
          type: runSh
          steps:
            - IN: cfg
            - TASK:
                script: [echo started, sleep 60]
          on_cancel:
            script: [echo "on_cancel ran"]
        """))
    home.push("long job")
    wait_for(lambda: "long: run 1 started" in home.subjects(), what="start")
    out = gitline("cancel", home.path, "long").stdout
    assert out.strip() == "cancelled long run 1"
    assert home.wait_runs("long", 1, timeout=30) == ["run 1 cancelled"]
    assert "on_cancel ran" in gitline("logs", home.path, "long").stdout


def test_replay_runs_again_with_exactly_the_old_inputs(home):
    home.start()
    spec = jobs("""\
        - name: show
          type: runSh
          steps:
            - IN: cfg
            - TASK:
                script: [echo "N=$N version=$CFG_VERSIONNUMBER"]
        """)
    home.write("shippable.yml", spec)
    home.push("v1")
    home.wait_runs("show", 1)
    home.write("shippable.yml", spec.replace('N: "1"', 'N: "2"'))
    home.push("v2")
    home.wait_runs("show", 2)
    home.wait_idle()
    gitline("replay", home.path, "show", "1")
    assert home.wait_runs("show", 3)[-1] == "run 3 succeeded"
    assert "N=1 version=1" in gitline("logs", home.path, "show", "3").stdout
    record = home.show("jobs/show/run.yml")
    assert "replay" in record and "run 1 of show" in record


def test_manifest_and_release_bump_the_version_and_job_state_flows_downstream(home):
    home.start()
    home.write("shippable.yml", """\
resources:
  - name: app_img
    type: image
    versionTemplate: {sourceName: registry/app, versionName: "4.2"}
  - name: app_params
    type: params
    versionTemplate:
      params: {REPLICAS: "3"}
  - name: app_version
    type: version
    versionTemplate: {versionName: "1.2.0"}
  - name: img_copy
    type: image
    versionTemplate: {sourceName: registry/app}
jobs:
  - name: app_manifest
    type: manifest
    steps:
      - IN: app_img
      - IN: app_params
      - TASK: managed
  - name: app_release
    type: release
    steps:
      - IN: app_manifest
      - IN: app_version
        switch: off
      - TASK: managed
        bump: minor
  - name: announce
    type: runSh
    steps:
      - IN: app_release
      - IN: app_img
        switch: off
      - TASK:
          script:
            - cat "$APP_RELEASE_STATE/release.json"
            - echo "released $(shipctl get_resource_version_name app_version 2>/dev/null)"
      - OUT: img_copy
        replicate: app_img
""")
    home.push("release line")
    assert home.wait_runs("announce", 1) == ["run 1 succeeded"]
    home.wait_idle()
    assert home.runs("app_release") == ["run 1 succeeded"]
    assert "app_version: version 2 (1.3.0) from app_release run 1" in home.subjects()
    manifest = home.show("jobs/app_manifest/state/manifest.json")
    assert '"4.2"' in manifest and '"REPLICAS": "3"' in manifest
    log = gitline("logs", home.path, "announce").stdout
    assert '"versionName": "1.3.0"' in log and '"previous": "1.2.0"' in log
    copy = home.show("resources/img_copy/version.yml")
    assert "4.2" in copy and "registry/app" in copy
    assert run("git", "--git-dir", home.repo, "fsck", "--full").returncode == 0

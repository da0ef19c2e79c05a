"""Trigger resources, trigger files that go wrong, and time resources, through `gitline serve`."""

from __future__ import annotations

import os
import time

from tests.harness.commands import gitline, run
from tests.harness.wait import wait_for

TRIGGERED = """\
resources:
  - name: deploy_now
    type: trigger
    versionTemplate: {counter: COUNTER}
  - name: cfg
    type: params
    versionTemplate: {params: {X: "1"}}
jobs:
  - name: deploy
    type: runSh
    steps:
      - IN: deploy_now
      - TASK: {script: ['echo "deploy for counter $DEPLOY_NOW_VERSIONNAME"']}
  - name: other
    type: runSh
    steps:
      - IN: cfg
      - TASK: {script: ['echo other']}
"""


def test_bumping_a_trigger_counter_runs_its_jobs_and_nothing_else(home):
    home.start()
    home.write("shippable.yml", TRIGGERED.replace("COUNTER", "1"))
    home.push("line")
    home.wait_runs("deploy", 1)
    home.wait_runs("other", 1)
    home.wait_idle()
    home.write("shippable.yml", TRIGGERED.replace("COUNTER", "2"))
    bump = home.push("bump the counter")
    assert home.wait_runs("deploy", 2) == ["run 1 succeeded", "run 2 succeeded"]
    home.wait_idle()
    assert home.runs("other") == ["run 1 succeeded"]
    assert "deploy for counter 2" in gitline("logs", home.path, "deploy").stdout
    run_yml = home.show("jobs/deploy/run.yml")
    assert "deploy_now version 2 (2)" in run_yml and bump[:7] in run_yml
    assert "Ada Lovelace" in run_yml  # the author of the bump is the cause


def test_bad_triggers_are_reported_with_commit_and_author_and_nothing_else_happens(home):
    home.start()
    home.write("shippable.yml", TRIGGERED.replace("COUNTER", "1"))
    home.push("line")
    home.wait_runs("deploy", 1)
    home.wait_runs("other", 1)
    home.wait_idle()

    home.write("triggers/no_such_job", "REASON: typo\n")
    missing = home.push("trigger a job that does not exist")
    home.write("triggers/deploy", "REASON: [unclosed\n  - nonsense: {\n")
    malformed = home.push("malformed trigger")
    os.symlink("/etc/passwd", home.work / "triggers" / "other")
    symlink = home.push("a symlink as trigger")
    (home.work / "triggers" / "other").unlink()
    home.write("triggers/other/inner", "x\n")
    folder = home.push("a folder as trigger")
    home.write("triggers/other2.yml", "")  # fine path, unknown job, after the bad ones
    home.wait_idle()

    st = home.status()
    errors = st["config"]["triggerErrors"]
    by_commit = {e["commit"]: e for e in errors}
    for sha, job, words in [(missing, "no_such_job", "no job named"),
                            (malformed, "deploy", "trigger file"),
                            (symlink, "other", "symlink"),
                            (folder, "other", "")]:
        assert sha in by_commit, f"{job} in {sha[:7]} not reported: {errors}"
        assert by_commit[sha]["author"].startswith("Ada Lovelace")
        assert words.lower() in by_commit[sha]["error"].lower()
    text = gitline("status", home.path).stdout
    assert missing[:7] in text and "no_such_job" in text and "Ada Lovelace" in text
    # the state branch holds them too, in the config record and in commit subjects
    record = home.show("controller/config.yml")
    assert missing in record and malformed in record
    # nothing ran, nothing else moved
    assert home.runs("deploy") == ["run 1 succeeded"]
    assert home.runs("other") == ["run 1 succeeded"]
    assert st["config"]["problems"] == []
    # a good trigger still works afterwards
    home.write("triggers/deploy", "REASON=fine\n")
    home.push("good trigger")
    assert home.wait_runs("deploy", 2)[-1] == "run 2 succeeded"


TIMED = """\
resources:
  - name: tick
    type: time
    versionTemplate: {interval: "INTERVAL"}
jobs:
  - name: on_tick
    type: runSh
    steps:
      - IN: tick
      - TASK: {script: ['echo "tick $TICK_VERSIONNAME"']}
"""


def tick_versions(home) -> list[str]:
    out = home.git("log", "--format=%s", "state", "--", "resources/tick", check=False)
    return list(reversed(out.splitlines()))


def test_a_time_resource_ticks_starts_jobs_and_follows_pushes(home):
    home.start()
    home.write("shippable.yml", TIMED.replace("INTERVAL", "*/3 * * * * *"))
    home.push("every 3 seconds")
    wait_for(lambda: len(tick_versions(home)) >= 2, 30, "two ticks")
    home.wait_runs("on_tick", 2, timeout=30)
    first = tick_versions(home)
    assert first[0].startswith("tick: version 1 (") and first[0].endswith(" from time")
    run_yml = home.show("jobs/on_tick/run.yml")
    assert "tick version" in run_yml
    # change the schedule: daily at a time that is not now
    home.write("shippable.yml", TIMED.replace("INTERVAL", "0 0 1 1 *"))
    home.push("yearly")
    home.wait_idle()
    time.sleep(1)
    settled = len(tick_versions(home))
    time.sleep(4)
    assert len(tick_versions(home)) == settled, "the old schedule still ticks"
    assert "tick: next tick" in home.server_log() and "(0 0 1 1 * UTC)" in home.server_log()
    # back to seconds, then removed: ticks stop without a restart
    home.write("shippable.yml", TIMED.replace("INTERVAL", "*/2 * * * * *"))
    home.push("every 2 seconds")
    wait_for(lambda: len(tick_versions(home)) >= settled + 1, 20, "a tick after re-adding")
    home.write("shippable.yml", "resources: []\njobs: []\n")
    home.push("no more time")
    home.wait_idle()
    wait_for(lambda: "tick: schedule removed" in home.server_log(), 10, "removal")
    gone = len(tick_versions(home))
    time.sleep(3)
    assert len(tick_versions(home)) == gone
    names = [s.split("(", 1)[1].split(")")[0] for s in tick_versions(home)]
    assert len(names) == len(set(names)), "a tick was recorded twice"


def test_after_downtime_one_catch_up_tick_and_a_restart_never_fires_twice(home):
    home.start()
    home.write("shippable.yml", TIMED.replace("INTERVAL", "*/5 * * * * *"))
    home.push("every 5 seconds")
    wait_for(lambda: len(tick_versions(home)) >= 1, 30, "a first tick")
    home.stop()
    before = tick_versions(home)
    time.sleep(12)  # at least two ticks are missed
    home.start()
    wait_for(lambda: len(tick_versions(home)) >= len(before) + 1, 30, "the catch-up tick")
    after = tick_versions(home)
    catch_up = after[len(before)]
    assert catch_up.endswith("from time catch-up"), after
    time.sleep(1.5)  # less than a period: the catch-up is one tick, not a burst
    assert len([s for s in tick_versions(home) if s.endswith("catch-up")]) == 1
    # restart at once: the tick just made is on the state branch, so it is not made again
    wait_for(lambda: tick_versions(home)[-1].endswith("from time"), 30, "a regular tick")
    home.stop()
    home.start()
    time.sleep(3)
    home.stop()
    names = [s.split("(", 1)[1].split(")")[0] for s in tick_versions(home)]
    assert len(names) == len(set(names)), f"a tick was recorded twice: {names}"
    assert names == sorted(names)
    assert run("git", "--git-dir", home.repo, "fsck").returncode == 0

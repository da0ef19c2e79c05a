"""Hostile input: the exact problem a user sees, and the previous workflow keeps running.

Every case of hostile_cases.py is loaded in-process (fast); a representative subset, and
the cases only the controller sees (trigger files, runaway jobs), go through a running
`gitline serve` with the real git client: one controller, push the good workflow, then
each hostile variant, and after each a trigger file still runs the good job.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from controller.core import loader, model
from tests.harness.commands import run
from tests.harness.home import Home
from tests.harness.hostile_cases import CASES, EXPECTED, GOOD, Case, Y
from tests.harness.wait import wait_for


def test_the_table_is_complete() -> None:
    assert len(CASES) >= 60
    assert {c.id for c in CASES} == set(EXPECTED)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_loader_reports_exactly_and_isolates(case: Case) -> None:
    message, fatal = EXPECTED[case.id]
    wf = loader.load_workflow(list(case.files.items()))
    assert message in [str(p) for p in wf.problems]
    assert wf.fatal == fatal
    # No name that could escape a folder or reach a shell ever enters the workflow.
    assert all(model.is_safe_name(n) for n in (*wf.jobs, *wf.resources))
    if not fatal and case.id != "duplicate key":  # the rest of the workflow still loads
        assert "paint" in wf.jobs and "paint" not in wf.inconsistent


THROUGH_CONTROLLER = [
    "alias bomb", "python object tag", "file over 5 MB", "flow nesting 10,000 deep",
    "block sequence nesting 50,000 deep", "latin-1 bytes", "top level is a list",
    "jobs is a mapping", "job name with ../",
    "job name with $()", "duplicate job", "cycle of two", "unknown job type",
]


def _status_lines(home: Home) -> list[str]:
    st = home.status()
    return [*st["config"]["problems"], *(str(t) for t in st["config"]["triggerErrors"])]


def _push_files(home: Home, files: dict[str, str | bytes], message: str) -> str:
    for path in list(home.work.glob("*.yml")):
        path.unlink()
    for rel, text in files.items():
        target = home.work / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text)
    return home.push(message)


def _trigger_paint(home: Home, count: int) -> None:
    home.write("triggers/paint", f"N={count}\n")
    home.push(f"paint {count}")
    assert home.wait_runs("paint", count, timeout=60)[-1] == f"run {count} succeeded"
    assert "painting blue" in home.show("jobs/paint/log.txt")


def test_hostile_pushes_through_the_controller(home: Home, tmp_path: Path) -> None:
    home.start()
    _push_files(home, {Y: GOOD}, "good")
    home.wait_runs("paint", 1, timeout=60)
    runs = 1
    cases = {c.id: c for c in CASES}
    pwned = tmp_path / "pwned"
    for case_id in THROUGH_CONTROLLER:
        case = cases[case_id]
        files = {k: (v.replace("/tmp/pwned", str(pwned)) if isinstance(v, str) else v)
                 for k, v in case.files.items()}
        head = _push_files(home, files, case_id)
        wait_for(lambda h=head: home.status()["config"]["processed"] == h, 60, case_id)
        message, fatal = EXPECTED[case_id]
        lines = _status_lines(home)
        assert message.replace("/tmp/pwned", str(pwned)) in lines, (case_id, lines)
        st = home.status()
        if fatal:  # the last good workflow keeps running
            assert st["config"]["good"] != head
        runs += 1
        _trigger_paint(home, runs)
    assert not pwned.exists()  # a name never reached a shell
    assert run("git", "--git-dir", home.repo, "fsck", "--full").returncode == 0


def test_bad_trigger_files_are_reported_and_run_nothing(home: Home) -> None:
    home.start()
    _push_files(home, {Y: GOOD}, "good")
    home.wait_runs("paint", 1, timeout=60)
    home.wait_idle(60)
    bad = {
        "missing job": ("triggers/ghost", ""),
        "a folder": ("triggers/paint/inner", ""),
        "bad name": ("triggers/a;b", ""),
    }
    for what, (rel, text) in bad.items():
        home.write(rel, text)
        head = home.push(what)
        wait_for(lambda h=head: home.status()["config"]["processed"] == h, 60, what)
    shutil.rmtree(home.work / "triggers" / "paint")
    os.symlink("../shippable.yml", home.work / "triggers" / "paint")
    head = home.push("a symlink")
    wait_for(lambda: home.status()["config"]["processed"] == head, 60, "symlink")
    errors = {e["path"]: e["error"] for e in home.status()["config"]["triggerErrors"]}
    assert errors["triggers/ghost"] == "no job named 'ghost' in the workflow"
    assert errors["triggers/paint"] == "triggers/paint is a symlink, not a file"
    assert errors["triggers/paint/inner"].startswith("triggers/paint/inner is not a trigger file")
    assert errors["triggers/a;b"].startswith("triggers/a;b is not a trigger file")
    home.wait_idle(60)
    assert home.runs("paint") == ["run 1 succeeded"]  # nothing ran


RUNAWAY = GOOD + """\
  - name: forker
    type: runSh
    runtime:
      timeoutMinutes: 0.05
    steps:
      - IN: cfg
        switch: off
      - TASK:
          script:
            - (exec -a gitline-runaway-loop sleep 1000) &
            - exec -a gitline-runaway-child sleep 1000
  - name: chatty
    type: runSh
    steps:
      - IN: cfg
        switch: off
      - TASK:
          script:
            - head -c 1100000000 /dev/zero | tr '\\0' 'x'
            - echo done
"""


def _procs(marker: str) -> list[str]:
    out = subprocess.run(["pgrep", "-af", marker], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "pgrep" not in line]


def test_runaway_jobs_are_bounded(home: Home) -> None:
    """A job that forks and never exits is killed by its timeout, its whole process group
    with it; a job that writes a gigabyte of log keeps only the bounded head and tail."""
    home.start()
    _push_files(home, {Y: RUNAWAY}, "runaway")
    home.wait_runs("paint", 1, timeout=60)
    home.write("triggers/forker", "")
    home.write("triggers/chatty", "")
    started = time.monotonic()
    home.push("run both")
    assert home.wait_runs("forker", 1, timeout=90) == ["run 1 timed out"]
    assert time.monotonic() - started < 60
    for marker in ("gitline-runaway-child", "gitline-runaway-loop"):
        wait_for(lambda m=marker: not _procs(m), 10, f"{marker} to be killed")
    assert home.wait_runs("chatty", 1, timeout=240) == ["run 1 succeeded"]
    text = home.show("jobs/chatty/log.txt")
    assert len(text) <= 10 * 1024 * 1024 + 200
    assert "log truncated" in text and text.rstrip().endswith("done")
    assert "log truncated" in home.show("jobs/chatty/run.yml")

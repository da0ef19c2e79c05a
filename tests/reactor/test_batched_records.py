"""Run records of a burst share a commit (reactor/runbatch.py) on a real state branch, and
each run still reads as its own records: in `git log -- jobs/<job>/run.yml`, in the
trailers, in `store.history`, in the CLI's reader; and a failed write acts on nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pygit2
import pytest

from controller.core import runspec as rs
from controller.store.commitmessages import trailer_groups
from controller.store.gitstate import GitStateStore
from controller.store.statereader import open_readers
from tests.harness.home import record_subjects
from tests.harness.reactorline import Line, make_line

JOBS = 5
FAN = ["resources:", "  - name: seed", "    type: params", "    versionTemplate:",
       "      params: {N: \"1\"}", "jobs:"] + [
    line for i in range(JOBS) for line in (
        f"  - name: j{i}", "    type: runSh", "    steps:", "      - IN: seed",
        "      - TASK:", "          script: [\"true\"]")]
WORKFLOW = "\n".join(FAN) + "\n"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(repo), *args], check=True,
                          capture_output=True, text=True).stdout


def git_line(tmp_path: Path, store: GitStateStore | None = None) -> tuple[Line, Path]:
    repo = tmp_path / "config.git"
    if not repo.exists():
        pygit2.init_repository(str(repo), bare=True)
    store = store or GitStateStore(repo)
    return make_line(tmp_path, store=store), repo  # type: ignore[arg-type]


def run_commits(repo: Path, job: str) -> list[str]:
    """Each commit of `job`'s run.yml, newest first, as `<job>: run N <status>` (its own
    line in a commit of several runs) with its Gitline-Status trailer."""
    out = git(repo, "log", "--format=%B%x00", "state", "--", f"jobs/{job}/run.yml")
    said = []
    for body in filter(None, (b.strip() for b in out.split("\0"))):
        own = [s for s in record_subjects(body) if s.startswith(f"{job}: ")]
        group = next(g for g in trailer_groups(body) if g.get("Job") == job)
        assert len(own) == 1, body
        said.append(f"{own[0].split(' (')[0]} [{group['Status']}]")  # without the cause
    return said


def test_a_burst_is_one_commit_per_moment_and_each_run_keeps_its_records(tmp_path: Path):
    line, repo = git_line(tmp_path)
    line.push("shippable.yml", WORKFLOW)
    names = [f"j{i}" for i in range(JOBS)]
    assert sorted(s.run.job for s in line.executor.given) == names
    subjects = git(repo, "log", "--format=%s", "state").splitlines()
    assert subjects.count(f"{JOBS} runs queued: j0 1, j1 1, j2 1, j3 1, j4 1") == 1
    assert not any(s.startswith("j") for s in subjects)  # no run recorded alone
    before = len(subjects)

    for name in names:
        line.executor.start(name, 1)
    line.run_pass()
    for name in names:
        line.executor.end(name, 1)
    line.run_pass()
    subjects = git(repo, "log", "--format=%s", "state").splitlines()
    assert subjects[:2] == [f"{JOBS} runs succeeded: j0 1, j1 1, j2 1, j3 1, j4 1",
                            f"{JOBS} runs started: j0 1, j1 1, j2 1, j3 1, j4 1"]
    assert len(subjects) == before + 2  # 3 commits for 15 records

    for name in names:
        assert run_commits(repo, name) == [f"{name}: run 1 succeeded [succeeded]",
                                           f"{name}: run 1 started [running]",
                                           f"{name}: run 1 queued [queued]"]
        assert line.runs(name) == ["run 1 succeeded"]
        history = list(line.store.history(name))
        assert [e.subject for e in history] == [f"{name}: run 1 succeeded"]
        assert git(repo, "show", f"state:jobs/{name}/log.txt") == f"{name} succeeded"
    # every run named by the trailers git itself reads
    jobs = git(repo, "log", "-1", "--format=%(trailers:key=Gitline-Job,valueonly)", "state")
    assert jobs.split() == names
    git(repo, "fsck", "--strict", "--no-dangling")

    # the CLI's reader (git cat-file, the saved index) answers as the store does
    _, reader, cat = open_readers(repo, "main", "state")
    with cat:
        for name in names:
            assert list(reader.history(name, 10)) == list(line.store.history(name, 10))
            assert reader.read_log(name, 1) == f"{name} succeeded"
        assert reader.read_snapshot() == line.store.read_snapshot()


def test_a_start_and_an_end_of_one_run_in_one_pass_stay_two_commits(tmp_path: Path):
    line, repo = git_line(tmp_path)
    line.push("shippable.yml", WORKFLOW)
    line.executor.start("j0", 1)
    line.executor.end("j0", 1)
    line.executor.start("j1", 1)
    line.run_pass()
    assert run_commits(repo, "j0") == ["j0: run 1 succeeded [succeeded]",
                                       "j0: run 1 started [running]",
                                       "j0: run 1 queued [queued]"]
    assert git(repo, "log", "-2", "--format=%s", "state").splitlines() == [
        "j0: run 1 succeeded", "2 runs started: j0 1, j1 1"]  # a layer per record of j0


def test_the_starts_and_ends_of_a_pass_are_two_commits_in_each_jobs_order(tmp_path: Path):
    line, repo = git_line(tmp_path)
    line.push("shippable.yml", WORKFLOW)
    before = len(git(repo, "log", "--format=%s", "state").splitlines())
    for i in range(JOBS):  # each run starts and ends before the pass: s0 e0 s1 e1 ...
        line.executor.start(f"j{i}", 1)
        line.executor.end(f"j{i}", 1, "failed" if i == 2 else "succeeded")
    line.run_pass()
    subjects = git(repo, "log", "--format=%s", "state").splitlines()
    assert len(subjects) == before + 2
    assert subjects[0] == f"{JOBS} runs recorded: j0 1, j1 1, j2 1, j3 1, j4 1"
    assert subjects[1] == f"{JOBS} runs started: j0 1, j1 1, j2 1, j3 1, j4 1"
    for i in range(JOBS):
        status = "failed" if i == 2 else "succeeded"
        assert run_commits(repo, f"j{i}")[:2] == [f"j{i}: run 1 {status} [{status}]",
                                                   f"j{i}: run 1 started [running]"]
    git(repo, "fsck", "--strict", "--no-dangling")


def test_a_refused_outcome_in_a_burst_fails_alone_and_the_others_are_recorded(
        tmp_path: Path):
    line, repo = git_line(tmp_path)
    line.push("shippable.yml", WORKFLOW)
    for name in ("j0", "j1", "j2"):
        line.executor.start(name, 1)
    line.run_pass()
    spec, _, on_done = line.executor.held.pop(("j1", 1))
    line.executor.end("j0", 1)
    on_done(spec, rs.Outcome("succeeded", 0, "j1 log", "t0", "t1",
                             state_files={"../escape": b"x"}))
    line.executor.end("j2", 1)
    line.run_pass()
    assert line.runs("j0") == ["run 1 succeeded"] and line.runs("j2") == ["run 1 succeeded"]
    assert line.runs("j1") == ["run 1 failed"]
    assert "outcome could not be recorded" in line.run("j1", 1).message
    assert line.store.read_log("j1", 1) == "j1 log"
    git(repo, "fsck", "--strict", "--no-dangling")


class FailingOnce(GitStateStore):
    """A write that dies before its commit (a full disk, a kill -9 in the middle)."""

    fail = True

    def record_runs(self, records):  # type: ignore[no-untyped-def]
        if self.fail and len(records) > 1:
            self.fail = False
            raise OSError("no space left on device")
        return super().record_runs(records)


def test_queued_runs_act_only_once_committed_and_a_failed_commit_is_planned_again(
        tmp_path: Path):
    repo = tmp_path / "config.git"
    pygit2.init_repository(str(repo), bare=True)
    line, _ = git_line(tmp_path, FailingOnce(repo))
    with pytest.raises(OSError):
        line.push("shippable.yml", WORKFLOW)
    assert line.executor.given == []  # nothing handed over without its record
    assert "runs queued" not in git(repo, "log", "--format=%s", "state")

    restarted, _ = git_line(tmp_path, GitStateStore(repo))  # a new process, the same state
    restarted.run_pass()
    assert sorted(s.run.job for s in restarted.executor.given) == [f"j{i}" for i in range(JOBS)]
    for i in range(JOBS):
        assert restarted.runs(f"j{i}") == ["run 1 queued"]
    git(repo, "fsck", "--strict", "--no-dangling")


def test_reports_soon_after_a_recording_wait_for_the_pace_and_share_its_commits(
        tmp_path: Path):
    """A report after a quiet moment is recorded at once; reports that follow a recording
    within `pace` wait out the rest of it (the pass sleeps, the executor runs) and are
    then recorded together, each run still with its own records."""
    line, repo = git_line(tmp_path)
    clock, slept = [100.0], []
    outcomes = line.reconciler.outcomes
    outcomes._clock = lambda: clock[0]
    outcomes._sleep = lambda seconds: (slept.append(seconds), clock.__setitem__(
        0, clock[0] + seconds))
    line.push("shippable.yml", WORKFLOW)
    assert slept == []  # nothing reported: no wait

    line.executor.start("j0", 1)
    line.run_pass()
    assert slept == []  # the first report in a while: at once
    assert line.runs("j0") == ["run 1 running"]

    clock[0] += 0.01
    for name in ("j1", "j2"):
        line.executor.start(name, 1)
    line.executor.end("j0", 1)
    line.run_pass()
    assert slept == [pytest.approx(outcomes.pace - 0.01)]
    assert git(repo, "log", "-1", "--format=%s", "state").strip() == \
        "3 runs recorded: j1 1, j2 1, j0 1"  # one commit, in the order reported
    assert run_commits(repo, "j0") == ["j0: run 1 succeeded [succeeded]",
                                       "j0: run 1 started [running]",
                                       "j0: run 1 queued [queued]"]

    clock[0] += outcomes.pace  # a quiet moment again
    line.executor.end("j1", 1)
    line.run_pass()
    assert len(slept) == 1 and line.runs("j1") == ["run 1 succeeded"]
    git(repo, "fsck", "--strict", "--no-dangling")

"""The pass hands each run to the executor once, when it may start: a pass that finds
nothing new hands nothing again, and a serial job's next run goes as the one before
ends (reactor/submit.py skips the jobs whose history did not change)."""

from __future__ import annotations

from pathlib import Path

from tests.harness.reactorline import make_line

WORKFLOW = """\
resources:
  - name: knob
    type: params
    versionTemplate: {params: {N: "%s"}}
jobs:
  - name: serial
    type: runSh
    steps:
      - IN: knob
      - TASK: {script: ["true"]}
  - name: other
    type: runSh
    steps:
      - IN: knob
      - TASK: {script: ["true"]}
"""


def handed(line) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(f"{s.run.job} {s.run.number}" for s in line.executor.given)


def test_each_run_is_handed_over_once_and_a_serial_jobs_next_when_the_last_ends(
        tmp_path: Path):
    line = make_line(tmp_path)
    line.push("shippable.yml", WORKFLOW % "1")
    assert handed(line) == ["other 1", "serial 1"]
    line.push("shippable.yml", WORKFLOW % "2")  # a new version: run 2 of each, queued
    assert line.runs("serial") == ["run 1 queued", "run 2 queued"]
    for _ in range(3):
        line.run_pass()
    assert handed(line) == ["other 1", "serial 1"]  # run 2 waits for run 1, nothing twice

    line.executor.start("other", 1)
    line.run_pass()
    assert handed(line) == ["other 1", "serial 1"]  # another job's news changes nothing
    line.executor.start("serial", 1)
    line.executor.end("serial", 1)
    line.run_pass()
    assert handed(line) == ["other 1", "serial 1", "serial 2"]
    line.executor.end("other", 1)
    line.run_pass()
    line.run_pass()
    assert handed(line) == ["other 1", "other 2", "serial 1", "serial 2"]
    assert line.runs("serial") == ["run 1 succeeded", "run 2 queued"]

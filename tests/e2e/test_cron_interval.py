"""A `time` resource's interval is checked when the push is loaded: a bad one is an error
at its line (status, validate), the resource never ticks, and the rest of the line runs."""

from __future__ import annotations

import time

from tests.harness.commands import gitline

BAD_CRON = """\
resources:
  - name: cfg
    type: params
    versionTemplate: {params: {A: "1"}}
  - name: weekly
    type: time
    versionTemplate:
      timezone: UTC
      interval: "0 9 * * mondayX"
jobs:
  - name: report
    type: runSh
    steps:
      - IN: weekly
      - TASK: {script: ['echo report']}
  - name: paint
    type: runSh
    steps:
      - IN: cfg
      - TASK: {script: ['echo paint']}
"""


def test_an_invalid_interval_is_reported_at_its_line_and_never_ticks(home):
    home.start()
    home.write("shippable.yml", BAD_CRON)
    home.push("a typo in a weekday")
    assert home.wait_runs("paint", 1) == ["run 1 succeeded"]  # the rest of the line runs
    home.wait_idle()
    problems = home.status()["config"]["problems"]
    expected = "shippable.yml:9:7: error: resource 'weekly': interval '0 9 * * mondayX': " \
               "weekday 'mondayX' is not valid"
    assert any(p.startswith(expected) for p in problems), problems
    assert expected in gitline("status", home.path).stdout
    checked = gitline("validate", home.work / "shippable.yml", check=False)
    assert checked.returncode == 1 and expected in checked.stdout, checked.stdout
    time.sleep(1)
    assert "resources/weekly" not in home.git("log", "--name-only", "--format=", "state")
    assert home.runs("report") == []

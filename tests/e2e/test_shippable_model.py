"""Issue #17 through a running controller: what Shippable's documentation promised
happens (dependencyMode, release bump, OUT on_failure, integrations, not-applied keys)."""

from __future__ import annotations

from e2ekit import gitline

CHRONO = """\
resources:
  - name: cfg
    type: params
    versionTemplate: {{params: {{N: "{n}"}}}}
jobs:
  - name: up
    type: runSh
    steps:
      - IN: cfg
      - TASK: {{script: ['test "$N" != 2']}}
  - name: down
    type: runSh
    steps:
      - IN: up
      - IN: cfg
      - TASK: {{script: ['echo "down saw N=$N"']}}
"""


def test_chrono_a_job_does_not_run_while_its_input_job_last_failed(home):
    home.start()
    home.write("shippable.yml", CHRONO.format(n=1))
    home.push("a line")
    assert home.wait_runs("down", 1) == ["run 1 succeeded"]
    home.write("shippable.yml", CHRONO.format(n=2))
    home.push("N=2 breaks up")
    assert home.wait_runs("up", 2)[-1] == "run 2 failed (exit 1)"
    home.wait_idle()
    assert home.runs("down") == ["run 1 succeeded"]  # cfg changed, but up failed
    assert home.status()["jobs"]["down"]["waiting"] == "input job up run 2 failed"
    home.write("shippable.yml", CHRONO.format(n=3))
    home.push("N=3 fixes up")
    assert home.wait_runs("down", 2)[-1] == "run 2 succeeded"
    assert "down saw N=3" in gitline("logs", home.path, "down").stdout


def test_a_file_named_myshippable_yml_is_a_workflow_file(home):
    home.start()
    home.write("ci/myshippable.yml", CHRONO.format(n=1))
    home.push("workflow in ci/myshippable.yml")
    assert home.wait_runs("down", 1) == ["run 1 succeeded"]

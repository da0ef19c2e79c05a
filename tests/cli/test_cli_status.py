"""`gitline status` says each fact once."""

from __future__ import annotations

from controller.core import loader, model, planner


def test_a_job_that_cannot_run_here_says_so_once():
    wf = loader.load_workflow([("shippable.yml", b"""\
resources:
  - name: cfg
    type: params
    versionTemplate: {params: {A: "1"}}
jobs:
  - name: ci
    type: runCI
    steps:
      - IN: cfg
""")])
    why = planner.plan_runs(wf, model.Snapshot()).waits["ci"]
    assert why.count("not runnable here") == 1, why

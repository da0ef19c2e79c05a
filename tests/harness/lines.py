"""Small workflows several test modules push."""

from __future__ import annotations

import textwrap

# One params resource and one job that reads it: the smallest line that runs.
PAINT_LINE = """\
resources:
  - name: cfg
    type: params
    versionTemplate:
      params: {{COLOR: {color}}}
jobs:
  - name: paint
    type: runSh
    steps:
      - IN: cfg
      - TASK:
          script:
            - echo "painting $COLOR"
"""

# PAINT_LINE whose job also says who triggered it (the HTTP tests' line).
PAINT_BY_LINE = PAINT_LINE.replace('"painting $COLOR"',
                                   '"painting $COLOR by $JOB_TRIGGERED_BY_NAME"')


def params_and_job(job: str, script: str, more_jobs: str = "") -> str:
    """A workflow of a params resource `go` and a runSh job `job` taking it, whose one TASK
    runs `script` (a YAML flow list), then `more_jobs` (YAML items of jobs:)."""
    return f"""\
resources:
  - name: go
    type: params
    versionTemplate: {{params: {{N: "1"}}}}
jobs:
  - name: {job}
    type: runSh
    steps:
      - IN: go
      - TASK: {{script: {script}}}
{more_jobs}"""


# The job model tests' lines: `jobs(items)` is a params resource `cfg` and those jobs.
BASE = """\
resources:
  - name: cfg
    type: params
    versionTemplate:
      params: {N: "1"}
jobs:
"""


def jobs(text: str) -> str:
    return BASE + textwrap.indent(textwrap.dedent(text), "  ")


# A job gated for approval by ada@example.com, with an on_cancel hook (items of jobs:).
GATED_JOB = """\
- name: deploy
  type: runSh
  requiresApproval:
    approvers: [ada@example.com]
    timeoutMinutes: 60
  steps:
    - IN: cfg
    - TASK:
        script: [echo "deploying N=$N"]
  on_cancel:
    script: [echo "on_cancel ran"]
"""

"""Issue #11: names Shippable allowed in quotes ("Slack (DevTac)") run through a real
controller: the state branch keeps them as they are, jobs get plain paths and valid
variable names, and the CLI finds and prints them."""

from __future__ import annotations

from tests.harness.commands import gitline

LINE = """\
resources:
  - name: "app img (web)"
    type: params
    versionTemplate: {params: {TAG: "1.2"}}
  - name: "Slack (DevTac)"
    type: notification
    versionTemplate: {method: webhook, url_secret: not_set}
jobs:
  - name: "Deploy (prod)"
    type: runSh
    steps:
      - IN: "app img (web)"
      - TASK:
          script:
            - echo "tag=$TAG state=$JOB_STATE"
            - echo "$PWD" > $JOB_STATE/where.txt
    on_success: {NOTIFY: "Slack (DevTac)"}
"""


def test_a_job_and_resources_named_with_spaces_and_parentheses_run(home):
    home.start()
    home.write("shippable.yml", LINE)
    home.push("names as Shippable allowed them")
    assert home.wait_runs("Deploy (prod)", 1, timeout=60) == ["run 1 succeeded"]
    log = home.show("jobs/Deploy (prod)/log.txt")
    assert "tag=1.2" in log
    where = home.show("jobs/Deploy (prod)/state/where.txt").strip()
    assert " " not in where and "(" not in where  # unquoted $JOB_STATE works in scripts
    assert home.show("resources/app img (web)/version.yml")
    # the hook's NOTIFY reaches the notification by its whole name (its secret is unset)
    home.wait_idle()
    assert "Slack (DevTac): Deploy (prod) run 1 on_success: skipped (secret not_set" \
        in home.server_log()
    # a trigger file by that name, and the CLI by that name
    home.write("triggers/Deploy (prod)", "")
    home.push("again")
    assert home.wait_runs("Deploy (prod)", 2, timeout=60)[-1] == "run 2 succeeded"
    history = gitline("log", home.path, "Deploy (prod)").stdout
    assert "run 2" in history and "run 1" in history
    status = gitline("status", home.path).stdout
    assert '"Deploy (prod)"' in status and '"app img (web)"' in status
    assert not home.status()["config"]["problems"]

"""A CI section pushed to a running `gitline serve` runs as `<repo>_runCI` (issue #14): its
build steps in the sandbox, in the pushed commit's files; the JUnit and Cobertura reports
it leaves are on its run record, in `gitline status` and the web view; the job that takes
it runs after it; on_failure runs when ci fails; a matrix records one result per row."""

from __future__ import annotations

import json

from tests.harness.commands import gitline
from tests.harness.home import Home
from tests.harness.http import serve_base
from tests.harness.sinks import HttpSink
from tests.harness.web import WebClient

TEST_SCRIPT = """\
#!/bin/bash
# what a test runner does: run the tests, leave JUnit and Cobertura reports for the CI
set -e
mkdir -p shippable/testresults shippable/codecoverage
cat > shippable/testresults/junit.xml <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="unit" tests="4">
    <testcase classname="t" name="adds"/>
    <testcase classname="t" name="subtracts"/>
    <testcase classname="t" name="divides"><failure message="by zero">trace</failure></testcase>
    <testcase classname="t" name="later"><skipped/></testcase>
  </testsuite>
</testsuites>
XML
echo '<coverage line-rate="0.75" lines-covered="30" lines-valid="40"></coverage>' \\
  > shippable/codecoverage/coverage.xml
echo "tests ran for $GREETING in $(pwd) on branch $BRANCH"
exit "${CI_EXIT:-0}"
"""

SECTION = """\
language: python
python: ["3.12"]
env:
  global: [GREETING=world]{matrix}
build:
  ci:
    - ./run_tests.sh
  on_success: [echo "on_success ran"]
  on_failure: [echo "on_failure ran"]
  always: [echo "always ran"]
resources:
  - name: deploy_params
    type: params
    versionTemplate: {{params: {{REGION: eu}}}}
jobs:
  - name: deploy
    type: runSh
    steps:
      - IN: config_runCI
      - IN: deploy_params
        switch: off
      - TASK: {{script: ['echo "deploying after CI run $CONFIG_RUNCI_VERSIONNUMBER"']}}
"""


def ci_record(home: Home) -> dict:
    return home.status()["jobs"]["config_runCI"]["lastRun"]


def test_a_pushed_ci_section_runs_with_its_reports_and_its_downstream_job(home: Home) -> None:
    home.start()
    home.write("run_tests.sh", TEST_SCRIPT, mode=0o755)
    home.write("shippable.yml", SECTION.format(matrix=""))
    home.push("a repository with a CI section")

    assert home.wait_runs("config_runCI", 1, timeout=60) == ["run 1 succeeded"]
    assert home.wait_runs("deploy", 1, timeout=60) == ["run 1 succeeded"]
    home.wait_idle(timeout=30)
    last = ci_record(home)
    [row] = last["ci"]
    assert (row["row"], row["status"], row["passed"], row["failed"], row["skipped"],
            row["coverage"], row["reports"]) == ("", "succeeded", 2, 1, 1, 75.0, 2)
    # the run record on the state branch says it too
    record = home.show("jobs/config_runCI/run.yml")
    assert "ci:" in record and "passed: 2" in record and "coverage: 75.0" in record
    log = home.show("jobs/config_runCI/log.txt")
    assert "tests ran for world in " in log and "/IN/config_ciRepo/gitRepo on branch main" in log
    assert "on_success ran" in log and "always ran" in log and "on_failure ran" not in log
    assert "deploying after CI run" in home.show("jobs/deploy/log.txt")
    text = gitline("status", home.path).stdout
    assert "CI succeeded: 2 passed, 1 failed, 1 skipped, coverage 75.0%" in text
    # what needs Shippable's cloud is said, not dropped
    problems = home.status()["config"]["problems"]
    assert ("shippable.yml:2:1: info: CI section: 'python' not applied here: the build image "
            "is Shippable's; steps run with the tools installed here") in problems

    # a failing ci: on_failure runs, the run fails, the downstream job does not run again
    home.write("shippable.yml", SECTION.format(matrix="").replace(
        "GREETING=world]", "GREETING=world, CI_EXIT=3]"))
    home.push("the tests fail")
    assert home.wait_runs("config_runCI", 2, timeout=60)[-1] == "run 2 failed (exit 3)"
    home.wait_idle(timeout=30)
    log = home.show("jobs/config_runCI/log.txt")
    assert "on_failure ran" in log and "always ran" in log and "on_success ran" not in log
    assert ci_record(home)["message"] == "ci failed with exit code 3"
    assert home.runs("deploy") == ["run 1 succeeded"]

    # a matrix: one run, one result per row; an allowed failure does not fail it
    matrix = """
  matrix: [CI_EXIT=0, CI_EXIT=1]
matrix:
  allow_failures: [{env: CI_EXIT=1}]"""
    home.write("shippable.yml", SECTION.format(matrix=matrix))
    home.push("two rows")
    assert home.wait_runs("config_runCI", 3, timeout=60)[-1] == "run 3 succeeded"
    assert home.wait_runs("deploy", 2, timeout=60) == ["run 1 succeeded", "run 2 succeeded"]
    home.wait_idle(timeout=30)
    rows = ci_record(home)["ci"]
    assert [(r["row"], r["status"], r["passed"]) for r in rows] == [
        ("1: CI_EXIT=0", "succeeded", 2), ("2: CI_EXIT=1", "failed (allowed)", 2)]
    text = gitline("status", home.path).stdout
    assert "CI row 1: CI_EXIT=0 succeeded: 2 passed" in text
    assert "CI row 2: CI_EXIT=1 failed (allowed): 2 passed" in text

    # `branches:` that do not build main: the run says why and runs no step
    home.write("shippable.yml", SECTION.format(matrix="") + "branches: {except: [main]}\n")
    home.push("main is not built")
    assert home.wait_runs("config_runCI", 4, timeout=60)[-1].startswith("run 4 cancelled")
    home.wait_idle(timeout=30)
    assert "branch 'main' is not built (branches: except: main)" in ci_record(home)["message"]
    assert "tests ran" not in home.show("jobs/config_runCI/log.txt")
    assert home.runs("deploy") == ["run 1 succeeded", "run 2 succeeded"]


def test_the_web_run_page_and_the_api_show_the_ci_summary(home: Home) -> None:
    token = gitline("token", "add", home.path, "ada", "--scope", "read").stdout.strip()
    base = serve_base(home)
    home.write("run_tests.sh", TEST_SCRIPT, mode=0o755)
    home.write("shippable.yml", SECTION.format(matrix=""))
    home.push("a repository with a CI section")
    home.wait_runs("config_runCI", 1, timeout=60)
    browser = WebClient(base)
    browser.sign_in(token)
    page = browser.get("/jobs/config_runCI/runs/1")
    assert page.status == 200, page
    assert '<table class="ci" id="ci">' in page.body
    assert "<td>2</td><td>1</td><td>1</td><td>75.0%</td>" in page.body
    reply = WebClient(base).request("/api/jobs/config_runCI/runs",
                                    headers={"Authorization": f"Bearer {token}"})
    runs = json.loads(reply.body)
    run = (runs["runs"] if isinstance(runs, dict) else runs)[0]
    assert run["ci"][0]["summary"] == "2 passed, 1 failed, 1 skipped, coverage 75.0%"


def test_the_sections_notifications_are_sent_for_its_runs(home: Home) -> None:
    """`integrations.notifications` of the section: a webhook (its URL a secret named by
    `integrationName`), sent on the events it asks for."""
    section = """\
build:
  ci: ['test "$(cat result)" = pass']
integrations:
  notifications:
    - integrationName: ci_hook
      type: webhook
      on_success: never
      on_failure: always
"""
    with HttpSink() as http:
        secrets = home.path / "secrets.yml"
        secrets.write_text(f"ci_hook: {http.url('/ci')}\n")
        secrets.chmod(0o600)
        home.start()
        home.write("shippable.yml", section)
        home.write("result", "pass\n")
        home.push("passing")
        assert home.wait_runs("config_runCI", 1, timeout=60) == ["run 1 succeeded"]
        home.write("result", "fail\n")
        home.push("failing")
        assert home.wait_runs("config_runCI", 2, timeout=60)[-1].startswith("run 2 failed")
        [sent] = http.wait(1)
    assert sent.body["event"] == "on_failure" and sent.body["status"] == "failed", sent.body
    assert sent.body["text"].startswith("config_runCI run 2 failed"), sent.body

"""A CI section's run (execution/ci_run.py) through execute(): rows, steps in the checkout,
on_success / on_failure / always, allow_failures, branches; and the reports it leaves
(execution/ci_reports.py), hostile ones refused."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from controller.core import loader, model
from controller.core.runspec import InputSpec, RunSpec
from controller.execution import ci_reports
from controller.execution.run import execute

JUNIT = """<?xml version="1.0"?>
<testsuites><testsuite name="s" tests="4">
  <testcase name="a"/><testcase name="b"/>
  <testcase name="c"><failure message="boom"/></testcase>
  <testcase name="d"><skipped/></testcase>
</testsuite></testsuites>"""
COBERTURA = '<?xml version="1.0"?><coverage line-rate="0.8125" lines-covered="13" ' \
            'lines-valid="16"></coverage>'


def ci_spec(section: str, *, values: dict[str, str] | None = None,
            files: dict[str, bytes] | None = None) -> RunSpec:
    """The runCI job the loader makes of `section`, with its checkout holding `files`."""
    wf = loader.load_workflow([("shippable.yml", section)], main_name="app")
    job = wf.jobs["app_runCI"]
    assert job.ci is not None, [str(p) for p in wf.problems]
    version = model.Version("app_ciRepo", 1, "abc123", values={"commit": "abc123",
                                                               **(values or {})})
    checkout = InputSpec("app_ciRepo", "resource", "gitRepo", version,
                         files=files or {"README": b"hello\n"})
    run = model.Run(job.name, 1, "running", model.Cause("input", "app_ciRepo version 1"))
    return RunSpec(run, job, inputs=(checkout,))


def test_steps_run_in_the_checkout_in_order_and_reports_are_summarised(tmp_path: Path) -> None:
    spec = ci_spec("""\
language: none
env:
  global: [GREETING=hi, 'OUT=$SHIPPABLE_BUILD_DIR/shippable']
build:
  pre_ci: [echo "pre $GREETING"; cat README]
  ci:
    - mkdir -p shippable/testresults shippable/codecoverage
    - cp fx/r.xml shippable/testresults/
    - cp fx/c.xml "$OUT/codecoverage/"
    - echo "ci in $PWD commit $COMMIT"
  post_ci: [echo post]
  on_success: [echo success]
  on_failure: [echo failure]
  always: [echo always]
""", files={"README": b"hello\n", "fx/r.xml": JUNIT.encode(), "fx/c.xml": COBERTURA.encode()})
    outcome = execute(spec, tmp_path)
    assert outcome.status == "succeeded", outcome.log
    order = [line for line in outcome.log.splitlines() if line.startswith("--- ")]
    assert order == ["--- pre_ci ---", "--- ci ---", "--- post_ci ---", "--- on_success ---",
                     "--- always ---"]
    assert "pre hi" in outcome.log and "hello" in outcome.log
    assert "/IN/app_ciRepo/gitRepo commit abc123" in outcome.log
    [row] = outcome.ci
    assert (row.row, row.status, row.passed, row.failed, row.skipped, row.reports) == \
        ("", "succeeded", 2, 1, 1, 2)
    assert row.coverage == pytest.approx(81.25)
    assert row.summary() == "2 passed, 1 failed, 1 skipped, coverage 81.2%"


def test_a_failing_ci_runs_on_failure_and_always_not_post_ci(tmp_path: Path) -> None:
    spec = ci_spec("""\
build:
  ci: [echo ci, exit 3]
  post_ci: [echo post]
  on_success: [echo success]
  on_failure: [echo "failure hook ran"]
  always: [echo "always hook ran"]
""")
    outcome = execute(spec, tmp_path)
    assert outcome.status == "failed" and outcome.exit_code == 3
    assert "failure hook ran" in outcome.log and "always hook ran" in outcome.log
    assert "--- post_ci ---" not in outcome.log and "--- on_success ---" not in outcome.log
    assert outcome.message == "ci failed with exit code 3"
    assert [r.status for r in outcome.ci] == ["failed"]


def test_matrix_rows_each_run_in_a_fresh_checkout_and_allow_failures(tmp_path: Path) -> None:
    spec = ci_spec("""\
env:
  global: [BASE=1]
  matrix: [PY=3.11, PY=3.12, PY=2.7]
matrix:
  include: [{env: PY=3.13}]
  exclude: [{env: PY=2.7}]
  allow_failures: [{env: PY=3.12}]
build:
  ci:
    - test ! -e mark  # each row starts from the commit's files
    - touch mark
    - echo "row $JOB_NUMBER BASE=$BASE PY=$PY"
    - test "$PY" != 3.12
""")
    outcome = execute(spec, tmp_path)
    assert outcome.status == "succeeded", outcome.log  # 3.12 may fail
    assert [(r.row, r.status) for r in outcome.ci] == [
        ("1: PY=3.11", "succeeded"), ("2: PY=3.12", "failed (allowed)"),
        ("3: PY=3.13", "succeeded")]
    assert "row 1 BASE=1 PY=3.11" in outcome.log and "row 3 BASE=1 PY=3.13" in outcome.log
    assert "PY=2.7" not in outcome.log.replace("--- ", "")


def test_a_row_that_fails_unallowed_fails_the_run_and_the_next_rows_still_run(
        tmp_path: Path) -> None:
    spec = ci_spec("""\
env: [X=1, X=2]
build:
  ci: [echo "x=$X", test "$X" = 2]
  on_failure: [echo "failed row $X"]
""")
    outcome = execute(spec, tmp_path)
    assert outcome.status == "failed"
    assert [r.status for r in outcome.ci] == ["failed", "succeeded"]
    assert "failed row 1" in outcome.log and "x=2" in outcome.log
    assert outcome.message == "ci (row 1: X=1) failed with exit code 1"


def test_a_branch_not_built_does_not_run(tmp_path: Path) -> None:
    section = "branches: {only: [main, 'release/*']}\nbuild: {ci: [echo built]}\n"
    outcome = execute(ci_spec(section, values={"branch": "dev"}), tmp_path / "a")
    assert outcome.status == "cancelled" and "built" not in outcome.log.replace("not built", "")
    assert "branch 'dev' is not built (branches: only: main, release/*)" in outcome.message
    assert [r.status for r in outcome.ci] == ["skipped"]
    outcome = execute(ci_spec(section, values={"branch": "release/2"}), tmp_path / "b")
    assert outcome.status == "succeeded" and "built" in outcome.log


# --- reports --------------------------------------------------------------------------


def reports(tmp_path: Path, files: dict[str, bytes]) -> ci_reports.Summary:
    for rel, data in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return ci_reports.summarise(tmp_path)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">]>
<testsuite><testcase name="&lol9;"/></testsuite>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<coverage line-rate="0.5">&x;</coverage>"""


def test_hostile_reports_are_refused_and_the_rest_counted(tmp_path: Path) -> None:
    started = time.monotonic()
    found = reports(tmp_path, {
        "shippable/testresults/bomb.xml": BILLION_LAUGHS,
        "shippable/testresults/ok.xml": JUNIT.encode(),
        "shippable/testresults/huge.xml": b"<testsuite>" + b" " * (ci_reports.MAX_FILE_BYTES)
        + b"</testsuite>",
        "shippable/testresults/broken.xml": b"<testsuite><testcase",
        "shippable/testresults/html.xml": b"<html/>",
        "shippable/codecoverage/xxe.xml": XXE,
        "shippable/codecoverage/c.xml": COBERTURA.encode(),
    })
    assert time.monotonic() - started < 5
    assert (found.passed, found.failed, found.skipped, found.reports) == (2, 1, 1, 2)
    assert found.coverage == pytest.approx(81.25)
    notes = dict(n.split(": ", 1) for n in found.notes)
    assert notes["shippable/testresults/bomb.xml"].startswith("refused (")
    assert notes["shippable/codecoverage/xxe.xml"].startswith("refused (")
    assert notes["shippable/testresults/huge.xml"].startswith("not read (")
    assert notes["shippable/testresults/broken.xml"].startswith("not XML")
    assert notes["shippable/testresults/html.xml"] == "not a JUnit report (its root is <html>)"


def test_links_out_of_the_checkout_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.xml").write_text(JUNIT)
    checkout = tmp_path / "checkout"
    (checkout / "shippable" / "testresults").mkdir(parents=True)
    os.symlink(outside / "secret.xml", checkout / "shippable" / "testresults" / "link.xml")
    os.symlink(outside, checkout / "shippable" / "codecoverage")
    found = ci_reports.summarise(checkout)
    assert (found.passed, found.reports) == (0, 0)
    assert found.notes and found.notes[0].startswith("shippable/testresults/link.xml: not read")


def test_a_checkout_replaced_by_a_link_out_of_the_run_is_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "shippable" / "testresults").mkdir(parents=True)
    (outside / "shippable" / "testresults" / "r.xml").write_text(JUNIT)
    run = tmp_path / "run"
    (run / "IN").mkdir(parents=True)
    os.symlink(outside, run / "IN" / "gitRepo")
    found = ci_reports.summarise(run / "IN" / "gitRepo", run)
    assert found.reports == 0
    assert found.notes == ["gitRepo: not read (a link out of the run's folder)"]
    assert ci_reports.summarise(outside, tmp_path).reports == 1


def test_too_many_reports_are_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ci_reports, "MAX_FILES", 2)
    found = reports(tmp_path, {f"shippable/testresults/{n}.xml": JUNIT.encode()
                               for n in range(3)})
    assert found.reports == 2 and found.passed == 4
    assert found.notes == ["shippable/testresults/2.xml: not read (more than 2 reports)"]


def test_a_ci_run_goes_to_a_celery_worker_and_back_whole(tmp_path: Path) -> None:
    """The plan in the RunSpec and the rows in the Outcome survive the wire (codec.py)."""
    from controller.execution import codec

    spec = ci_spec("env: [X=1, X=2]\nbuild: {ci: [echo $X]}\nbranches: {only: [main]}\n")
    assert codec.spec_from_json(codec.spec_to_json(spec)) == spec
    outcome = execute(spec, tmp_path)
    assert len(outcome.ci) == 2
    assert codec.outcome_from_json(codec.outcome_to_json(outcome)) == outcome


def test_a_row_without_reports_says_so_not_zero_passed() -> None:
    assert model.CiResult("", "succeeded").summary() == \
        "no report in shippable/testresults or shippable/codecoverage"
    assert model.CiResult("", "succeeded", passed=0, reports=1).summary() == \
        "0 passed, 0 failed, 0 skipped"

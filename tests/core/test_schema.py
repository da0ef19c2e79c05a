"""`gitline schema`: the JSON Schema editors use, made from the same table as the loader's
warnings. A typo is rejected by the schema AND warned by `gitline validate`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from controller.core import schema, vocabulary, yamlread

ROOT = str(Path(__file__).resolve().parents[2])

GOOD = """\
resources:
  - name: app_img
    type: image
    versionTemplate: {sourceName: acme/app, versionName: "1.0"}
  - name: nightly
    type: time
    versionTemplate: {interval: "0 3 * * *", catchup: skip}
  - name: app_ver
    type: version
    seed: {versionName: 1.0.0}
  - name: ops
    type: notification
    versionTemplate: {method: webhook, url_secret: ops_url}
  - name: ops2
    type: notification
    integration: ops_slack
    versionTemplate: {method: slack, recipients: ["#ops"]}
jobs:
  - name: deploy_prod
    type: runSh
    triggerMode: parallel
    dependencyMode: strict
    requiresApproval: {approvers: [ada@example.com], timeoutMinutes: 60}
    retries: 3
    runtime: {timeoutMinutes: 5, nodePool: builders}
    steps:
      - IN: app_img
        switch: off
      - IN: nightly
      - TASK:
          name: deploy
          runtime: {options: {env: [{REGION: eu}]}}
          script: [./deploy.sh]
    on_failure:
      NOTIFY: [{name: ops, sendFailingSnippet: true}, ops2]
    always: {script: echo done}
  - name: release_it
    type: release
    steps:
      - IN: app_ver
      - TASK: managed
        bump: minor
"""

# The typos: each as it would be written in GOOD.
TYPOS = {
    "requiresAproval": ("    retries: 3\n", "    retries: 3\n    requiresAproval: true\n"),
    "swich": ("        switch: off\n", "        swich: off\n"),
    "retrys": ("    retries: 3\n", "    retrys: 3\n"),
    "timeoutMinute": ("runtime: {timeoutMinutes: 5, nodePool: builders}",
                      "runtime: {timeoutMinute: 5}"),
}


def errors_of(text: str) -> list[str]:
    """Every message, also those nested in anyOf/if-then (a step is one of four shapes)."""
    data = yamlread.parse("shippable.yml", text).data
    validator = jsonschema.Draft202012Validator(schema.build_schema())
    pending, found = list(validator.iter_errors(data)), []
    while pending:
        error = pending.pop()
        found.append(error.message)
        pending += error.context or []
    return found


def validate(folder: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, "-m", "controller.cli", "validate", *flags,
                           str(folder)], capture_output=True, text=True, env=env, timeout=60)


def test_the_schema_is_draft_2020_12_and_a_good_workflow_passes() -> None:
    built = schema.build_schema()
    assert built["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(built)
    assert errors_of(GOOD) == []


def test_printed_by_gitline_schema() -> None:
    done = subprocess.run([sys.executable, "-m", "controller.cli", "schema"], text=True,
                          capture_output=True, env={**os.environ, "PYTHONPATH": ROOT}, timeout=60)
    assert done.returncode == 0 and json.loads(done.stdout) == schema.build_schema()


@pytest.mark.parametrize("typo", TYPOS)
def test_a_typo_is_rejected_by_the_schema_and_warned_by_validate(typo: str,
                                                                 tmp_path: Path) -> None:
    old, new = TYPOS[typo]
    assert old in GOOD
    text = GOOD.replace(old, new)
    assert any(f"'{typo}' was unexpected" in e for e in errors_of(text))
    (tmp_path / "shippable.yml").write_text(text)
    done = validate(tmp_path)
    assert done.returncode == 0, done.stdout  # a warning: the workflow still loads and runs
    assert f"warning: unknown key '{typo}' of " in done.stdout
    assert "did you mean" in done.stdout
    strict = validate(tmp_path, "--strict")
    assert strict.returncode == 1
    assert f"error: unknown key '{typo}' of " in strict.stdout
    assert "1 errors, 0 warnings" in strict.stderr


def test_infos_never_fail_validate_even_strict(tmp_path: Path) -> None:
    (tmp_path / "shippable.yml").write_text(GOOD.replace("    retries: 3\n",
                                                         "    retries: 3\n    flags: [prod]\n"))
    done = validate(tmp_path, "--strict", "--format", "json")
    report = json.loads(done.stdout)
    assert done.returncode == 0
    assert (report["errors"], report["warnings"], report["infos"]) == (0, 0, 1)
    assert report["problems"][0]["severity"] == "info"
    assert "'flags' of job 'deploy_prod' is not applied here" in report["problems"][0]["message"]
    github = validate(tmp_path, "--format", "github").stdout
    assert github.startswith("::notice file=")


def _schema_property_names(node: object) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        found |= set(node.get("properties", {}))
        for value in node.values():
            found |= _schema_property_names(value)
    elif isinstance(node, list):
        for value in node:
            found |= _schema_property_names(value)
    return found


def test_every_key_of_the_table_is_in_the_schema_and_closed_shapes_are_closed() -> None:
    built = schema.build_schema()
    names = _schema_property_names(built)
    for shape in vocabulary.SHAPES.values():
        assert set(shape.names) <= names, shape.name
        made = built["$defs"][shape.name.replace(" ", "_")]
        assert made.get("additionalProperties", True) is (not shape.closed)


def test_enums() -> None:
    defs = schema.build_schema()["$defs"]
    job = defs["runSh_job"]["properties"]
    assert job["triggerMode"]["enum"] == ["serial", "parallel"]
    assert job["dependencyMode"]["enum"] == ["chrono", "strict", "immediate"]
    assert "runSh" in job["type"]["enum"] and "jenkinsJob" in job["type"]["enum"]
    assert defs["IN_step"]["properties"]["switch"]["enum"][:4] == [True, False, "on", "off"]
    assert defs["TASK_step"]["properties"]["bump"]["enum"] == list(vocabulary.BUMPS)
    assert "gitRepo" in defs["resource"]["properties"]["type"]["enum"]
    assert errors_of(GOOD.replace("dependencyMode: strict", "dependencyMode: strikt"))
    assert errors_of(GOOD.replace("bump: minor", "bump: huge"))

"""A CI section (`language:`, `build:`) -> `<repo>_runCI` and `<repo>_ciRepo` (core/ci_reader.py):
names by source, the plan (steps, rows, branches), notifications, and what is said at
which line."""

# ruff: noqa: E501  (exact problem messages read best on one line)

from __future__ import annotations

from controller.core import loader, model


def load(*files: tuple[str, str], main: str = "app") -> model.Workflow:
    return loader.load_workflow(list(files), main_name=main)


def said(wf: model.Workflow) -> list[str]:
    return [str(p) for p in wf.problems]


SECTION = """\
language: python
python: ["3.12"]
services: [postgres]
branches: {only: [main], except: ["wip/*"]}
env:
  global:
    - A=1 B="two words"
    - secure: abc=
    - not an assignment
  matrix: [PY=3.11, PY=3.12, PY=2.7]
matrix:
  include: [{env: PY=3.13, python: 3.13}, {python: 3.9}]
  exclude: [{env: PY=2.7}]
  allow_failures: [{env: PY=3.12}]
  fast_finish: true
build:
  pre_ci_boot: {image_name: x}
  pre_ci: [echo pre]
  ci: [make test]
  post_ci: [echo post]
  on_success: [echo ok]
  on_failure: [echo bad]
  always: [echo always]
  cache: true
integrations:
  hub: [{integrationName: dh, type: docker}]
  notifications:
    - integrationName: team_mail
      type: email
      recipients: [dev@example.com]
      on_start: always
    - integrationName: irc
      type: irc
"""


def test_a_section_makes_the_job_and_resource_shippable_made() -> None:
    wf = load(("shippable.yml", SECTION))
    job, repo = wf.jobs["app_runCI"], wf.resources["app_ciRepo"]
    assert (repo.type, repo.definition, repo.tracks_path) == ("gitRepo", {"sourceName": "self"}, "")
    assert repo.location == job.location == model.Location("shippable.yml", 16, 1)
    assert [i.name for i in job.inputs] == ["app_ciRepo"] and not job.not_runnable
    plan = job.ci
    assert plan is not None and plan.checkout == "app_ciRepo"
    assert [s for s, _ in plan.steps] == ["pre_ci", "ci", "post_ci", "on_success", "on_failure", "always"]
    assert plan.script("ci") == ("make test",)
    assert (plan.branches_only, plan.branches_except) == (("main",), ("wip/*",))
    assert plan.rows == (
        model.CiRow("1: PY=3.11", ('A=1 B="two words"', "PY=3.11")),
        model.CiRow("2: PY=3.12", ('A=1 B="two words"', "PY=3.12"), allow_failure=True),
        model.CiRow("3: PY=3.13", ('A=1 B="two words"', "PY=3.13")),
    )
    # notifications: a resource each that Gitline can send, NOTIFYed on the events asked
    mail = wf.resources["app_ciNotify1"]
    assert (mail.type, mail.definition, mail.integration) == (
        "notification", {"method": "email", "recipients": ["dev@example.com"]}, "team_mail")
    assert {e: [n.name for n in h.notify] for e, h in job.hooks.items()} == {
        "on_start": ["app_ciNotify1"], "on_success": ["app_ciNotify1"],
        "on_failure": ["app_ciNotify1"]}
    assert "app_ciNotify2" not in wf.resources
    assert not wf.errors and not wf.inconsistent


def test_what_needs_shippables_cloud_is_said_at_its_line() -> None:
    assert said(load(("shippable.yml", SECTION))) == [
        "shippable.yml:17:3: info: CI section: 'pre_ci_boot' not applied here: it picks Shippable's build container; steps run in Gitline's sandbox",
        "shippable.yml:24:3: info: CI section: 'cache' not applied here: Shippable's build cache; every run starts from the commit's files",
        "shippable.yml:1:1: info: CI section: 'language' not applied here: the build image is Shippable's; steps run with the tools installed here",
        "shippable.yml:2:1: info: CI section: 'python' not applied here: the build image is Shippable's; steps run with the tools installed here",
        "shippable.yml:3:1: info: CI section: 'services' not applied here: services were started by Shippable's build machine; start them in pre_ci",
        "shippable.yml:8:7: info: CI section: 'secure' not applied here: encrypted with Shippable's key; put the value in a secret",
        "shippable.yml:9:7: warning: CI section: env entry 'not an assignment' is not NAME=value; ignored",
        "shippable.yml:12:28: info: CI section: 'matrix.include.python' not applied here: the build image is Shippable's; steps run with the tools installed here",
        "shippable.yml:12:43: warning: CI section: a 'matrix.include' entry without 'env:' is not applied here: rows are made of env entries only",
        "shippable.yml:15:3: info: CI section: 'fast_finish' not applied here: every row runs to its end",
        "shippable.yml:26:3: info: CI section: 'integrations.hub' not applied here: Shippable's hub integrations log in on its build machine; use secrets",
        "shippable.yml:33:7: info: CI section: notification type 'irc' not applied here: Gitline sends webhook, Slack and email notifications",
    ]


def test_each_source_gets_its_own_and_a_file_may_complete_its_runci_job() -> None:
    explicit = """\
jobs:
  - name: shipit_runCI
    type: runCI
    steps:
      - IN: nightly
      - OUT: shipit_img
resources:
  - {name: nightly, type: time, seed: {interval: "0 2 * * *"}}
  - {name: shipit_img, type: image, pointer: {sourceName: shipit}}
  - name: deploy_after
    type: params
    versionTemplate: {params: {A: 1}}
"""
    wf = load(("shipit:shippable.yml", "language: go\nbuild: {ci: [make]}\n"),
              ("shippable.yml", explicit), ("lib:ci/shippable.yml", "build: {ci: [make lib]}\n"),
              ("lib:shippable.yml", "build: {ci: [make again]}\n"))
    job = wf.jobs["shipit_runCI"]
    assert [i.name for i in job.inputs] == ["shipit_ciRepo", "nightly"]
    assert [o.name for o in job.outputs] == ["shipit_img"]
    assert job.location == model.Location("shippable.yml", 2, 5) and job.ci is not None
    assert not job.not_runnable and job.ci.script("ci") == ("make",)
    assert wf.resources["shipit_ciRepo"].definition == {"sourceName": "shipit"}
    assert wf.resources["shipit_ciRepo"].location.path == "shipit:shippable.yml"
    assert wf.jobs["lib_runCI"].ci.script("ci") == ("make lib",)  # type: ignore[union-attr]
    assert "lib:shippable.yml:1:1: warning: a second CI section in this source: only the one of lib:ci/shippable.yml runs (Shippable read one per repository)" in said(wf)
    assert "app_runCI" not in wf.jobs and not wf.errors


def test_a_name_taken_by_another_kind_is_an_error_not_a_merge() -> None:
    text = "build: {ci: [make]}\njobs:\n  - name: app_runCI\n    type: runSh\n    steps: [{TASK: {script: [echo]}}]\n"
    wf = load(("shippable.yml", text))
    assert "shippable.yml:1:1: error: job 'app_runCI' is a runSh job: the CI section's job has this name; the section is not run" in said(wf)
    assert wf.jobs["app_runCI"].ci is None


def test_plain_env_list_is_the_matrix_and_a_section_without_ci_steps_says_so() -> None:
    wf = load(("shippable.yml", "language: node_js\nenv: [X=1, X=2]\n"))
    plan = wf.jobs["app_runCI"].ci
    assert plan is not None and [r.label for r in plan.rows] == ["1: X=1", "2: X=2"]
    assert "shippable.yml:1:1: info: CI section: no 'build.ci' steps: the language's default build commands Shippable ran are not applied here; only the steps written run" in said(wf)
    legacy = load(("shippable.yml", "language: ruby\nbefore_install: [gem i]\nscript: [rake]\nafter_failure: [echo x]\n")).jobs["app_runCI"].ci
    assert legacy is not None
    assert legacy.steps == (("pre_ci", ("gem i",)), ("ci", ("rake",)), ("on_failure", ("echo x",)))


def test_every_ci_key_is_run_or_said_not_applied() -> None:
    from controller.core import ci_reader, vocabulary

    read = {"env", "matrix", "branches", "build", "integrations"}
    assert set(vocabulary.CI_KEYS) - set(ci_reader.NOT_APPLIED) - set(ci_reader.LEGACY_STEPS) \
        - read == set()

"""Every key known: an unknown key is a warning at its line naming the object and the nearest
known key; a key Shippable documented that Gitline does not act on is said once, as info."""
# ruff: noqa: E501  (exact problem messages read best on one line)

from __future__ import annotations

import textwrap

import pytest

from controller.core import jobs_reader, loader, model, resources_reader, versions, vocabulary

WORKFLOW = """\
resources:
  - name: app_repo
    type: gitRepo
    versionTemplate: {sourceName: org/app, branch: main}
  - name: ops_hook
    type: notification
    versionTemplate: {method: webhook, url_secret: hook_url}
jobs:
  - name: deploy_prod
    type: runSh
    {job_key}
    runtime:
      {runtime_key}
    steps:
      - IN: app_repo
        {in_key}
      - TASK:
          name: deploy
          script: [./deploy.sh]
    on_failure:
      NOTIFY: ops_hook
"""


def load(job_key: str = "retries: 1", in_key: str = "switch: on",
         runtime_key: str = "timeoutMinutes: 30") -> model.Workflow:
    text = WORKFLOW.replace("{job_key}", job_key).replace("{in_key}", in_key)
    text = text.replace("{runtime_key}", runtime_key)
    return loader.load_text("shippable.yml", text)


def messages(wf: model.Workflow, severity: str | None = None) -> list[str]:
    return [str(p) for p in wf.problems if severity in (None, p.severity)]


def test_a_workflow_of_known_keys_is_silent() -> None:
    assert messages(load()) == []


TYPOS = {  # the four, and one with no near key
    "requiresAproval": ({"job_key": "requiresAproval: true"},
                        "shippable.yml:11:5: warning: unknown key 'requiresAproval' of job 'deploy_prod'; did you mean 'requiresApproval'?"),
    "retrys": ({"job_key": "retrys: 3"},
               "shippable.yml:11:5: warning: unknown key 'retrys' of job 'deploy_prod'; did you mean 'retries'?"),
    "swich": ({"in_key": "swich: off"},
              "shippable.yml:16:9: warning: unknown key 'swich' of IN 'app_repo' of job 'deploy_prod'; did you mean 'switch'?"),
    "timeoutMinute": ({"runtime_key": "timeoutMinute: 5"},
                      "shippable.yml:13:7: warning: unknown key 'timeoutMinute' of runtime of job 'deploy_prod'; did you mean 'timeoutMinutes'?"),
    "colour": ({"job_key": "colour: blue"},
               "shippable.yml:11:5: warning: unknown key 'colour' of job 'deploy_prod'; it is ignored"),
}


@pytest.mark.parametrize("typo", TYPOS)
def test_typos_are_warnings_that_touch_nothing(typo: str) -> None:
    change, expected = TYPOS[typo]
    wf = load(**change)
    assert expected in messages(wf, "warning")
    # a warning never makes anything inconsistent: the job still loads and runs
    assert wf.inconsistent == {} and not wf.fatal and wf.errors == ()
    assert list(wf.jobs) == ["deploy_prod"] and wf.jobs["deploy_prod"].tasks


def test_the_typo_is_ignored_not_guessed() -> None:
    """`swich: off` is not read as `switch: off`: the input still starts the job."""
    assert load(in_key="swich: off").jobs["deploy_prod"].inputs[0].switch is True
    assert load(job_key="requiresAproval: true").jobs["deploy_prod"].approval is None


def test_unknown_keys_deep_inside_hooks_tasks_and_definitions() -> None:
    text = """\
    resources:
      - name: app_repo
        type: gitRepo
        versionTemplate: {sourceName: org/app, brnach: main}
      - name: nightly
        type: time
        seed: {interval: "0 3 * * *", timezon: UTC}
      - name: tools
        type: dockerOptions
        versionTemplate: {memory: 512, anything: goes}
    jobs:
      - name: j
        type: runSh
        steps:
          - IN: app_repo
          - OUT: app_repo
            replicat: x
          - TASK:
              name: t
              scrpit: [echo]
              runtime: {options: {evn: [A=1]}}
        on_success:
          - scripts: [echo]
          - NOTIFY: [{name: n, sendFailingSnipet: true}]
    """
    assert messages(loader.load_text("shippable.yml", textwrap.dedent(text)), "warning") == [
        "shippable.yml:4:44: warning: unknown key 'brnach' of versionTemplate of resource 'app_repo'; did you mean 'branch'?",
        "shippable.yml:7:35: warning: unknown key 'timezon' of seed of resource 'nightly'; did you mean 'timezone'?",
        "shippable.yml:17:9: warning: unknown key 'replicat' of OUT 'app_repo' of job 'j'; did you mean 'replicate'?",
        "shippable.yml:20:11: warning: unknown key 'scrpit' of TASK 't' of job 'j'; did you mean 'script'?",
        "shippable.yml:21:31: warning: unknown key 'evn' of options of runtime of TASK 't' of job 'j'; did you mean 'env'?",
        "shippable.yml:23:9: warning: unknown key 'scripts' of on_success of job 'j'; did you mean 'script'?",
        "shippable.yml:24:28: warning: unknown key 'sendFailingSnipet' of NOTIFY of on_success of job 'j'; did you mean 'sendFailingSnippet'?",
        "shippable.yml:23:9: warning: a hook entry needs 'script:' or 'NOTIFY:'",
    ]  # dockerOptions settings are not read by Gitline: any key goes


def test_keys_not_applied_are_said_once_per_workflow_as_info() -> None:
    jobs = "".join(f"""
  - name: j{i}
    type: runSh
    flags: [team]
    allowPublicAccess: true
    steps:
      - IN: repo
        showBuildStatus: true
      - TASK: [echo]""" for i in range(3))
    files = [
        ("shippable.resources.yml", "resources:\n  - name: repo\n    type: gitRepo\n    flags: [team]\n"
                                    "    versionTemplate: {sourceName: org/app, buildOnPullRequest: true}\n"),
        ("shippable.jobs.yml", "jobs:" + jobs + "\n"),
    ]
    wf = loader.load_workflow(files)
    assert messages(wf) == [
        "shippable.jobs.yml:4:5: info: 'flags' of job 'j0' is not applied here: Gitline has no dashboard to filter (said once)",
        "shippable.jobs.yml:5:5: info: 'allowPublicAccess' of job 'j0' is not applied here: read access is the config repository's and the API's (tokens) (said once)",
        "shippable.resources.yml:4:5: info: 'flags' of resource 'repo' is not applied here: Gitline has no dashboard to filter (said once)",
        "shippable.resources.yml:5:44: info: 'buildOnPullRequest' of versionTemplate of resource 'repo' is not applied here: Gitline follows branches and tags, not pull requests or releases (said once)",
    ]
    assert wf.jobs["j2"].flags == ("team",)  # still read and kept
    # showBuildStatus is applied now (issue #14: statuses back on commits): no info line
    assert wf.jobs["j0"].inputs[0].show_build_status


def test_a_typo_in_a_template_is_reported_at_its_line_for_each_job_using_it() -> None:
    text = """\
    templates: &t
      type: runSh
      flgas: [x]
      steps: [{TASK: [echo]}]
    jobs:
      - {name: a, <<: *t}
      - {name: b, <<: *t}
    """
    found = messages(loader.load_text("shippable.yml", textwrap.dedent(text)), "warning")
    assert found == [
        "shippable.yml:3:3: warning: unknown key 'flgas' of job 'a'; did you mean 'flags'?",
        "shippable.yml:3:3: warning: unknown key 'flgas' of job 'b'; did you mean 'flags'?",
    ]


def test_a_templates_file_holds_fragments_and_is_not_checked() -> None:
    files = [("shippable.templates.yml", "t: &t {type: runSh, steps: [{TASK: [echo]}], oops: 1}\n"),
             ("shippable.yml", "jobs:\n  - name: j\n    type: runSh\n    steps: [{TASK: [echo]}]\n")]
    assert messages(loader.load_workflow(files)) == []


def test_every_enum_the_loader_accepts_is_the_tables() -> None:
    assert versions.BUMP_KINDS == vocabulary.BUMPS
    assert set(model.RUNNABLE_JOB_TYPES | model.CLOUD_JOB_TYPES | jobs_reader.OLD_JOB_TYPES) == set(
        vocabulary.JOB_TYPES)
    known = resources_reader.KNOWN_RESOURCE_TYPES | resources_reader.OLD_RESOURCE_TYPES
    assert known == set(vocabulary.RESOURCE_TYPES + vocabulary.OLD_RESOURCE_TYPES)
    assert model.HOOK_NAMES == vocabulary.HOOKS

"""Loader behaviour on small inline workflows: what loads, and the exact file:line of defects."""
# ruff: noqa: E501  (exact problem messages read best on one line)

from __future__ import annotations

import textwrap

import pytest

from controller.core import loader, model


def load(*files: tuple[str, str | bytes], **kw: object) -> model.Workflow:
    return loader.load_workflow(
        [(p, textwrap.dedent(t) if isinstance(t, str) else t) for p, t in files], **kw
    )


def messages(wf: model.Workflow, severity: str | None = None) -> list[str]:
    return [str(p) for p in wf.problems if severity is None or p.severity == severity]


BASIC = """\
resources:
  - name: app_repo
    type: gitRepo
    integration: gh
    versionTemplate:
      sourceName: org/app
      branch: master
  - name: prod_params
    type: params
    version:
      params: {REGION: eu}
jobs:
  - name: build
    type: runSh
    steps:
      - IN: app_repo
      - IN: prod_params
        switch: off
      - TASK:
          name: compile
          script: make
      - OUT: app_img
  - name: deploy
    type: runSh
    steps:
      - IN: build
      - TASK:
          - script: ./deploy.sh
"""


# --- which files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("shippable.yml", True),
        ("a/b/shippable.yml", True),
        ("example.shippable.yml", True),
        ("myshippable.yml", True),
        ("ci/prod-shippable.yml", True),
        ("shippable.resources.yml", True),
        ("x/shippable.jobs.yml", True),
        ("shippable.triggers.yml", True),
        ("shippable.templates.yml", True),
        ("gitline.yml", True),
        ("gitline.yaml", True),
        ("ci/prod.gitline.yaml", True),
        ("shippable.yml.example", False),
        ("shippable.yaml", False),
        ("notgitline.yml", False),
        ("README.md", False),
    ],
)
def test_is_workflow_file(path: str, expected: bool) -> None:
    assert loader.is_workflow_file(path) is expected


# --- objects -------------------------------------------------------------------------


def test_basic_workflow_loads_with_unresolved_output() -> None:
    wf = load(("shippable.yml", BASIC))
    assert set(wf.resources) == {"app_repo", "prod_params"}
    assert set(wf.jobs) == {"build", "deploy"}
    build = wf.jobs["build"]
    assert [(i.name, i.switch) for i in build.inputs] == [
        ("app_repo", True),
        ("prod_params", False),
    ]
    assert build.tasks == (model.Task("compile", ("make",)),)
    assert build.inputs[0].location == model.Location("shippable.yml", 16, 9)
    assert wf.jobs["deploy"].tasks[0].script == ("./deploy.sh",)
    # app_img is not defined: build is inconsistent, and deploy (takes build) too
    assert messages(wf, "error") == [
        "shippable.yml:22:9: error: unresolved output 'app_img' of job 'build': "
        "no resource or job has this name"
    ]
    assert wf.inconsistent["build"] == "output 'app_img' is not defined (shippable.yml:22)"
    assert wf.inconsistent["deploy"] == "input job 'build' is inconsistent"
    assert not wf.fatal


def test_resource_definition_digest_and_old_syntax() -> None:
    wf = load(("shippable.yml", BASIC))
    params = wf.resources["prod_params"]
    assert params.definition == {"params": {"REGION": "eu"}}
    repo = wf.resources["app_repo"]
    assert repo.integration == "gh" and repo.tracks_path is None
    assert len(repo.digest) == 64
    again = load(("shippable.yml", BASIC.replace("branch: master", "branch: main")))
    assert again.resources["app_repo"].digest != repo.digest
    assert again.resources["prod_params"].digest == params.digest


def test_pointer_seed_merge_into_definition() -> None:
    wf = load(
        (
            "shippable.resources.yml",
            """\
            resources:
              - name: img
                type: image
                pointer: {sourceName: drydock/u16}
                seed: {versionName: master}
            """,
        )
    )
    assert wf.resources["img"].definition == {"sourceName": "drydock/u16", "versionName": "master"}
    assert wf.problems == ()


@pytest.mark.parametrize(
    ("source", "path", "tracks"),
    [
        (".", None, ""),
        ("self", "deploy/", "deploy"),
        (".", "/a/./b/", "a/b"),
        ("org/other", "x", None),
    ],
)
def test_tracks_path(source: str, path: str | None, tracks: str | None) -> None:
    extra = f"\n      path: {path}" if path else ""
    wf = load(
        (
            "shippable.yml",
            f"""\
resources:
  - name: cfg
    type: gitRepo
    versionTemplate:
      sourceName: "{source}"{extra}
""",
        )
    )
    assert wf.resources["cfg"].tracks_path == tracks


def test_tracks_path_rejects_dotdot() -> None:
    text = "resources:\n  - name: cfg\n    type: gitRepo\n    versionTemplate: {sourceName: ., path: ../x}\n"
    wf = load(("shippable.yml", text))
    # a placeholder that tracks nothing, inconsistent: never versioned, never checked out
    assert wf.resources["cfg"].tracks_path is None and wf.resources["cfg"].definition == {}
    assert wf.inconsistent == {
        "cfg": "resource 'cfg': path '../x' may not contain '..' (shippable.yml:2:5)"}
    assert messages(wf) == [
        "shippable.yml:2:5: error: resource 'cfg': path '../x' may not contain '..'"
    ]


def test_self_names_are_configurable() -> None:
    text = (
        "resources:\n  - name: cfg\n    type: gitRepo\n    versionTemplate: {sourceName: me/cfg}\n"
    )
    wf = load(("shippable.yml", text), self_names=frozenset({"me/cfg"}))
    assert wf.resources["cfg"].tracks_path == ""


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("off", False),
        ("false", False),
        ('"off"', False),
        ("no", False),
        ("on", True),
        ("true", True),
    ],
)
def test_switch_spellings(written: str, expected: bool) -> None:
    text = f"""\
resources:
  - {{name: r, type: params}}
jobs:
  - name: j
    type: runSh
    steps:
      - IN: r
        switch: {written}
"""
    wf = load(("shippable.yml", text))
    assert wf.jobs["j"].inputs[0].switch is expected


def test_input_pins_and_output_options() -> None:
    text = """\
resources:
  - {name: img, type: image}
  - {name: img2, type: image}
jobs:
  - name: j
    type: runSh
    steps:
      - IN: img
        versionName: "42"
        showBuildStatus: true
      - IN: img2
        versionNumber: 3
        applyTo: [img]
      - OUT: img2
        replicate: img
        overwrite: true
"""
    job = load(("shippable.yml", text)).jobs["j"]
    assert job.inputs[0].version_name == "42" and job.inputs[0].pinned
    assert job.inputs[0].show_build_status
    assert job.inputs[1].version_number == 3 and job.inputs[1].apply_to == ("img",)
    assert job.outputs[0] == model.Output("img2", job.outputs[0].location, "img", True)


def test_task_forms_env_and_runtime() -> None:
    text = """\
jobs:
  - name: j
    type: runSh
    priority: 10
    triggerMode: parallel
    dependencyMode: strict
    retries: 2
    flags: [a, b]
    runtime: {timeoutMinutes: 30, nodePool: big}
    steps:
      - TASK:
          name: one
          runtime:
            options:
              env:
                - REGION: eu
                - DEBUG: true
          script:
            - echo 1
            - [echo 2, [echo 3]]
      - TASK:
          runtime: {options: {env: ["A=1", "B=x=y"]}}
          script: echo 4
      - TASK:
          runtime: {options: {env: {C: 3}}}
          script: 5
"""
    wf = load(("shippable.yml", text))
    job = wf.jobs["j"]
    assert job.tasks == (
        model.Task("one", ("echo 1", "echo 2", "echo 3"), (("REGION", "eu"), ("DEBUG", "true"))),
        model.Task("task_2", ("echo 4",), (("A", "1"), ("B", "x=y"))),
        model.Task("task_3", ("5",), (("C", "3"),)),
    )
    assert (job.priority, job.trigger_mode, job.dependency_mode) == (10, "parallel", "strict")
    assert (job.retries, job.flags, job.timeout_minutes, job.node_pool) == (
        2,
        ("a", "b"),
        30.0,
        "big",
    )
    assert messages(wf) == [  # read, kept on the job, and said once not to be acted on
        "shippable.yml:8:5: info: 'flags' of job 'j' is not applied here: Gitline has no dashboard to filter (said once)"
    ]


def test_hooks_map_and_list_forms() -> None:
    text = """\
resources:
  - {name: slack, type: notification}
  - {name: mail, type: notification}
jobs:
  - name: j
    type: runSh
    on_start:
      - script: echo start
      - NOTIFY: slack
    on_success: {script: [echo ok], NOTIFY: [slack, mail]}
    on_failure:
      NOTIFY:
        - {name: slack, sendFailingSnippet: true}
    always: {script: echo done}
    steps:
      - TASK: [{script: echo}]
"""
    wf = load(("shippable.yml", text))
    hooks = wf.jobs["j"].hooks
    assert hooks["on_start"] == model.Hook(("echo start",), (model.Notify("slack"),))
    assert hooks["on_success"].notify == (model.Notify("slack"), model.Notify("mail"))
    assert hooks["on_failure"] == model.Hook((), (model.Notify("slack", True),))
    assert hooks["always"].script == ("echo done",)
    assert wf.problems == () and not wf.inconsistent


def test_unresolved_notify_names_the_hook_line() -> None:
    text = ("jobs:\n  - name: j\n    type: runSh\n    on_failure:\n      - NOTIFY: slak\n"
            "    steps: [{TASK: {script: [echo]}}]\n")
    wf = load(("shippable.yml", text))
    assert messages(wf) == [
        "shippable.yml:5:9: error: unresolved notification 'slak' of job 'j': "
        "no resource or job has this name"
    ]
    assert wf.inconsistent == {"j": "notification 'slak' is not defined (shippable.yml:5)"}


@pytest.mark.parametrize(
    ("jtype", "reason"),
    [
        ("runCI", "runCI runs on Shippable's CI; not runnable here"),
        ("deploy", "deploy runs on Shippable's cloud; not runnable here"),
        ("jenkinsJob", "jenkinsJob runs on Shippable's cloud; not runnable here"),
        ("ecsDeploy", "ecsDeploy deployed through Shippable's cloud; not runnable here"),
        ("runSh", ""),
        ("release", ""),
    ],
)
def test_job_types(jtype: str, reason: str) -> None:
    text = f"jobs:\n  - name: j\n    type: {jtype}\n    integration: x\n    steps:\n      - TASK: managed\n"
    wf = load(("shippable.yml", text))
    assert wf.jobs["j"].not_runnable == reason
    assert wf.jobs["j"].tasks == ()


def test_unknown_job_type_is_an_error_on_that_job_only() -> None:
    text = "jobs:\n  - name: j\n    type: runShh\n  - name: k\n    type: runSh\n    steps: []\n"
    wf = load(("shippable.yml", text))
    # j stays under its name (its type as written), inconsistent at its type's line: it waits
    assert list(wf.jobs) == ["j", "k"] and wf.jobs["j"].type == "runShh"
    assert wf.inconsistent == {"j": "job 'j' has unknown type 'runShh' (shippable.yml:3:5)"}
    assert messages(wf) == ["shippable.yml:3:5: error: job 'j' has unknown type 'runShh'"]


@pytest.mark.parametrize(
    ("rtype", "message"),
    [
        (
            "gkeCluster",
            "shippable.yml:3:5: warning: resource type 'gkeCluster' is non-current (2016)",
        ),
        ("mystery", "shippable.yml:3:5: warning: unknown resource type 'mystery'"),
    ],
)
def test_resource_type_warnings(rtype: str, message: str) -> None:
    wf = load(("shippable.yml", f"resources:\n  - name: r\n    type: {rtype}\n"))
    assert "r" in wf.resources
    assert messages(wf) == [message]


def test_2016_syntax_source_get_and_old_triggers() -> None:
    res = "resources:\n  - name: p\n    type: params\n    source: {params: {A: 1}}\n"
    jobs = "jobs:\n  - name: j\n    type: runSh\n    steps:\n      - GET: p\n      - GET: t\n"
    trig = "triggers:\n  - name: t\n    type: trigger\n    version: {counter: 2}\n"
    wf = load(
        ("shippable.resources.yml", res),
        ("shippable.jobs.yml", jobs),
        ("shippable.triggers.yml", trig),
    )
    assert wf.resources["p"].definition == {"params": {"A": 1}}
    assert wf.resources["t"].type == "trigger" and wf.resources["t"].definition == {"counter": 2}
    assert [i.name for i in wf.jobs["j"].inputs] == ["p", "t"]
    assert messages(wf) == [
        "shippable.jobs.yml:5:9: warning: 'GET:' is 2016 syntax; read as 'IN:' (first use in this file)",
        "shippable.resources.yml:4:5: warning: 'source:' is 2016 syntax; read as 'versionTemplate:' "
        "(first use in this file)",
    ]


def test_lowercase_nodepool_and_misspelt_deploy_method() -> None:
    text = """\
jobs:
  - name: j
    type: deploy
    runtime: {nodepool: big}
    steps:
      - TASK: managed
        deploymentMethod: upgrade
"""
    wf = load(("shippable.yml", text))
    assert wf.jobs["j"].node_pool == "big"
    assert messages(wf) == [
        "shippable.yml:7:9: warning: 'deploymentMethod' is a misspelling of 'deployMethod'; ignored",
        "shippable.yml:4:15: warning: 'nodepool' should be written 'nodePool'; accepted",
    ]


# --- names ---------------------------------------------------------------------------


def test_duplicate_names_across_files_first_wins() -> None:
    wf = load(
        ("a/shippable.yml", "resources:\n  - {name: x, type: params}\n"),
        ("b/shippable.yml", "jobs:\n  - name: x\n    type: runSh\n    steps: []\n"),
    )
    assert "x" in wf.resources and "x" not in wf.jobs
    assert messages(wf) == [
        "b/shippable.yml:2:5: error: duplicate name 'x': first defined at a/shippable.yml:2:5; "
        "this one is ignored"
    ]


@pytest.mark.parametrize("name", ["../etc", "a b ", " a", "$(rm)", "", "-x", ".x", "a..b",
                                  "a:b", "a\\\\b", "x" * 201])
def test_unsafe_names_rejected(name: str) -> None:
    wf = load(("shippable.yml", f'resources:\n  - name: "{name}"\n    type: params\n'))
    assert wf.resources == {}
    assert wf.errors and wf.errors[0].location.line == 2


def test_did_you_mean_and_cross_repo_names() -> None:
    text = """\
resources:
  - {name: myHook6, type: webhook}
jobs:
  - name: a
    type: runSh
    steps:
      - IN: myHook
  - name: b
    type: runCI
    steps:
      - IN: other_ciRepo
"""
    wf = load(("shippable.yml", text))
    assert messages(wf) == [
        "shippable.yml:7:9: error: unresolved input 'myHook' of job 'a'; did you mean 'myHook6'?",
        "shippable.yml:11:9: error: unresolved input 'other_ciRepo' of job 'b': "
        "defined outside this repository (the runCI job of another one?)",
    ]
    assert set(wf.inconsistent) == {"a", "b"}


# --- cycles and self-inputs ----------------------------------------------------------

CYCLE = """\
resources:
  - {name: r, type: image}
  - {name: s, type: image}
  - {name: st, type: state}
jobs:
  - name: a
    type: runSh
    steps:
      - IN: s
        switch: SWITCH
      - OUT: r
  - name: b
    type: runSh
    steps:
      - IN: r
      - OUT: s
  - name: c
    type: runSh
    steps:
      - IN: b
  - name: d
    type: runSh
    steps:
      - IN: st
      - OUT: st
"""


def test_cycle_through_resources_marks_its_jobs_and_downstream() -> None:
    wf = load(("shippable.yml", CYCLE.replace("SWITCH", "on")))
    assert messages(wf, "error") == ["shippable.yml:6:5: error: jobs form a cycle: a -> b -> a"]
    assert wf.inconsistent == {
        "a": "part of the cycle a -> b -> a",
        "b": "part of the cycle a -> b -> a",
        "c": "input job 'b' is inconsistent",
    }


def test_switch_off_breaks_the_cycle_and_state_may_loop() -> None:
    wf = load(("shippable.yml", CYCLE.replace("SWITCH", "off")))
    assert wf.problems == () and wf.inconsistent == {}


def test_job_taking_its_own_triggering_output() -> None:
    text = "resources:\n  - {name: r, type: image}\njobs:\n  - name: j\n    type: runSh\n"
    text += "    steps:\n      - IN: r\n      - OUT: r\n  - name: k\n    type: runSh\n"
    text += "    steps:\n      - IN: k\n"
    wf = load(("shippable.yml", text))
    assert messages(wf) == [
        "shippable.yml:7:9: error: job 'j' takes its own output 'r' as a triggering input "
        "(it would start itself); add 'switch: off'",
        "shippable.yml:12:9: error: job 'k' takes itself as input",
    ]
    assert set(wf.inconsistent) == {"j", "k"}


def test_out_to_a_job_is_an_error() -> None:
    text = ("jobs:\n  - name: j\n    type: runSh\n    steps: []\n  - name: k\n    type: runSh\n"
            "    steps:\n      - OUT: j\n")
    wf = load(("shippable.yml", text))
    assert messages(wf) == [
        "shippable.yml:8:9: error: OUT 'j' is a job; only a resource can be an output"
    ]


# --- files and YAML ------------------------------------------------------------------


def test_syntax_error_is_fatal_with_position() -> None:
    wf = load(
        ("ok.shippable.yml", "resources:\n  - {name: r, type: params}\n"),
        ("shippable.yml", "jobs: [\n  a: b\n"),
    )
    assert wf.fatal
    assert "r" in wf.resources
    assert messages(wf) == [
        "shippable.yml:3:1: error: YAML does not parse: expected ',' or ']', but got '<stream end>'"
    ]


def test_non_utf8_names_the_file() -> None:
    wf = load(("shippable.yml", b"jobs:\n  - name: \xff\xfe\n"))
    assert wf.fatal
    assert messages(wf) == [
        "shippable.yml:0:0: error: shippable.yml is not UTF-8 text (byte 16): not loaded"
    ]


def test_huge_file_rejected() -> None:
    wf = load(("shippable.yml", "# " + "x" * (5 * 1024 * 1024) + "\n"))
    assert wf.fatal and "the limit is 5242880" in messages(wf)[0]


def test_python_tags_never_execute() -> None:
    text = "resources:\n  - name: r\n    type: params\n    version: !!python/object/apply:os.system ['touch /tmp/pwned']\n"
    wf = load(("shippable.yml", text))
    assert messages(wf) == [
        "shippable.yml:4:14: error: YAML tag '!!python/object/apply:os.system' is not supported; value ignored"
    ]
    assert wf.resources["r"].definition == {}


def test_alias_bomb_is_stopped() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    wf = load(("shippable.yml", "\n".join(lines) + "\n"))
    assert wf.fatal
    assert "more than 100000 YAML nodes after expanding aliases" in messages(wf)[0]


def test_deep_nesting_is_stopped() -> None:
    wf = load(("shippable.yml", "jobs: " + "[" * 3000 + "]" * 3000 + "\n"))
    assert wf.fatal and wf.errors


def test_recursive_alias_is_an_error() -> None:
    wf = load(("shippable.yml", "jobs: &a [*a]\n"))
    assert wf.fatal
    assert "recursive" in messages(wf)[0]


def test_duplicate_top_level_jobs_last_wins_and_lists_lost_names() -> None:
    text = """\
jobs:
  - name: first
    type: runSh
    steps: []
resources: []
jobs:
  - name: second
    type: runSh
    steps: []
"""
    wf = load(("shippable.yml", text))
    assert list(wf.jobs) == ["second"]
    assert messages(wf) == [
        "shippable.yml:6:1: warning: duplicate key 'jobs': the value at line 1 is ignored "
        "(the last one wins) (its entries first are ignored)"
    ]


def test_anchors_from_templates_file_in_another_folder() -> None:
    templates = "setup_temp: &setup\n  - echo setup\n  - [echo nested]\n"
    jobs = """\
jobs:
  - name: j
    type: runSh
    steps:
      - TASK:
          script:
            - *setup
            - echo own
      - IN: nope
"""
    wf = load(("shippable.templates.yml", templates), ("images/x/shippable.yml", jobs))
    assert not wf.fatal
    assert wf.jobs["j"].tasks[0].script == ("echo setup", "echo nested", "echo own")
    # positions still refer to the file itself
    assert messages(wf) == [
        "images/x/shippable.yml:9:9: error: unresolved input 'nope' of job 'j': "
        "no resource or job has this name"
    ]


def test_undefined_alias_in_the_only_object_keeps_the_last_good_workflow() -> None:
    wf = load(("shippable.yml", "jobs:\n  - name: j\n    type: runSh\n    steps: *nothere\n"))
    assert wf.fatal  # nothing loaded at all
    assert messages(wf) == [
        "shippable.yml:4:12: error: undefined alias 'nothere' (no file anchors &nothere)",
        "shippable.yml:2:5: error: job 'j' is not loaded: it uses the undefined alias "
        "'nothere' (line 4)",
    ]


def test_merge_keys_mapping_and_list_of_tasks() -> None:
    text = """\
templates: &base
  type: runSh
jobs:
  - <<: *base
    name: a
    steps:
      - TASK: &hello
          - script: echo 1
          - script: echo 2
  - <<: *base
    name: b
    steps:
      - TASK:
        <<: *hello
"""
    wf = load(("shippable.yml", text))
    assert wf.jobs["a"].type == "runSh" == wf.jobs["b"].type
    assert wf.jobs["b"].tasks[0].script == ("echo 1", "echo 2")
    assert messages(wf) == [
        "shippable.yml:14:9: warning: merge key '<<' of the list &hello beside the empty key "
        "'TASK': read as its value"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jobs:\n", "shippable.yml:1:1: warning: 'jobs:' is empty"),
        ("resources: ~\n", "shippable.yml:1:1: warning: 'resources:' is empty"),
        ("", "shippable.yml:1:1: warning: file is empty: nothing to load"),
        ("- a\n", "shippable.yml:1:1: error: the top level must be a mapping of keys "
                   "(resources:, jobs:); nothing of this file is loaded"),
        ("jobs: {a: 1}\n", "shippable.yml:1:1: error: 'jobs:' must be a list; the push is not "
                            "loaded"),
        ("colour: red\n", "shippable.yml:1:1: warning: unknown top-level key 'colour' ignored"),
        ("jobs:\n  - 3\n", "shippable.yml:2:5: error: each entry of 'jobs:' must be a mapping"),
        ("jobs:\n  - type: runSh\n", "shippable.yml:2:5: error: job without a 'name:'"),
    ],
)
def test_file_level_problems(text: str, expected: str) -> None:
    wf = load(("shippable.yml", text))
    assert messages(wf) == [expected]
    # A push with nothing loadable keeps the last good workflow (it would remove every job).
    assert wf.fatal == expected.endswith(("not loaded", "nothing of this file is loaded"))


def test_ci_keys_are_one_info_and_templates_are_silent() -> None:
    # a CI section runs as <repo>_runCI (issue #14): what it cannot apply is said at its key
    text = "language: node_js\nbuild: {ci: [npm test]}\nintegrations: {}\ntemplatesx: 1\nmy_temp: &t [a]\n"
    wf = load(("shippable.yml", text))
    assert messages(wf) == [
        "shippable.yml:1:1: info: CI section: 'language' not applied here: the build image is Shippable's; steps run with the tools installed here"
    ]
    assert set(wf.jobs) == {"config_runCI"} and set(wf.resources) == {"config_ciRepo"}
    # CI keys without a section (no language:, no build:) are one info, as before
    text = "env: [A=1]\nbranches: {only: [main]}\n"
    assert messages(load(("shippable.yml", text))) == [
        "shippable.yml:1:1: info: 'env' of the top level is not applied here: a Shippable CI section's key; a section (language: or build:) runs as the <repo>_runCI job (said once)"
    ]


def test_jfrog_pipelines_file_is_not_loaded_nor_fatal() -> None:
    text = "resources:\n  - name: r\n    type: GitRepo\npipelines:\n  - name: p\n"
    wf = load(("shippable.yml", text))
    assert wf.resources == {} and not wf.fatal
    assert messages(wf) == [
        "shippable.yml:4:1: warning: this is JFrog Pipelines format (top-level 'pipelines:'), "
        "not an Assembly Line; the file is not loaded"
    ]


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\x01",
        "{{{",
        "jobs: [{name: 1, type: 2, steps: 3}]",
        "jobs:\n - name: j\n   type: runSh\n   steps: [[], 1, {IN: [a]}]\n",
        "resources: [{name: r, type: [x]}]",
        "jobs: [{name: j, type: runSh, steps: [], on_success: 3, runtime: [1]}]",
    ],
)
def test_never_raises(content: str | bytes) -> None:
    wf = load(("shippable.yml", content))
    assert isinstance(wf, model.Workflow)
    seen = messages(wf)
    said = NEVER_RAISES_SAYS[content]
    if said is None:  # a number as a hook's script is a command; runtime is not read
        assert seen == [] and wf.jobs["j"].hooks["on_success"].script == ("3",)
    else:  # what the user is told, where: never a traceback
        assert seen and seen[0].startswith(said), seen
        assert wf.fatal == ("does not parse" in said)  # a bad object alone is not fatal


# what `gitline validate` says first of each file test_never_raises loads
NEVER_RAISES_SAYS: dict[str | bytes, str | None] = {
    b"\x00\x01": "shippable.yml:0:0: error: YAML does not parse: unacceptable character",
    "{{{": "shippable.yml:1:4: error: YAML does not parse: expected the node content",
    "jobs: [{name: 1, type: 2, steps: 3}]": "shippable.yml:1:8: error: job '1' has no 'type:'",
    "jobs:\n - name: j\n   type: runSh\n   steps: [[], 1, {IN: [a]}]\n":
        "shippable.yml:4:12: error: a step must be a mapping (IN/OUT/TASK)",
    "resources: [{name: r, type: [x]}]":
        "shippable.yml:1:13: error: resource 'r' has no 'type:'",
    "jobs: [{name: j, type: runSh, steps: [], on_success: 3, runtime: [1]}]": None,
}


# --- what real configurations showed (issue #11) ----------------------------------------

def test_a_file_that_is_no_mapping_loses_only_its_own_objects() -> None:
    jobs = """\
resources:
  - {name: src, type: gitRepo}
jobs:
  - name: build
    type: runSh
    steps: [{IN: src}, {TASK: {script: [make]}}]
  - name: nightly
    type: runSh
    steps: [{IN: every_night}, {TASK: {script: [make]}}]
"""
    triggers = "- name: every_night\n  type: time\n"
    wf = load(("shippable.jobs.yml", jobs), ("shippable.triggers.yml", triggers))
    assert not wf.fatal
    assert set(wf.jobs) == {"build", "nightly"} and set(wf.resources) == {"src"}
    assert set(wf.inconsistent) == {"nightly"}  # only what needed the lost file's objects
    assert messages(wf)[0] == ("shippable.triggers.yml:1:1: error: the top level must be a "
                               "mapping of keys (resources:, jobs:); nothing of this file is "
                               "loaded")


def test_an_unresolved_notification_is_said_once_per_use_at_its_line() -> None:
    text = """\
jobs:
  - name: deploy
    type: runSh
    steps: [{TASK: {script: [make]}}]
    on_success:
      NOTIFY: slack_ops
    on_failure:
      - NOTIFY: slack_ops
    always:
      NOTIFY: [other, slack_ops]
"""
    wf = load(("shippable.yml", text))
    found = [(p.location.line, p.message) for p in wf.errors]
    assert [line for line, _ in found] == [6, 8, 10, 10]
    assert all("'slack_ops'" in m for _, m in found[:3]) and "'other'" in found[3][1]


def test_did_you_mean_never_names_the_referrer_and_prefers_the_expected_kind() -> None:
    text = """\
resources:
  - {name: micro_sh_img, type: image}
  - {name: ops_hook, type: notification, versionTemplate: {method: webhook, url_secret: x}}
  - {name: ops_hooks, type: params}
jobs:
  - name: micro_sh_tag
    type: runSh
    steps: [{IN: micro_sh_imgs}, {TASK: {script: [make]}}]
  - name: ops_hookz
    type: runSh
    steps: [{IN: micro_sh_img}, {TASK: {script: [make]}}]
    on_failure: {NOTIFY: ops_hok}
"""
    wf = load(("shippable.yml", text))
    text_of = "\n".join(messages(wf))
    assert "unresolved input 'micro_sh_imgs' of job 'micro_sh_tag'; did you mean 'micro_sh_img'?" \
        in text_of
    assert "unresolved notification 'ops_hok' of job 'ops_hookz'; did you mean 'ops_hook'?" \
        in text_of
    wf = load(("shippable.yml", text.replace("IN: micro_sh_imgs", "IN: micro_sh_tab")))
    assert "did you mean 'micro_sh_tag'" not in "\n".join(messages(wf))


def test_a_runci_job_of_this_files_own_ci_section_is_named_so() -> None:
    text = """\
language: node_js
build: {ci: [npm test]}
jobs:
  - name: deploy
    type: runSh
    steps: [{IN: myapp_runCI}, {TASK: {script: [make]}}]
"""
    [problem] = load(("shippable.yml", text)).errors
    assert "Shippable made the runCI job from the CI section (language:, build:) of shippable.yml" \
        in problem.message
    assert "here named 'config_runCI'" in problem.message
    # named after the repository, the same file resolves
    wf = loader.load_workflow([("shippable.yml", text)], main_name="myapp")
    assert not wf.errors and not wf.inconsistent
    assert wf.jobs["myapp_runCI"].ci is not None


def test_an_undefined_alias_drops_only_the_object_that_holds_it() -> None:
    text = """\
resources:
  - {name: src, type: gitRepo}
jobs:
  - name: a
    type: runSh
    steps: *nothere
  - name: b
    type: runSh
    steps: [{IN: src}, {TASK: {script: [make]}}]
  - name: c
    type: runSh
    steps: [{IN: a}, {TASK: {script: [make]}}]
"""
    wf = load(("shippable.yml", text))
    assert not wf.fatal and set(wf.jobs) == {"a", "b", "c"}  # a: a placeholder
    assert wf.inconsistent == {
        "a": "job 'a' is not loaded: it uses the undefined alias 'nothere' (line 6) "
             "(shippable.yml:4:5)",
        "c": "input 'a' is not loaded (shippable.yml:12)"}
    assert messages(wf) == [
        "shippable.yml:6:12: error: undefined alias 'nothere' (no file anchors &nothere)",
        "shippable.yml:4:5: error: job 'a' is not loaded: it uses the undefined alias 'nothere' "
        "(line 6)",
        "shippable.yml:12:14: error: unresolved input 'a' of job 'c': "
        "job 'a' is not loaded: it uses the undefined alias 'nothere' (line 6) "
        "(shippable.yml:4:5)",
    ]


@pytest.mark.parametrize("name", ["Slack (DevTac)", "deploy [prod] #2", "a+b@c", "x" * 200])
def test_quoted_names_shippable_allowed_load(name: str) -> None:
    text = f"""\
resources:
  - name: "{name}"
    type: notification
    versionTemplate: {{method: webhook, url_secret: x}}
jobs:
  - name: j
    type: runSh
    steps: [{{TASK: {{script: [make]}}}}]
    on_failure: {{NOTIFY: "{name}"}}
"""
    wf = load(("shippable.yml", text))
    assert list(wf.resources) == [name] and not wf.errors and not wf.inconsistent


def test_a_tasks_node_pool_routes_a_one_task_job_and_is_said_otherwise() -> None:
    text = """\
jobs:
  - name: one
    type: runSh
    steps:
      - TASK:
          runtime: {nodePool: gpu}
          script: [make]
  - name: two
    type: runSh
    steps:
      - TASK:
          runtime: {nodePool: gpu}
          script: [make]
      - TASK: {script: [test]}
  - name: own
    type: runSh
    runtime: {nodePool: big}
    steps:
      - TASK:
          runtime: {nodePool: gpu}
          script: [make]
"""
    wf = load(("shippable.yml", text))
    assert wf.jobs["one"].node_pool == "gpu"
    assert wf.jobs["two"].node_pool == "" and wf.jobs["own"].node_pool == "big"
    assert messages(wf) == [
        "shippable.yml:12:21: warning: runtime.nodePool 'gpu' of a TASK is not applied: job "
        "'two' has 2 TASKs and a run goes to one worker; set runtime.nodePool on the job",
        "shippable.yml:20:21: warning: runtime.nodePool 'gpu' of a TASK is not applied: the "
        "job's runtime.nodePool 'big' is used",
    ]


def test_documented_forms_load_clean():
    """#17: `externalCIServer` is a resource type; `interval: "not a cron"` an error at it."""
    wf = loader.load_text("shippable.yml", """\
resources:
  - name: jenkins
    type: externalCIServer
    integration: my_jenkins
    versionTemplate: {}
  - name: nightly
    type: time
    versionTemplate:
      interval: "not a cron"
""")
    assert "jenkins" in wf.resources
    assert [f"{p.location.line}:{p.severity}" for p in wf.problems] == ["9:error"]
    assert "interval 'not a cron' needs 5 cron fields" in wf.problems[0].message


def test_external_references_are_not_fetched_and_say_so_where_they_are_used():
    """#17: Shippable fetched a templates file's externalReferences; the network is off here."""
    wf = loader.load_workflow([
        ("shippable.templates.yml", "externalReferences:\n"
         "  - https://raw.example.com/org/tpl/master/shippable.templates.yml\n"),
        ("shippable.yml", "resources:\n  - name: p\n    type: params\n"
         "    versionTemplate: {params: {A: '1'}}\njobs:\n  - name: j\n    type: runSh\n"
         "    steps: *common_steps\n"),
    ])
    assert [str(p) for p in wf.problems][:2] == [
        "shippable.templates.yml:2:5: error: externalReferences: https://raw.example.com/org/"
        "tpl/master/shippable.templates.yml is not fetched: the network is off here; the "
        "anchors it defines are undefined (copy them into this file)",
        "shippable.yml:8:12: error: alias 'common_steps' is defined by no file here: "
        "externalReferences (shippable.templates.yml:2) are not fetched, the network is off "
        "here",
    ]
    assert "p" in wf.resources and wf.jobs["j"].tasks == ()  # j: a placeholder, waits
    assert set(wf.inconsistent) == {"j"}
    assert not any("found undefined alias" in p.message for p in wf.problems)


@pytest.mark.parametrize(("job_bump", "task_bump", "expected"), [
    ("", "", "minor"),  # the documented default
    ("    bump: patch\n", "", "patch"),  # job-level, as the docs' release examples write it
    ("    bump: patch\n", "        bump: major\n", "major"),  # the TASK's wins
    ("    bump: sideways\n", "", ""),  # warned of; released as it is
])
def test_release_bump_job_level_task_level_and_default(job_bump, task_bump, expected):
    wf = loader.load_text("shippable.yml", f"""\
resources:
  - name: v
    type: version
    versionTemplate: {{versionName: "1.0.0"}}
jobs:
  - name: rel
    type: release
{job_bump}    steps:
      - IN: v
      - TASK: managed
{task_bump}""")
    assert wf.jobs["rel"].bump == expected
    assert [p.severity for p in wf.problems] == (["warning"] if expected == "" else [])


def test_job_level_integrations_are_read_and_held_to_their_scopes():
    from controller.core import secretscope

    text = """\
resources:
  - name: p
    type: params
    versionTemplate: {params: {A: "1"}}
jobs:
  - name: deploy
    type: runSh
    integrations: [deploy_kv, other_kv]
    steps:
      - IN: p
      - TASK: [echo]
"""
    scopes = {"deploy_kv": secretscope.Scope(jobs=frozenset({"deploy"})),
              "other_kv": secretscope.Scope(jobs=frozenset({"build"}))}
    wf = loader.load_workflow([("shippable.yml", text)], scopes=scopes)
    assert wf.jobs["deploy"].integrations == ("deploy_kv", "other_kv")
    assert [str(p) for p in wf.problems] == [
        "shippable.yml:8:5: error: job 'deploy' names secret 'other_kv' in integrations:, "
        "which is not for it (secrets.yml gives it to jobs build)"]
    assert "deploy" in wf.inconsistent
    assert not loader.load_workflow([("shippable.yml", text)]).problems  # validate: no HOME


def test_a_job_without_steps_is_an_error_and_waits_with_its_downstream() -> None:
    """`step:` for `steps:` left a job that ran nothing and passed, and fed the jobs after
    it: a job with no `steps:` is an error at its line, and it and what follows it wait."""
    text = """\
jobs:
  - name: test
    type: runSh
    step:
      - TASK: {script: [./run-tests]}
  - name: deploy
    type: runSh
    steps:
      - IN: test
      - TASK: {script: [./deploy]}
"""
    wf = load(("shippable.yml", text))
    assert messages(wf) == [
        "shippable.yml:4:5: warning: unknown key 'step' of job 'test'; did you mean 'steps'?",
        "shippable.yml:2:5: error: job 'test' has no 'steps:'",
        "shippable.yml:9:9: error: unresolved input 'test' of job 'deploy': job 'test' has no "
        "'steps:' (shippable.yml:2:5)",
    ]
    assert set(wf.inconsistent) == {"test", "deploy"}


def test_a_mistyped_type_of_a_job_is_named() -> None:
    wf = load(("shippable.yml", "jobs:\n  - name: j\n    tpye: runSh\n    steps: []\n"))
    assert messages(wf) == [
        "shippable.yml:3:5: warning: unknown key 'tpye' of job 'j'; did you mean 'type'?",
        "shippable.yml:2:5: error: job 'j' has no 'type:'",
    ]
    assert "j" in wf.inconsistent


def test_a_job_taken_in_and_written_out_is_an_error_not_a_crash() -> None:
    text = """\
jobs:
  - name: a
    type: runSh
    steps: [{TASK: {script: [echo]}}]
  - name: b
    type: runSh
    steps:
      - IN: a
      - OUT: a
"""
    wf = load(("shippable.yml", text))
    assert messages(wf) == [
        "shippable.yml:9:9: error: OUT 'a' is a job; only a resource can be an output"]
    assert set(wf.inconsistent) == {"b"}

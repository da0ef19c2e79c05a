"""An object with a name that cannot be read (a misspelt or missing `type:`, an unknown
job type, a refused gitRepo, an undefined alias) stays in the workflow as a placeholder
under its name: inconsistent with why at file:line:col, never run; what takes it waits,
the rest runs; fixed, it is an object like any other. Pure: no git, no controller."""

from __future__ import annotations

from controller.core import fileload, loader, model, planner

GOOD = """\
resources:
  - name: cfg
    type: params
    versionTemplate: {params: {A: '1'}}
  - name: img
    type: image
    versionTemplate: {sourceName: app}
  - name: chat
    type: notification
    versionTemplate: {method: webhook, url_secret: hook}
jobs:
  - name: build
    type: runSh
    steps:
      - IN: cfg
      - TASK: {script: [make]}
  - name: sibling
    type: runSh
    steps:
      - IN: cfg
      - TASK: {script: [echo sibling]}
  - name: deploy
    type: runSh
    steps:
      - IN: build
      - TASK: {script: [echo deploy]}
"""
TYPO = ("  - name: build\n    type: runSh\n", "  - name: build\n    tpye: runSh\n")


def load(text: str) -> model.Workflow:
    return loader.load_text("shippable.yml", text)


def snapshot() -> model.Snapshot:
    return model.Snapshot(versions={"cfg": model.Version("cfg", 1, created_by="config abc")})


def test_a_misspelt_type_keeps_the_job_inconsistent_its_downstream_waits_the_rest_runs():
    wf = load(GOOD.replace(*TYPO))
    assert not wf.fatal and list(wf.jobs) == ["build", "sibling", "deploy"]
    build = wf.jobs["build"]  # a placeholder: its place, nothing to run
    assert (build.type, build.location, build.inputs, build.tasks) == (
        "", model.Location("shippable.yml", 12, 5), (), ())
    assert wf.inconsistent == {
        "build": "job 'build' has no 'type:' (shippable.yml:12:5)",
        "deploy": "input 'build' is not loaded (shippable.yml:25)",
    }
    assert [str(p) for p in wf.errors] == [
        "shippable.yml:12:5: error: job 'build' has no 'type:'",
        "shippable.yml:25:9: error: unresolved input 'build' of job 'deploy': job 'build' has "
        "no 'type:' (shippable.yml:12:5)",
    ]
    plan = planner.plan_runs(wf, snapshot())
    assert [r.job for r in plan.runs] == ["sibling"]
    assert plan.waits["build"] == "inconsistent: job 'build' has no 'type:' (shippable.yml:12:5)"
    assert plan.waits["deploy"].startswith("inconsistent: input 'build' is not loaded")
    # a trigger file does not run it either
    asked = planner.plan_triggers(
        wf, snapshot(), [model.TriggerRequest("build", "c" * 40, "me", "triggers/build")])
    assert not asked.runs
    assert [r.error for r in asked.rejected] == [
        "inconsistent: job 'build' has no 'type:' (shippable.yml:12:5)"]

    fixed = load(GOOD)
    assert not fixed.inconsistent and not fixed.errors
    assert [r.job for r in planner.plan_runs(fixed, snapshot()).runs] == ["build", "sibling"]


def test_every_way_an_object_fails_to_read_is_a_placeholder_with_its_line():
    broken = {  # what replaces what, and why the object is inconsistent
        ("    type: runSh\n    steps:\n      - IN: cfg\n      - TASK: {script: [make]}",
         "    type: runShh\n    steps:\n      - IN: cfg\n      - TASK: {script: [make]}"):
            ("build", "job 'build' has unknown type 'runShh' (shippable.yml:13:5)"),
        ("    type: params\n", "    typ: params\n"):
            ("cfg", "resource 'cfg' has no 'type:' (shippable.yml:2:5)"),
        ("    type: image\n    versionTemplate: {sourceName: app}",
         "    type: gitRepo\n    versionTemplate: {sourceName: ., path: ../up}"):
            ("img", "resource 'img': path '../up' may not contain '..' (shippable.yml:5:5)"),
        ("    type: image\n    versionTemplate: {sourceName: app}",
         "    type: gitRepo\n    versionTemplate: {url: '--upload-pack=x'}"):
            ("img", "resource 'img': url: '--upload-pack=x' starts with '-' (git would read it "
                    "as an option) (shippable.yml:7:23)"),
    }
    for (old, new), (name, why) in broken.items():
        assert old in GOOD
        wf = load(GOOD.replace(old, new))
        assert name in (wf.jobs if name == "build" else wf.resources), (name, wf)
        assert wf.inconsistent[name] == why
        assert "sibling" not in wf.inconsistent or name == "cfg"  # the rest runs
        if name == "cfg":  # what takes it waits
            assert wf.inconsistent["sibling"] == "input 'cfg' is not loaded (shippable.yml:20)"


def test_a_job_writing_or_notifying_a_placeholder_resource_waits():
    text = GOOD.replace("    type: image\n", "    tpye: image\n").replace(
        "    type: notification\n", "").replace(
        "      - TASK: {script: [echo sibling]}\n",
        "      - TASK: {script: [echo sibling]}\n      - OUT: img\n"
        "    on_failure: {NOTIFY: chat}\n")
    wf = load(text)
    assert set(wf.resources) == {"cfg", "img", "chat"}
    assert wf.inconsistent["img"] == "resource 'img' has no 'type:' (shippable.yml:5:5)"
    assert wf.inconsistent["chat"] == "resource 'chat' has no 'type:' (shippable.yml:8:5)"
    assert wf.inconsistent["sibling"] == "output 'img' is not loaded (shippable.yml:21)"
    assert [str(p) for p in wf.errors if p.subject == "sibling"] == [
        "shippable.yml:21:9: error: unresolved output 'img' of job 'sibling': resource 'img' "
        "has no 'type:' (shippable.yml:5:5)",
        "shippable.yml:22:18: error: unresolved notification 'chat' of job 'sibling': resource "
        "'chat' has no 'type:' (shippable.yml:8:5)",
    ]
    assert "build" not in wf.inconsistent and "deploy" not in wf.inconsistent


def test_the_first_definition_of_a_name_wins_placeholder_or_not():
    second = "  - name: build\n    type: runSh\n    steps: [{TASK: {script: [again]}}]\n"
    wf = loader.load_workflow([("a/shippable.yml", GOOD.replace(*TYPO)),
                               ("b/shippable.yml", "jobs:\n" + second)])
    assert wf.jobs["build"].tasks == () and "build" in wf.inconsistent
    wf = loader.load_workflow([("a/shippable.yml", GOOD),
                               ("b/shippable.yml", "jobs:\n" + second.replace("type", "tpye"))])
    assert wf.jobs["build"].tasks[0].script == ("make",) and not wf.inconsistent


def test_the_load_cache_keeps_the_placeholder_and_forgets_it_once_fixed():
    other = ("z/shippable.yml", "resources:\n  - {name: extra, type: params}\n")
    cache: fileload.LoadCache = {}
    broken = [("shippable.yml", GOOD.replace(*TYPO)), other]
    first = loader.load_workflow(broken, cache=cache)
    assert "build" in first.inconsistent
    again = loader.load_workflow(broken, cache=cache)  # both files from the cache
    assert again == first == loader.load_workflow(broken)
    fixed = [("shippable.yml", GOOD), other]
    assert loader.load_workflow(fixed, cache=cache) == loader.load_workflow(fixed)
    assert not loader.load_workflow(fixed, cache=cache).inconsistent
    assert loader.load_workflow(broken, cache=cache) == first


def test_only_placeholders_of_undefined_aliases_keep_the_last_good_workflow():
    only = "jobs:\n  - name: j\n    type: runSh\n    steps: *nothere\n"
    assert load(only).fatal and "j" in load(only).jobs
    # a job whose type is misspelt is an object of the workflow: the push is taken
    assert not load("jobs:\n  - name: j\n    tpye: runSh\n").fatal


def test_a_runci_job_with_a_misspelt_type_keeps_the_ci_section_waiting_at_its_line():
    text = ("language: python\nbuild: {ci: [pytest]}\njobs:\n  - name: config_runCI\n"
            "    tpye: runCI\n    on_success: {script: [echo hi]}\n")
    wf = load(text)
    assert wf.jobs["config_runCI"].ci is not None  # the section's job, not run
    assert wf.inconsistent == {
        "config_runCI": "job 'config_runCI' has no 'type:' (shippable.yml:4:5)"}
    assert [str(p) for p in wf.errors] == [
        "shippable.yml:4:5: error: job 'config_runCI' has no 'type:'"]

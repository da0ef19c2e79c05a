"""The loader and graph on 80 real Assembly Line files (45 folders) from public repositories.

Every folder loads without crashing, loads the objects MANIFEST.tsv counts (exceptions are
asserted explicitly), renders as DOT and Mermaid, and each `EDGE:` defect is reported with
its exact message and line.
"""

# ruff: noqa: E501  (exact problem messages read best on one line)

from __future__ import annotations

import csv
import functools
from collections import Counter

import pytest

from controller.core import graph, loader, model
from tests.harness.corpus import SHIPPABLE

CORPUS = SHIPPABLE
REPOS = CORPUS / "repos"

pytestmark = pytest.mark.skipif(
    not (CORPUS / "MANIFEST.tsv").is_file(),
    reason=f"the Shippable corpus is not at {CORPUS} (it lives outside the repository)",
)

# Where Gitline deliberately loads fewer objects than the manifest counts.
EXCEPTIONS = {
    # a JFrog Pipelines file named shippable.yml: nothing is loaded from it
    "devops-recipes__node_app_jfrog": (0, 0),
}


# What a CI section adds to the manifest's counts (issue #14): its `<repo>_ciRepo` and one
# `<repo>_ciNotify<N>` per notification (resources); its `<repo>_runCI` job where no file
# defines it (most files define it, to add inputs, and the section completes that job).
CI_MADE = {
    "AbbottPlatform__abbott-platform-info-botapp": (2, 0),
    "JP-L__jdemo": (2, 0),
    "JP-L__jdemo@c784809": (2, 0),
    "a4k-openproject__a4kScrapers": (1, 0),
    "alire-project__alire-crates-ci": (2, 1),
    "devops-recipes__deploy-ecs-basic": (1, 0),
    "devops-recipes__deploy-ecs-multi-container": (1, 0),
    "devops-recipes__deploy-nodecluster-basic": (1, 0),
    "devops-recipes__java_web_app": (1, 0),
}


def folders() -> list[str]:
    return sorted(p.name for p in REPOS.iterdir()) if REPOS.is_dir() else []


def expected_counts() -> dict[str, tuple[int, int]]:
    counts: Counter[tuple[str, str]] = Counter()
    with (CORPUS / "MANIFEST.tsv").open(newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            folder = row["file"].split("/")[1]
            # old top-level `triggers:` entries load as trigger resources
            counts[(folder, "r")] += int(row["n_resources"]) + int(row["n_triggers"] or 0)
            counts[(folder, "j")] += int(row["n_jobs"])
    return {f: (counts[(f, "r")], counts[(f, "j")]) for f in {k[0] for k in counts}}


@functools.cache
def load_folder(folder: str) -> model.Workflow:
    root = REPOS / folder
    files = [
        (p.relative_to(root).as_posix(), p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file() and loader.is_workflow_file(p.name)
    ]
    return loader.load_workflow(files, main_name=repo_name(folder))


def repo_name(folder: str) -> str:
    """`owner__repo@sha` -> `repo`: the name Shippable gave its runCI job and ciRepo."""
    return folder.split("__", 1)[-1].split("@", 1)[0]


def messages(folder: str, severity: str | None = None) -> list[str]:
    """Errors and warnings (infos only when asked: they say what is not applied here)."""
    return [str(p) for p in load_folder(folder).problems
            if p.severity == severity or (severity is None and p.severity != "info")]


def test_corpus_has_45_folders_and_80_files() -> None:
    assert len(folders()) == 45
    files = [p for p in REPOS.rglob("*") if p.is_file() and loader.is_workflow_file(p.name)]
    assert len(files) == 80


@pytest.mark.parametrize("folder", folders())
def test_folder_loads_counts_and_renders(folder: str) -> None:
    wf = load_folder(folder)
    resources, jobs = EXCEPTIONS.get(folder, expected_counts()[folder])
    made = CI_MADE.get(folder, (0, 0))
    assert (len(wf.resources), len(wf.jobs)) == (resources + made[0], jobs + made[1])
    ci = [job for job in wf.jobs.values() if job.ci is not None]
    assert len(ci) == (folder in CI_MADE)  # every CI section runs as its repo's runCI job
    for job in ci:
        assert job.name == f"{repo_name(folder)}_runCI" and not job.not_runnable
    assert not wf.fatal, messages(folder)
    assert not any(p.message.startswith("internal error") for p in wf.problems)
    for problem in wf.problems:
        assert problem.location.path and problem.location.line > 0, problem
    dot, mermaid = graph.render_dot(wf), graph.render_mermaid(wf)
    for name in [*wf.resources, *wf.jobs]:
        assert f'"{name}"' in dot
        assert name in mermaid
    assert set(wf.inconsistent) <= set(wf.jobs)


def test_manifest_exception_is_the_jfrog_file() -> None:
    assert expected_counts()["devops-recipes__node_app_jfrog"] == (1, 0)


def test_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """Folders that load clean / with warnings only / with errors (quoted in the README)."""
    tally: Counter[str] = Counter()
    for folder in folders():
        wf = load_folder(folder)
        warned = any(p.severity == "warning" for p in wf.problems)
        tally["errors" if wf.errors else "warnings" if warned else "clean"] += 1
    with capsys.disabled():
        print(f"\ncorpus: {dict(tally)} of {len(folders())} folders")
    assert sum(tally.values()) == 45
    # the CI sections run (issue #14): jdemo and jdemo@c784809 no longer have an error
    assert tally == {"clean": 24, "warnings": 8, "errors": 13}


# --- one test per EDGE note -----------------------------------------------------------


@pytest.mark.parametrize("folder", ["DaRizat__tv-message", "GoodwayGroup__appgen-hello-world"])
def test_edge_deployment_method_misspelling(folder: str) -> None:
    found = [m for m in messages(folder) if "deploymentMethod" in m]
    assert found == [
        "shippable.jobs.yml:32:9: warning: 'deploymentMethod' is a misspelling of 'deployMethod'; ignored",
        "shippable.jobs.yml:45:9: warning: 'deploymentMethod' is a misspelling of 'deployMethod'; ignored",
    ]


def test_edge_jdemo_four_script_keys_and_misindented_options() -> None:
    folder = "JP-L__jdemo@c784809"
    assert messages(folder, "warning")[:4] == [
        "shippable.yml:240:13: warning: duplicate key 'script': the value at line 239 is ignored (the last one wins)",
        "shippable.yml:241:13: warning: duplicate key 'script': the value at line 240 is ignored (the last one wins)",
        "shippable.yml:242:13: warning: duplicate key 'script': the value at line 241 is ignored (the last one wins)",
        "shippable.yml:234:13: warning: 'options:' is beside an empty 'runtime:'; read as 'runtime: {options: ...}'",
    ]
    task = load_folder(folder).jobs["genericSetupStagingEnvironment"].tasks[0]
    assert task.script == ('echo "==== TODO TODO TODO TODO ===="',)
    # the file's own jdemo_runCI takes jdemo_ciRepo: both are made from its CI section now
    assert messages(folder, "error") == []
    wf = load_folder(folder)
    assert wf.resources["jdemo_ciRepo"].definition == {"sourceName": "self"}
    assert wf.jobs["jdemo_runCI"].inputs[0].name == "jdemo_ciRepo"
    assert "jdemo_runCI" not in wf.inconsistent


def test_edge_dangling_my_hook() -> None:
    folder = "Riturajcse__sample_pipelines@074a704"
    assert messages(folder) == [
        "shippable.jobs.yml:11:9: error: unresolved input 'myHook' of job 'runSh-job'; did you mean 'myHook6'?"
    ]
    assert load_folder(folder).inconsistent == {
        "runSh-job": "input 'myHook' is not defined (shippable.jobs.yml:11)"
    }


def test_edge_aliases_nested_in_script_lists_are_flattened() -> None:
    folder = "Riturajcse__sample_pipelines@73efa57"
    job = load_folder(folder).jobs["sample-job-A"]
    assert messages(folder) == []
    assert job.tasks[0].script[2:4] == (
        'echo "common-script line 1"',
        'echo "common-script line 2"',
    )
    assert set(job.hooks) == set(model.HOOK_NAMES)
    assert job.hooks["on_cancel"].script == (
        'echo "CANCEL"',
        'echo "common-script line 5"',
        'echo "common-script line 6"',
    )


def test_edge_lowercase_nodepool_and_env_maps() -> None:
    folder = "Riturajcse__sample_pipelines@76362ec"
    found = messages(folder)
    assert [m for m in found if "nodepool" in m] == [
        "shippable.jobs.yml:25:13: warning: 'nodepool' should be written 'nodePool'; accepted",
        "shippable.jobs.yml:10:7: warning: 'nodepool' should be written 'nodePool'; accepted",
    ]
    # `- echo "hello: world"` unquoted is a YAML mapping, not a line: read back and flagged
    mappings = [m for m in found if "script line is a YAML mapping" in m]
    assert [m.split(": warning")[0] for m in mappings] == [
        "shippable.jobs.yml:21:19", "shippable.jobs.yml:32:18"]
    assert "read as 'echo \"hello: world11\"'" in mappings[0]
    assert any(t.env for j in load_folder(folder).jobs.values() for t in j.tasks)


def test_edge_merge_of_a_task_list() -> None:
    folder = "Riturajcse__sample_pipelines@9b40b7a"
    assert messages(folder) == [
        "shippable.jobs.yml:27:9: warning: merge key '<<' of the list &hello beside the empty key 'TASK': read as its value"
    ]
    jobs = load_folder(folder).jobs
    assert jobs["runSh-job-2"].tasks[0].script == jobs["runSh-job"].tasks[0].script
    assert len(jobs["runSh-job"].tasks[0].script) == 15


def test_edge_2016_syntax() -> None:
    folder = "Riturajcse__sample_pipelines@b3b2f0c"
    wf = load_folder(folder)
    found = messages(folder)
    assert (
        "shippable.jobs.yml:5:9: warning: 'GET:' is 2016 syntax; read as 'IN:' (first use in this file)"
        in found
    )
    assert (
        "shippable.resources.yml:5:5: warning: 'source:' is 2016 syntax; read as 'versionTemplate:' (first use in this file)"
        in found
    )
    assert (
        "shippable.triggers.yml:4:6: warning: 'source:' is 2016 syntax; read as 'versionTemplate:' (first use in this file)"
        in found
    )
    assert (
        "shippable.resources.yml:50:5: warning: resource type 'ecsCluster' is non-current (2016)"
        in found
    )
    assert "shippable.jobs.yml:13:5: warning: job type 'ecsDeploy' is non-current (2016)" in found
    assert (
        "shippable.jobs.yml:78:5: warning: 'steps:' should be a list; this mapping is read as one step"
        in found
    )
    assert wf.errors == ()
    assert wf.resources["trigger-dv-man"].type == "trigger"
    assert wf.resources["dv-image"].definition["tag"] == "latest"
    assert wf.jobs["dv-test"].not_runnable
    assert [i.name for i in wf.jobs["infra-provision"].inputs] == ["infra-repo"]


def test_edge_job_level_runtime_and_task_image_options() -> None:
    folder = "Riturajcse__sample_pipelines@cfa713e"
    assert messages(folder) == []
    (job,) = load_folder(folder).jobs.values()
    assert job.node_pool


def test_edge_buildami_nested_file_uses_root_templates() -> None:
    folder = "Shippable__buildami"
    wf = load_folder(folder)
    assert not wf.fatal and len(wf.jobs) == 53
    assert not [m for m in messages(folder) if "alias" in m]
    scripts = [line for j in wf.jobs.values() for t in j.tasks for line in t.script]
    assert any("sudo docker build -t=$IMG_NAME:$REL_VER --pull ." in s for s in scripts)
    unresolved = {p.message.split("'")[1] for p in wf.errors if p.message.startswith("unresolved")}
    assert {"drydock_release", "rc_slack", "cexec_file_pack", "baseami_params"} <= unresolved


@pytest.mark.parametrize("folder", ["Ramesh-R05__cci-now-site", "sanster23__aws-shippable-devops"])
def test_anchors_in_a_separate_templates_file(folder: str) -> None:
    assert messages(folder) == []


def test_edge_resources_file_in_nested_directory() -> None:
    wf = load_folder("SoftSrv__flavors")
    assert wf.resources["minecraft_img_1.12.2"].location.path == (
        "minecraft/versions/1.12.2/shippable.resources.yml"
    )


def test_edge_inputs_defined_in_another_repo() -> None:
    assert messages("SoftSrv__waffle-cone", "error") == [
        "shippable.jobs.yml:62:9: error: unresolved input 'minecraft_img_1.11.2' of job 'pack': no resource or job has this name",
        "shippable.jobs.yml:64:9: error: unresolved input 'minecraft_img_1.12' of job 'pack': no resource or job has this name",
        "shippable.jobs.yml:66:9: error: unresolved input 'minecraft_img_1.12.2' of job 'pack': no resource or job has this name",
    ]
    assert set(load_folder("SoftSrv__waffle-cone").inconsistent) == {"pack", "provision", "destroy"}


def test_edge_two_top_level_jobs_keys() -> None:
    folder = "ambarish2012__cd_ecs_fargate_awscli"
    assert messages(folder, "warning") == [
        "shippable.yml:67:1: warning: duplicate key 'jobs': the value at line 15 is ignored (the last one wins) (its entries deploy_app_ecs_fargate_deployment_strategy_replace are ignored)"
    ]
    assert list(load_folder(folder).jobs) == ["deploy_app_ecs_fargate_deployment_strategy_update"]


def test_edge_jenkins_job_with_job_level_integration() -> None:
    folder = "ambarish2012__demo-app"
    assert messages(folder) == []
    jenkins = [j for j in load_folder(folder).jobs.values() if j.type == "jenkinsJob"]
    assert len(jenkins) == 1 and "not runnable here" in jenkins[0].not_runnable


def test_edge_every_job_commented_out() -> None:
    assert messages("avinci__prod") == ["shippable.jobs.yml:1:1: warning: 'jobs:' is empty"]


def test_edge_placeholder_resources_file() -> None:
    assert messages("devops-recipes__e2eShippableDemo") == [
        # a lower-case job-level `notify:` list is no Assembly Line syntax: Shippable ignored it too
        "shippable.jobs.yml:85:5: warning: unknown key 'notify' of job 'e2eshipdemo-release-ecs-prod'; it is ignored",
        "tests/shippable.resources.yml:1:1: warning: 'resources:' is empty",
    ]


def test_edge_jfrog_pipelines_file() -> None:
    folder = "devops-recipes__node_app_jfrog"
    assert messages(folder) == [
        "shippable.yml:12:1: warning: this is JFrog Pipelines format (top-level 'pipelines:'), not an Assembly Line; the file is not loaded"
    ]
    assert not load_folder(folder).fatal


def test_edge_templates_key_in_the_same_nested_file() -> None:
    folder = "devops-recipes__prov_aws_rds_terraform"
    assert messages(folder) == [
        "mysql/shippable.yml:31:9: error: unresolved input 'aws_vpc_tf_info' of job 'prov_aws_rds_mysql_tf': no resource or job has this name"
    ]


def test_edge_commented_out_input_leaves_duplicate_switch() -> None:
    folder = "ric03uec__pipeline"
    assert messages(folder, "warning") == [
        "shippable.jobs.yml:70:9: warning: duplicate key 'switch': the value at line 68 is ignored (the last one wins)",
        "shippable.jobs.yml:110:9: warning: duplicate key 'switch': the value at line 108 is ignored (the last one wins)",
        "shippable.jobs.yml:132:9: warning: duplicate key 'switch': the value at line 130 is ignored (the last one wins)",
    ]
    # state_infra is defined in no file here: not a cycle, but unresolved
    assert not [m for m in messages(folder) if "cycle" in m]

"""runenv: the env vars and folder layout a job sees, from a hand-built RunSpec."""

from __future__ import annotations

import json

import pytest

from controller.core import model, runenv
from controller.core.runspec import InputSpec, OutputSpec, RunSpec

LOC = model.Location("shippable.jobs.yml", 1, 1)
WD = "/work/build/7"


def make_spec(**kw) -> RunSpec:
    job = model.Job(
        "deploy-app",
        "runSh",
        LOC,
        tasks=(model.Task("go", ("true",), (("REGION", "eu-west-1"),)),),
    )
    run = model.Run(
        "deploy-app",
        7,
        "running",
        model.Cause("input", "app_img version 3", commit="abc123"),
        params=kw.pop("params", {}),
    )
    inputs = (
        InputSpec(
            "app_img",
            "resource",
            "image",
            model.Version("app_img", 3, "1.4.2", {"sourceName": "acme/app"}),
        ),
        InputSpec(
            "app-repo",
            "resource",
            "gitRepo",
            model.Version(
                "app-repo", 5, "deadbeef", {"commit": "deadbeef", "branch": "main"}
            ),
            files={"README.md": b"hi"},
        ),
        InputSpec(
            "prod_params",
            "resource",
            "params",
            model.Version(
                "prod_params", 2, "", {"params": {"DB_HOST": "db1", "secure": "ENC..."}}
            ),
        ),
        InputSpec(
            "build_img",
            "job",
            "runSh",
            model.Version("build_img", 12),
            files={"build_img.env": b"IMAGE_TAG=9\n", "out.txt": b"x"},
        ),
    )
    outputs = (
        OutputSpec("tf_state", "state", model.Version("tf_state", 4, "", {"k": "v"})),
        OutputSpec("new_ver", "version", None),
    )
    return RunSpec(
        run,
        job,
        inputs=kw.pop("inputs", inputs),
        outputs=kw.pop("outputs", outputs),
        previous_state={"terraform.tfstate": b"{}"},
        secrets=kw.pop("secrets", {}),
    )


def test_job_variables() -> None:
    env = runenv.job_env(make_spec(), WD)
    assert env["JOB_NAME"] == "deploy-app"
    assert env["JOB_TYPE"] == "runSh"
    assert env["BUILD_NUMBER"] == env["RUN_NUMBER"] == "7"
    assert env["BUILD_ID"] == "deploy-app-7"
    assert env["JOB_PATH"] == WD
    assert env["JOB_STATE"] == f"{WD}/state"
    assert env["JOB_PREVIOUS_STATE"] == f"{WD}/previousState"
    assert env["SHARED_DIR"] == f"{WD}/shared"
    assert env["JOB_TRIGGERED_BY_NAME"] == "app_img"  # first word names an input
    assert env["JOB_TRIGGERED_BY_ID"] == "abc123"


def test_resource_variables() -> None:
    env = runenv.job_env(make_spec(), WD)
    assert env["APP_IMG_NAME"] == "app_img"
    assert env["APP_IMG_TYPE"] == "image"
    assert env["APP_IMG_PATH"] == f"{WD}/IN/app_img"
    assert env["APP_IMG_STATE"] == f"{WD}/IN/app_img/state"
    assert env["APP_IMG_VERSIONNUMBER"] == "3"
    assert env["APP_IMG_VERSIONNAME"] == "1.4.2"
    assert env["APP_IMG_VERSIONID"] == "3"
    assert env["APP_IMG_SOURCENAME"] == "acme/app"
    # gitRepo: prefix from a dashed name; the checkout folder is its state
    assert env["APP_REPO_COMMIT"] == "deadbeef"
    assert env["APP_REPO_BRANCH"] == "main"
    assert env["APP_REPO_STATE"] == f"{WD}/IN/app-repo/gitRepo"
    # outputs
    assert env["TF_STATE_PATH"] == f"{WD}/OUT/tf_state"
    assert env["TF_STATE_STATE"] == f"{WD}/OUT/tf_state/state"
    assert env["TF_STATE_K"] == "v"
    assert env["NEW_VER_VERSIONNUMBER"] == "0"


def test_params_exported_plain_and_prefixed_without_secure() -> None:
    env = runenv.job_env(make_spec(), WD)
    assert env["DB_HOST"] == "db1"
    assert env["PROD_PARAMS_PARAMS_DB_HOST"] == "db1"
    assert "secure" not in env
    assert not any("ENC..." in v for v in env.values())


def test_job_input_env_file_values() -> None:
    env = runenv.job_env(make_spec(), WD)
    assert env["BUILD_IMG_IMAGE_TAG"] == "9"
    assert env["BUILD_IMG_VERSIONNUMBER"] == "12"


def test_trigger_params_win_and_task_env() -> None:
    spec = make_spec(params={"DB_HOST": "override", "JOB_NAME": "x", "LD_PRELOAD": "/x.so"})
    env = runenv.job_env(spec, WD)
    assert env["DB_HOST"] == "override"
    assert env["JOB_NAME"] == "deploy-app"  # refused names never reach the job
    assert "LD_PRELOAD" not in env
    tenv = runenv.task_env(env, spec.job.tasks[0])
    assert tenv["REGION"] == "eu-west-1"
    assert "REGION" not in env


def test_layout() -> None:
    entries = dict(runenv.layout(make_spec()))
    for folder in ("IN/", "OUT/", "state/", "previousState/", "shared/",
                   "IN/app-repo/gitRepo/", "OUT/tf_state/state/", "IN/build_img/state/"):
        assert folder in entries
    assert entries["IN/app-repo/gitRepo/README.md"] == b"hi"
    assert entries["IN/build_img/state/out.txt"] == b"x"
    assert entries["previousState/terraform.tfstate"] == b"{}"
    record = json.loads(entries["IN/app_img/version.json"])
    assert record["versionName"] == "1.4.2"
    assert record["values"]["sourceName"] == "acme/app"
    assert b"sourceName=acme/app" in entries["IN/app_img/version.env"]
    out = json.loads(entries["OUT/tf_state/version.json"])
    assert out["versionNumber"] == 4 and "replace" not in out


@pytest.mark.parametrize("bad", ["../x", "a/b", "..", ""])
def test_unsafe_names_raise(bad: str) -> None:
    inputs = (InputSpec(bad, "resource", "state", None),)
    with pytest.raises(runenv.UnsafeNameError):
        runenv.layout(make_spec(inputs=inputs))
    with pytest.raises(runenv.UnsafeNameError):
        runenv.job_env(make_spec(inputs=inputs), WD)


@pytest.mark.parametrize("bad", ["../escape", "/etc/passwd", "a/../../b", "a//b"])
def test_unsafe_file_paths_raise(bad: str) -> None:
    inputs = (InputSpec("s", "resource", "state", None, files={bad: b"x"}),)
    with pytest.raises(runenv.UnsafeNameError):
        runenv.layout(make_spec(inputs=inputs))


@pytest.mark.parametrize(("name", "prefixes"), [
    ("my-key-1", ("MY_KEY_1", "MYKEY1")),  # Gitline's, and the documented one
    ("my_key_1", ("MY_KEY_1",)),
    ("1st-img", ("STIMG",)),  # leading digits removed: 1ST_IMG is no shell name
    ("Slack (DevTac)", ("SLACK__DEVTAC_", "SLACKDEVTAC")),
])
def test_env_prefixes_follow_the_documented_rule_and_keep_gitlines(name, prefixes):
    assert model.env_prefixes(name) == prefixes


def _one_input(name: str, type_: str, values: dict, definition: dict | None = None) -> RunSpec:
    job = model.Job("j", "runSh", LOC)
    run = model.Run("j", 1, "running", model.Cause("input", "x"))
    inputs = (
        InputSpec("cfg", "resource", "params", model.Version("cfg", 1, "",
                  {"params": {"NAMESPACE": "prod-ns"}})),
        InputSpec(name, "resource", type_, model.Version(name, 2, "", values),
                  definition=definition or {}),
    )
    return RunSpec(run=run, job=job, inputs=inputs)


def test_every_exported_name_is_a_shell_name_under_both_prefixes():
    env = runenv.job_env(_one_input("1-my-cluster", "cluster", {"region": "eu"}), WD)
    assert env["MYCLUSTER_REGION"] == "eu" and env["MYCLUSTER_VERSIONNUMBER"] == "2"
    assert all(runenv.ENV_NAME.fullmatch(k) for k in env), [k for k in env
                                                            if not runenv.ENV_NAME.fullmatch(k)]
    env = runenv.job_env(_one_input("my-cluster", "cluster", {"region": "eu"}), WD)
    assert env["MY_CLUSTER_REGION"] == env["MYCLUSTER_REGION"] == "eu"


def test_placeholders_in_a_resource_are_filled_from_the_jobs_environment():
    spec = _one_input("kube", "cluster", {"namespace": "${NAMESPACE}", "zone": "${NOPE}"})
    env = runenv.job_env(spec, WD)
    assert env["KUBE_NAMESPACE"] == "prod-ns"
    assert env["KUBE_ZONE"] == "${NOPE}"  # not in the job's environment: as written


def test_a_key_value_integration_taken_as_in_exports_its_keys_as_is():
    fields = {"username": "ada", "PATH": "/evil", "JOB_NAME": "x", "bad-name": "y"}
    env = runenv.integration_env("my-creds", fields, as_is=True)
    assert env["username"] == "ada"
    assert env["MY_CREDS_INTEGRATION_USERNAME"] == env["MYCREDS_INTEGRATION_USERNAME"] == "ada"
    assert "PATH" not in env and "JOB_NAME" not in env and "bad-name" not in env
    assert "username" not in runenv.integration_env("my-creds", fields, as_is=False)

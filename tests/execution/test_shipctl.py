"""shipctl, driven by real job scripts through the workspace wrapper on PATH."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from controller.core import model, versions
from controller.core.runspec import (
    InputSpec,
    Outcome,
    OutputSpec,
    OutputUpdate,
    RunSpec,
)
from controller.execution import shipctl, workspace
from controller.execution.run import execute
from controller.execution.shipctl import files

LOC = model.Location("shippable.jobs.yml", 1, 1)


def make_spec(*lines: str, **kw) -> RunSpec:
    job = model.Job(
        kw.pop("job_name", "rel"), "runSh", LOC, tasks=(model.Task("main", tuple(lines)),)
    )
    run = model.Run(job.name, kw.pop("number", 1), "running", model.Cause("manual", "test"),
                    params=kw.pop("params", {}))
    inputs = (
        InputSpec("app_img", "resource", "image",
                  model.Version("app_img", 3, "1.4.2", {"sourceName": "acme/app",
                                                        "shaData": {"commitSha": "c0ffee"}})),
        InputSpec("cfg", "resource", "params",
                  model.Version("cfg", 1, "", {"params": {"REPLICAS": "3"}})),
        InputSpec("shared_state", "resource", "state", model.Version("shared_state", 2),
                  files={"inventory.txt": b"hosts\n"}),
        InputSpec("aws_creds", "resource", "integration", model.Version("aws_creds", 1),
                  definition={"region": "eu-west-1"}),
        InputSpec("upstream", "job", "runSh", model.Version("upstream", 4),
                  files={"upstream.env": b"IMAGE_TAG=77\n"}),
    )
    outputs = (
        OutputSpec("rel_ver", "version", model.Version("rel_ver", 5, "1.0.0", {"a": "1"})),
        OutputSpec("tf_state", "state", model.Version("tf_state", 2),
                   files={"old.tfstate": b"old"}),
    )
    return RunSpec(run, job, inputs=kw.pop("inputs", inputs), outputs=outputs,
                   previous_state=kw.pop("previous_state", {}), secrets=kw.pop("secrets", {}))


def run(tmp_path: Path, *lines: str, **kw) -> Outcome:
    outcome = execute(make_spec(*lines, **kw), tmp_path / "work")
    assert outcome.status == "succeeded", outcome.log
    return outcome


def update(outcome: Outcome, name: str):
    return next(u for u in outcome.outputs if u.resource == name)


@pytest.mark.parametrize(
    ("version", "action", "expected"),
    [
        ("5.1.2", "major", "6.0.0"),
        ("5.1.2", "minor", "5.2.0"),
        ("5.1.2", "patch", "5.1.3"),
        ("v5.1.2", "major", "v6.0.0"),
        ("v5.1.2", "minor", "v5.2.0"),
        ("v5.1.2", "patch", "v5.1.3"),
        ("v5.1.2", "rc", "v5.1.2-rc"),
        ("v5.1.2-rc", "rc", "v5.1.2-rc.1"),
        ("v5.1.2-rc.1", "rc", "v5.1.2-rc.2"),
        ("v5.1.2-rc.3", "final", "v5.1.2"),
        ("v5.1.2-rc.3", "alpha", "v5.1.2-alpha"),
        ("v1.1.1-rc.2.beta.2", "beta", "v1.1.1-beta.3"),
        ("v1.1.1-beta.2.rc.2", "beta", "v1.1.1-beta.3"),
    ],
)
def test_bump_version_table(version: str, action: str, expected: str) -> None:
    assert versions.bump_version(version, action) == expected


@pytest.mark.parametrize(("version", "action"), [("5.x.2", "minor"), ("5.1.2", "huge")])
def test_bump_version_rejects(
    version: str, action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(versions.BumpError):
        versions.bump_version(version, action)
    assert shipctl.main(["bump_version", version, action]) == 99  # Shippable's usage code
    assert "error: Invalid" in capsys.readouterr().err


def test_reading_commands_in_a_job(tmp_path: Path) -> None:
    outcome = run(
        tmp_path,
        'echo "tag=$(shipctl get_resource_version_name app_img)"',
        'echo "num=$(shipctl get_resource_version_number app_img)"',
        'echo "src=$(shipctl get_resource_version_key app_img sourceName)"',
        'echo "sha=$(shipctl get_resource_version_key app_img shaData.commitSha)"',
        'echo "type=$(shipctl get_resource_type app_img)"',
        'echo "up=$(shipctl get_resource_name app_img)"',
        'echo "meta=$(shipctl get_resource_meta $(shipctl get_resource_name app_img))"',
        'echo "rep=$(shipctl get_params_resource cfg REPLICAS)"',
        'echo "state=$(shipctl get_resource_state shared_state)"',
        'echo "outstate=$(shipctl get_resource_state tf_state)"',
        'echo "upkey=$(shipctl get_resource_version_key upstream IMAGE_TAG)"',
        'echo "bump=$(shipctl bump_version v5.1.2 rc)"',
        'cat "$(shipctl get_resource_state shared_state)/inventory.txt"',
        'echo "region=$(shipctl get_integration_resource_field aws_creds region)"',
        'echo "key=$(shipctl get_integration_resource_field aws_creds accessKey)"',
    )
    wd = tmp_path / "work" / "rel" / "1"
    for expected in (
        "tag=1.4.2", "num=3", "src=acme/app", "sha=c0ffee", "type=image", "up=APP_IMG",
        f"meta={wd}/IN/app_img", "rep=3", f"state={wd}/IN/shared_state/state",
        f"outstate={wd}/OUT/tf_state/state", "upkey=77", "bump=v5.1.2-rc", "hosts",
        "region=eu-west-1", "key=\n",
    ):
        assert expected in outcome.log


def test_integration_field_from_secret_env(tmp_path: Path) -> None:
    outcome = run(
        tmp_path,
        'test "$(shipctl get_integration_resource_field aws_creds accessKey)" = AKIA123',
        secrets={"GITLINE_INTEGRATION_AWS_CREDS_ACCESSKEY": "AKIA123"},
    )
    assert "AKIA123" not in outcome.log


def test_post_replaces_values(tmp_path: Path) -> None:
    outcome = run(tmp_path, "shipctl post_resource_state rel_ver FE_TAG 42")
    up = update(outcome, "rel_ver")
    assert up.values == {"FE_TAG": "42"}
    assert up.replace is True
    assert up.files is None


def test_put_adds_and_version_name(tmp_path: Path) -> None:
    outcome = run(
        tmp_path,
        "shipctl put_resource_state rel_ver versionName 1.1.0",
        'shipctl put_resource_state_multi rel_ver "A=1" "B=two words" "C=x=y"',
        'test "$(shipctl get_resource_version_key rel_ver B)" = "two words"',
        'test "$(shipctl get_resource_version_key rel_ver a)" = 1',  # put keeps current
        'test "$(shipctl get_resource_version_name rel_ver)" = 1.1.0',
    )
    up = update(outcome, "rel_ver")
    assert up.replace is False
    assert up.values == {"A": "1", "B": "two words", "C": "x=y"}
    assert up.version_name == "1.1.0"


def test_post_multi_then_put_keeps_replace(tmp_path: Path) -> None:
    outcome = run(
        tmp_path,
        "shipctl put_resource_state rel_ver OLD 1",
        'shipctl post_resource_state_multi rel_ver "X=1" "Y=2"',
        "shipctl put_resource_state rel_ver Z 3",
    )
    up = update(outcome, "rel_ver")
    assert up.replace is True
    assert up.values == {"X": "1", "Y": "2", "Z": "3"}


def test_no_write_no_update(tmp_path: Path) -> None:
    outcome = run(tmp_path, "shipctl get_resource_state tf_state >/dev/null",
                  'cat "$(shipctl get_resource_state tf_state)/old.tfstate"')
    assert outcome.status == "succeeded"  # a failed run publishes nothing either
    assert "old" in outcome.log.splitlines()  # it read the state tf_state had
    assert outcome.outputs == ()  # and, writing nothing, gave tf_state no new version


def test_write_to_non_output_fails(tmp_path: Path) -> None:
    outcome = execute(make_spec("shipctl post_resource_state app_img K V"), tmp_path / "w")
    assert outcome.status == "failed"
    assert "not an OUT" in outcome.log


def test_job_own_values_go_to_job_state(tmp_path: Path) -> None:
    outcome = run(tmp_path, 'shipctl put_resource_state_multi "$JOB_NAME" "IMAGE=x" "TAG=9"')
    assert outcome.state_files["rel.env"] == b"IMAGE=x\nTAG=9\n"


def test_copy_file_to_state_and_prev_state(tmp_path: Path) -> None:
    outcome = run(
        tmp_path,
        "echo fresh > plan.out",
        "shipctl copy_file_to_state plan.out",
        "shipctl copy_file_from_prev_state terraform.tfstate ./restored",
        "shipctl copy_file_from_prev_state missing.txt ./nothing",
        "test -f restored && test ! -e nothing",
        "cp restored \"$JOB_STATE/terraform.tfstate\"",
        "echo again > again.txt && shipctl refresh_file_to_state again.txt",
        previous_state={"terraform.tfstate": b"serial=3"},
    )
    assert outcome.state_files == {
        "plan.out": b"fresh\n",
        "terraform.tfstate": b"serial=3",
        "again.txt": b"again\n",
    }


def test_copy_file_to_and_from_resource_state(tmp_path: Path) -> None:
    outcome = run(
        tmp_path,
        "echo new > new.tfstate",
        "shipctl copy_file_to_resource_state new.tfstate tf_state",
        "shipctl copy_file_from_resource_state shared_state inventory.txt ./inv",
        "grep -q hosts inv",
    )
    up = update(outcome, "tf_state")
    assert up.files == {"old.tfstate": b"old", "new.tfstate": b"new\n"}
    assert up.values == {} and up.replace is False


def test_replace_fills_variables(tmp_path: Path) -> None:
    outcome = run(
        tmp_path,
        "printf '%s\\n' 'image: ${APP_IMG_SOURCENAME}:$APP_IMG_VERSIONNAME' "
        "'keep: ${NOT_SET_ANYWHERE} $$ $1' > spec.yml",
        "shipctl replace spec.yml",
        "cat spec.yml",
        "cp spec.yml \"$JOB_STATE/\"",
    )
    assert outcome.state_files["spec.yml"] == (
        b"image: acme/app:1.4.2\nkeep: ${NOT_SET_ANYWHERE} $$ $1\n"
    )


def test_substitute_unit() -> None:
    env = {"A": "1", "B_2": "two"}
    assert files.substitute("${A}-$B_2-$C-${D}", env) == "1-two-$C-${D}"


def test_notify_recorded(tmp_path: Path) -> None:
    outcome = run(tmp_path, 'shipctl notify ops_slack --text="deployed"')
    assert outcome.notifications == ('shipctl: NOTIFY ops_slack --text=deployed',)


def test_unknown_command_exits_1(tmp_path: Path) -> None:
    outcome = execute(make_spec("shipctl frobnicate x"), tmp_path / "w")
    assert outcome.status == "failed"
    assert outcome.exit_code == 1
    assert "unknown command: frobnicate" in outcome.log


def test_retry_until_success(tmp_path: Path) -> None:
    outcome = run(
        tmp_path,
        "shipctl retry sh -c 'echo x >> tries; test $(wc -l < tries) -ge 2'",
        "test $(wc -l < tries) -eq 2",
        params={"GITLINE_RETRY_SLEEP": "0.01"},
    )
    assert "retrying (1/3" in outcome.log


def test_collect_refuses_symlink_outside(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    outcome = run(
        tmp_path,
        f"ln -s {secret} \"$JOB_STATE/leak.txt\"",
        "echo ok > inside.txt && ln -s \"$PWD/inside.txt\" \"$JOB_STATE/link.txt\"",
        f"ln -s {tmp_path} \"$(shipctl get_resource_state tf_state)/dir\"",
    )
    assert "leak.txt" not in outcome.state_files
    assert "link.txt" not in outcome.state_files  # symlinks never leave, even inside ones
    assert "refused leak.txt: it is a symlink" in outcome.log
    assert "refused link.txt: it is a symlink" in outcome.log


def test_collect_refuses_output_folder_symlinked_out(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "state").mkdir(parents=True)
    (elsewhere / "state" / "x").write_text("outside")
    (elsewhere / "version.json").write_text('{"replace": true, "values": {"k": "v"}}')
    outcome = run(tmp_path, f'rm -rf OUT/tf_state && ln -s {elsewhere} OUT/tf_state')
    assert outcome.outputs == ()
    assert "ignored output tf_state" in outcome.message


def test_collect_reports_deleted_state_files(tmp_path: Path) -> None:
    outcome = run(tmp_path, 'rm "$(shipctl get_resource_state tf_state)/old.tfstate"')
    assert outcome.outputs == (
        OutputUpdate("tf_state", {}, replace=False, version_name="", files={}),
    )


def test_collect_skips_big_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workspace, "MAX_FILE_BYTES", 10)
    outcome = run(tmp_path, 'head -c 100 /dev/zero > "$JOB_STATE/big"', 'echo s > "$JOB_STATE/s"')
    assert outcome.state_files == {"s": b"s\n"}
    assert "skipped big" in outcome.message


def test_wrapper_is_executable(tmp_path: Path) -> None:
    spec = make_spec("true")
    wd = workspace.prepare(spec, tmp_path)
    wrapper = wd / workspace.BIN_DIR / "shipctl"
    assert os.access(wrapper, os.X_OK)
    assert (wd / "IN" / "shared_state" / "state" / "inventory.txt").read_bytes() == b"hosts\n"
    assert (wd / "OUT" / "tf_state" / "state" / "old.tfstate").read_bytes() == b"old"
    assert (wd / "IN" / "app_img" / "version.env").read_text().startswith("sourceName=")


def test_gitrepo_state_is_the_checkout(tmp_path: Path) -> None:
    repo = InputSpec("app_repo", "resource", "gitRepo",
                     model.Version("app_repo", 2, "abc1234", {"commit": "abc1234"}),
                     files={"deploy.sh": b"echo deploying\n"},
                     executable=frozenset({"deploy.sh"}))
    outcome = run(
        tmp_path,
        "./IN/app_repo/gitRepo/deploy.sh",
        'cd "$(shipctl get_resource_state app_repo)" && sh deploy.sh',
        'echo "commit=$(shipctl get_resource_env app_repo commit)"',
        'shipctl copy_file_from_resource_state app_repo deploy.sh ./copy.sh && test -f copy.sh',
        inputs=(repo,),
    )
    assert "deploying" in outcome.log
    assert "commit=abc1234" in outcome.log


@pytest.mark.parametrize("key", ["$'K\\n'", "'a/b'", "'-x'", "''"])
def test_a_key_that_cannot_be_recorded_is_refused_and_fails_the_step(tmp_path: Path,
                                                                     key: str) -> None:
    outcome = execute(make_spec(f"shipctl put_resource_state rel_ver {key} v"),
                      tmp_path / "work")
    assert outcome.status == "failed"
    assert "rel_ver" not in {u.name for u in outcome.outputs}
    assert ("refused key" in outcome.log or "Usage: shipctl" in outcome.log), outcome.log

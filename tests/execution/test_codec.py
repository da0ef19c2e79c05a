"""The JSON codec of RunSpec and Outcome: every field round-trips, and nothing is pickle."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from controller.core import model
from controller.core.runspec import InputSpec, Outcome, OutputSpec, OutputUpdate, RunSpec
from controller.execution import codec

LOC = model.Location("ci/shippable.jobs.yml", 12, 5)
CAUSE = model.Cause("trigger", "triggers/deploy", "a" * 40, "Ada <ada@example.com>")
VERSION = model.Version(
    "app_img", 7, "1.4.2",
    values={"sha": "abc", "n": 3, "ratio": 0.5, "ok": True, "none": None,
            "nested": {"list": [1, "two", {"three": 3}]}, "blob": b"\x00\xffraw",
            "when": dt.date(2024, 3, 28), "at": dt.datetime(2024, 3, 28, 2, 0, tzinfo=dt.UTC),
            "pair": ("a", 1), "tags": frozenset({"x", "y"}), 7: "int key",
            "$tuple-lookalike": {"$tuple": [1, 2]}},
    created_by="build_img run 7", config_commit="b" * 40, author="Ada <ada@example.com>",
    digest="d1g", files={"state.txt": b"line\n", "bin/blob": bytes(range(256))})
CI_ROWS = (model.CiResult("1: PY=3.12", "failed (allowed)", 2, 1, 1, 81.25, 2,
                          "shippable/testresults/bomb.xml: refused (DTDForbidden)"),)
JOB = model.Job(
    "deploy", "runSh", LOC,
    inputs=(model.Input("app_img", LOC, switch=False, version_name="1.4.2", version_number=7,
                        show_build_status=True, apply_to=("TASK1",),
                        dependency_mode="immediate"),),
    outputs=(model.Output("app_img", LOC, replicate="other", overwrite=True,
                          on_failure=True),),
    tasks=(model.Task("build", ("echo 1", "echo 2"), (("A", "1"), ("B", "two"))),),
    hooks={"on_success": model.Hook(("echo ok",), (model.Notify("slack", True),)),
           "always": model.Hook(("echo always",))},
    trigger_mode="parallel", dependency_mode="strict", priority=3, timeout_minutes=1.5,
    retries=2, flags=("prod",), node_pool="gpu", not_runnable="no cloud here",
    approval=model.Approval(("ada@example.com",), 60.0), bump="minor",
    integrations=("deploy_kv",),
    ci=model.CiPlan("app_ciRepo", (("ci", ("make test",)), ("always", ("echo done",))),
                    (model.CiRow("1: PY=3.12", ("A=1", "PY=3.12"), allow_failure=True),),
                    ("main", "release/*"), ("wip/*",)))
RUN = model.Run(
    "deploy", 4, "running", CAUSE,
    inputs=(model.InputVersion("app_img", "resource", 7, "1.4.2"),
            model.InputVersion("build_img", "job", 9)),
    params={"REASON": "hotfix"}, config_commit="c" * 40, queued_at="2024-03-28T02:00:00Z",
    started_at="2024-03-28T02:00:01Z", finished_at="2024-03-28T02:00:02Z", exit_code=3,
    attempt=2, message="retrying", notifications=("on_success: NOTIFY slack",),
    worker="w1@builder-3", ci=CI_ROWS,
    baseline=(model.InputVersion("app_img", "resource", 6, "1.4.1"),))
SPEC = RunSpec(
    RUN, JOB,
    inputs=(InputSpec("app_img", "resource", "image", VERSION, {"sourceName": "app", "n": 1},
                      {"f.txt": b"x"}, frozenset({"run.sh", "bin/go"})),
            InputSpec("build_img", "job", "runSh", None)),
    outputs=(OutputSpec("app_img", "image", VERSION, {"sourceName": "app"}, {"s": b"\x01"},
                        replicate="build_img", overwrite=True),),
    previous_state={"prev.json": b'{"a": 1}'}, secrets={"TOKEN": "s3cret"},
    cli_configs={"aws_cli": {"accessKey": "AKIA", "secretKey": "s3cret"}},
    env={"GITLINE_DEMO_ROOT": "/tmp/x"}, cancel_reason="approval rejected", log_limit=1234)
OUTCOME = Outcome(
    "failed", 2, "log \u00e9\u00e0 \U0001f680\n", "2024-03-28T02:00:01Z", "2024-03-28T02:00:05Z",
    log_truncated=True,
    outputs=(OutputUpdate("app_img", {"versionName": "1.4.3", "n": 1}, replace=False,
                          version_name="1.4.3", files={"a": b"\x00"}),
             OutputUpdate("other", {})),
    state_files={"out.bin": b"\x00\x01\x02"}, notifications=("always: NOTIFY slack",),
    message="TASK build failed with exit code 2", worker="w1@builder-3", attempt=2,
    ci=CI_ROWS)


def _fields_set(value: object, path: str, seen: dict[str, bool]) -> dict[str, bool]:
    """path -> whether any dataclass in `value` holds a non-default value there."""
    for f in dataclasses.fields(value):
        got = getattr(value, f.name)
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else object())
        seen[path + f.name] = seen.get(path + f.name, False) or got != default
        items = got if isinstance(got, tuple) else got.values() if isinstance(got, dict) else [got]
        for item in items:
            if dataclasses.is_dataclass(item):
                _fields_set(item, f"{path}{f.name}.", seen)
    return seen


def test_the_samples_set_every_field():
    # a new field left out of these samples would go untested: fill it in above
    for sample in (SPEC, OUTCOME):
        assert [p for p, isset in _fields_set(sample, "", {}).items() if not isset] == []


@pytest.mark.parametrize("spec", [SPEC, RunSpec(RUN, JOB), RunSpec(
    model.Run("j", 1, "queued", model.Cause("manual", "")), model.Job("j", "runSh", LOC))],
    ids=["every-field", "no-inputs", "minimal"])
def test_spec_round_trip(spec):
    text = codec.spec_to_json(spec)
    back = codec.spec_from_json(text)
    assert back == spec
    assert codec.spec_to_json(back) == text


def test_outcome_round_trip():
    text = codec.outcome_to_json(OUTCOME)
    assert codec.outcome_from_json(text) == OUTCOME
    assert codec.outcome_from_json(text.encode()) == OUTCOME


def test_types_come_back_as_declared():
    back = codec.spec_from_json(codec.spec_to_json(SPEC))
    assert isinstance(back.inputs, tuple) and isinstance(back.inputs[0].executable, frozenset)
    assert back.job.tasks[0].env == (("A", "1"), ("B", "two"))
    assert isinstance(back.job.tasks[0].env[0], tuple)
    assert type(back.job.hooks["on_success"]) is model.Hook
    assert back.inputs[0].version.files["bin/blob"] == bytes(range(256))
    assert back.outputs[0].current.number == 7  # a version nested in an output
    values = back.inputs[0].version.values
    assert values["blob"] == b"\x00\xffraw" and values["pair"] == ("a", 1)
    assert isinstance(values["pair"], tuple) and values["tags"] == frozenset({"x", "y"})
    assert values[7] == "int key" and values["when"] == dt.date(2024, 3, 28)
    assert values["$tuple-lookalike"] == {"$tuple": [1, 2]}  # a user's dict, not a tag
    assert back.job.timeout_minutes == 1.5 and back.job.approval.timeout_minutes == 60.0


def test_it_is_plain_json_that_names_what_it_holds():
    data = json.loads(codec.spec_to_json(SPEC))
    assert data["gitline"] == "RunSpec" and data["format"] == codec.FORMAT
    assert data["data"]["previous_state"] == {"prev.json": "eyJhIjogMX0="}  # base64
    assert data["data"]["job"]["tasks"][0]["script"] == ["echo 1", "echo 2"]


def test_unknown_fields_are_ignored_and_missing_ones_take_defaults():
    data = json.loads(codec.outcome_to_json(OUTCOME))
    data["data"]["from_a_newer_worker"] = 1
    del data["data"]["notifications"]
    back = codec.outcome_from_json(json.dumps(data))
    assert back.notifications == () and back.log == OUTCOME.log


@pytest.mark.parametrize("text, error", [
    ("not json", "not JSON"),
    ('{"gitline": "Outcome", "format": 1, "data": {}}', "not a serialized RunSpec"),
    ('{"gitline": "RunSpec", "format": 99, "data": {}}', "format 99"),
    ('{"gitline": "RunSpec", "format": 1, "data": {"run": 1}}', "bad RunSpec"),
    ('{"gitline": "RunSpec", "format": 1, "data": {"previous_state": {"a": "!!"}}}',
     "bad RunSpec"),
])
def test_bad_text_is_a_codec_error(text, error):
    with pytest.raises(codec.CodecError, match=error):
        codec.spec_from_json(text)


def test_pickle_is_never_involved():
    # a payload that unpickles to code is just an unknown string to this codec
    with pytest.raises(codec.CodecError):
        codec.spec_from_json(b"\x80\x04\x95cos\nsystem\n")

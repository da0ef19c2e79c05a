"""A name is a name, checked over many tricky candidates: every resource/job name the
loader accepts and every key shipctl accepts reads back from the state branch exactly as
it was written, in its own folder; every other candidate is refused with a message."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pygit2
import pytest

from controller.core import loader, model
from controller.execution import shipctl
from controller.execution.shipctl.workspace import read_record
from controller.store import yamlio
from controller.store.gitstate import GitStateStore

CAUSE = model.Cause("trigger", "triggers/x", "1a2b3c4d5e", "Ada <ada@example.com>")
WORDS = ["yes", "no", "on", "off", "y", "n", "true", "False", "null", "Null", "NULL", "~",
         "1e3", "0x10", "0o7", "010", "1_000", "-1", "+1", ".5", "1.", "inf", ".inf", ".nan",
         "2026-12-03", "12:30", "<<", "=", "!tag", "&a", "*a", "%x", "@x", "`x`", "|", ">"]
EDGES = ["a", "A", "_", "0", "r", "a.b", "a-b", "a_b", "a..b", "a.", "a-", "-a", ".a", ".",
         "..", "...", "a/b", "a\\b", "a b", " a", "a ", "a\t", "a:b", "a: b", "a#b", "a #b",
         "#a", "'a'", '"a"', "a'", 'a"', "a,b", "a[0]", "{a}", "a=b", "a$b", "$(id)", "a;b",
         "é", "名前", "a\u200b", "a\u00a0", "ａ", "\u212a", "a\ufeff", "",
         "a" * 200, "a" * 201, "a.lock", ".git", "HEAD", "-", "_" * 3]
CANDIDATES = sorted({*WORDS, *EDGES, *(f"r{c}" for c in ("\n", "\r", "\r\n", "\0", "\x01",
                                                         "\x1b", "\x7f", "\x85", "\u2028")),
                     *(f"\n{w}" for w in ("r", "")), "r\n\n", "r\nBASH_ENV"})


def workflow_for(name: str) -> str:
    """A resource and a job of that name (in two files: names are unique per workflow)."""
    quoted = json.dumps(name)  # a JSON string is a YAML double-quoted scalar
    return (f"resources:\n  - name: {quoted}\n    type: params\n"
            f"    versionTemplate:\n      params: {{A: \"1\"}}\n"
            f"jobs:\n  - name: {quoted}\n    type: runSh\n    steps:\n"
            f"      - TASK: {{script: [echo hi]}}\n")


def loaded(name: str) -> tuple[model.Workflow, model.Workflow]:
    text = workflow_for(name)
    res, job = text.split("jobs:")
    return (loader.load_text("shippable.yml", res),
            loader.load_text("shippable.yml", "\n" * 5 + "jobs:" + job))


def accepted_names() -> list[str]:
    return [n for n in CANDIDATES if n in loaded(n)[0].resources]


def test_every_candidate_is_either_loaded_or_refused_at_its_line():
    for name in CANDIDATES:
        res, job = loaded(name)
        got_res, got_job = name in res.resources, name in job.jobs
        assert got_res == got_job, name
        if got_res:
            assert model.is_safe_name(name), f"loader accepted unsafe {name!r}"
            continue
        for wf, line in ((res, 2), (job, 7)):
            errors = [p for p in wf.problems if p.severity == "error"]
            assert line in {p.location.line for p in errors}, (name, [str(p) for p in errors])
            assert all(p.message.strip() for p in errors)
    assert "r" in accepted_names() and "r\n" not in accepted_names()


@pytest.fixture
def store(tmp_path: Path) -> tuple[GitStateStore, pygit2.Repository]:
    path = tmp_path / "config.git"
    repo = pygit2.init_repository(str(path), bare=True, initial_head="main")
    return GitStateStore(path), repo


def folders(repo: pygit2.Repository, section: str) -> set[str]:
    tree = repo.revparse_single("refs/heads/state").tree
    return {e.name for e in tree[section]} if section in tree else set()


def test_accepted_names_read_back_in_their_own_folder(store):
    state, repo = store
    names = accepted_names()
    assert len(names) > 10
    for i, name in enumerate(names, start=1):
        state.append_version(model.Version(name, i, name=f"v{i}", values={"A": name}))
        state.record_run(model.Run(name, 1, "succeeded", CAUSE, params={"K": name}),
                         log=f"log of {name}\n")
    snap = state.read_snapshot()
    assert set(snap.versions) == set(names) == folders(repo, "resources")
    assert set(snap.jobs) == set(names) == folders(repo, "jobs")
    for i, name in enumerate(names, start=1):
        assert (snap.versions[name].resource, snap.versions[name].number) == (name, i)
        assert snap.versions[name].values == {"A": name}
        run = snap.jobs[name].last
        assert run is not None and (run.job, run.params) == (name, {"K": name})
        assert state.read_log(name) == f"log of {name}\n"
    # A fresh reader (no cached snapshot) sees the same.
    again = GitStateStore(repo.path).read_snapshot()
    assert again.versions == snap.versions and set(again.jobs) == set(snap.jobs)


VALUES = ["plain", "", " lead", "trail ", "two words", "x: y", "- a", "#c", "a #c", "tab\there",
          "true", "null", "~", "12", "1e3", "0x10", "a\nb", "a\n", "\n", "\r\n", "é名",
          "'q'", '"q"', "{a: 1}", "[1]", "|", ">", "a\x01b", "\x85", "\u2028", "x" * 5000]


@pytest.fixture
def job_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    job = tmp_path / "job"
    (job / "OUT" / "out").mkdir(parents=True)
    (job / "OUT" / "out" / "version.json").write_text("{}")
    monkeypatch.setenv("JOB_PATH", str(job))
    monkeypatch.setenv("JOB_NAME", "j")
    monkeypatch.setenv("JOB_STATE", str(job / "state"))
    return job


def test_shipctl_keys_it_accepts_read_back_from_the_state_branch(job_dir, store, capsys):
    state, _ = store
    accepted: dict[str, str] = {}
    filled = [v for v in VALUES if v]  # an empty argument is a usage error, as on Shippable
    for i, key in enumerate(CANDIDATES):
        value = filled[i % len(filled)]
        code = shipctl.main(["put_resource_state", "out", key, value])
        err = capsys.readouterr().err
        if code == 0:
            accepted[key] = value
        elif key:
            assert "refused key" in err and repr(key) in err, (key, err)
        else:  # an empty argument is a usage error
            assert "Usage: shipctl put_resource_state" in err
    for i, value in enumerate(filled):  # every value under a plain key
        assert shipctl.main(["put_resource_state", "out", f"V{i}", value]) == 0
        accepted[f"V{i}"] = value
    assert len(accepted) > 20 and "r\n" not in accepted
    record = read_record("out")
    assert record["values"] == accepted
    state.append_version(model.Version("out", 1, values=record["values"]))
    assert GitStateStore(os.fspath(state._repo.path)).read_snapshot().versions["out"].values \
        == accepted
    assert yamlio.load_mapping(yamlio.dump({"values": accepted})) == {"values": accepted}

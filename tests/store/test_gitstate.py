"""GitStateStore against a real bare repository, checked through the real git client."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from pathlib import Path

import pygit2
import pytest
from ruamel.yaml import YAML

from controller.core import model
from controller.store import reflock, yamlio
from controller.store.gitstate import GitStateStore

CONFIG_SHA = "3f2a" + "0" * 36
CAUSE = model.Cause("trigger", "triggers/deploy_prod", "1a2b3c4d5e", "Ada <ada@example.com>")


@pytest.fixture
def store(repo: Path) -> GitStateStore:
    return GitStateStore(repo)


def version(resource: str = "app_img", number: int = 1, **kw: object) -> model.Version:
    base = {
        "name": f"1.4.{number}",
        "values": {"tag": f"v{number}"},
        "created_by": "build_img run 7",
        "config_commit": CONFIG_SHA,
    }
    base.update(kw)
    return model.Version(resource, number, **base)  # type: ignore[arg-type]


def run(job: str = "deploy_prod", number: int = 1, status: str = "queued", **kw: object):
    return model.Run(job, number, status, CAUSE, config_commit=CONFIG_SHA, **kw)  # type: ignore[arg-type]


def safe_load(text: str) -> object:
    return YAML(typ="safe", pure=True).load(text)


# --- reading what was written, with git ----------------------------------------------


def test_empty_branch_gives_empty_snapshot(store: GitStateStore) -> None:
    snap = store.read_snapshot()
    assert snap == model.Snapshot()
    assert list(store.history("app_img")) == []
    assert store.read_log("deploy_prod") is None
    assert store.read_config_record() == {}
    assert store.read_files("resources/app_img/files") == {}


def test_version_commit_reads_well_in_git(store: GitStateStore, repo: Path, git) -> None:
    sha = store.append_version(version(number=12, name="1.4.2"))
    assert git.out("log", "--format=%s", "state", cwd=repo) == (
        "app_img: version 12 (1.4.2) from build_img run 7"
    )
    assert git.out("rev-parse", "state", cwd=repo) == sha
    body = git.out("log", "-1", "--format=%B", "state", cwd=repo)
    assert "\n\nGitline-Resource: app_img\nGitline-Version: 12\n" in body
    assert f"Gitline-Config: {CONFIG_SHA}" in body
    trailer = git.out(
        "log", "-1", "--format=%(trailers:key=Gitline-Cause,valueonly)", "state", cwd=repo
    )
    assert trailer == "build_img run 7"
    record = safe_load(git.out("show", "state:resources/app_img/version.yml", cwd=repo))
    assert record["versionNumber"] == 12
    assert record["versionName"] == "1.4.2"
    assert record["createdBy"] == "build_img run 7"
    assert record["configCommit"] == CONFIG_SHA
    assert record["values"] == {"tag": "v12"}
    assert git.out("log", "-1", "--format=%an <%ae>", "state", cwd=repo) == (
        "Gitline <gitline@localhost>"
    )


def test_version_without_name_or_cause_has_short_subject(store: GitStateStore, repo, git):
    store.append_version(model.Version("clock", 3))
    assert git.out("log", "--format=%s", "state", cwd=repo) == "clock: version 3"


def test_git_log_of_a_resource_lists_only_its_versions(store, repo, git) -> None:
    store.append_version(version("app_img", 1))
    store.append_version(version("other", 1))
    store.record_run(run())
    store.append_version(version("app_img", 2))
    subjects = git.out("log", "--format=%s", "state", "--", "resources/app_img", cwd=repo)
    assert subjects.splitlines() == [
        "app_img: version 2 (1.4.2) from build_img run 7",
        "app_img: version 1 (1.4.1) from build_img run 7",
    ]


def test_first_commit_is_a_root_commit_then_a_chain(store, repo, git) -> None:
    store.append_version(version(number=1))
    store.append_version(version(number=2))
    assert git.out("rev-list", "--count", "state", cwd=repo) == "2"
    assert git.out("rev-list", "--max-parents=0", "state", cwd=repo) == git.out(
        "rev-parse", "state~1", cwd=repo
    )


def test_files_replace_the_folder_whole(store: GitStateStore, repo: Path, git) -> None:
    store.append_version(version(files={"a.tfstate": b"one", "dir/b.txt": b"two"}))
    store.append_version(version(number=2, files={"dir/c.txt": b"three"}))
    assert store.read_files("resources/app_img/files") == {"dir/c.txt": b"three"}
    assert git.out("show", "state:resources/app_img/files/dir/c.txt", cwd=repo) == "three"
    # A version without files keeps the files of the previous one.
    store.append_version(version(number=3))
    assert store.read_files("resources/app_img/files") == {"dir/c.txt": b"three"}
    assert store.read_snapshot().versions["app_img"].files is None


def test_files_at_a_commit_are_that_commits_after_the_tip_moved_on(
        store: GitStateStore, repo: Path) -> None:
    """read_files keeps the tree of a commit it read at: a later tip, another store
    writing, a commit that is not one or does not exist each read as before."""
    first = pygit2.Oid(hex=store.append_version(version(files={"a.txt": b"one"})))
    assert store.read_files("resources/app_img/files", at=str(first)) == {"a.txt": b"one"}
    store.append_version(version(number=2, files={"a.txt": b"two"}))
    assert store.read_files("resources/app_img/files") == {"a.txt": b"two"}
    GitStateStore(repo).append_version(version(number=3, files={"a.txt": b"three"}))
    assert store.read_files("resources/app_img/files") == {"a.txt": b"three"}  # the tip's
    assert store.read_files("resources/app_img/files", at=str(first)) == {"a.txt": b"one"}
    assert store.read_files("resources/app_img/files", at="0" * 40) == {}
    tree = str(pygit2.Repository(str(repo)).get(first).tree_id)
    with pytest.raises(ValueError, match="not a commit"):
        store.read_files("resources/app_img/files", at=tree)


def test_untouched_subtrees_keep_their_oids(store: GitStateStore, repo: Path) -> None:
    store.append_version(version(files={f"f{i}": b"x" * i for i in range(50)}))
    pyrepo = pygit2.Repository(str(repo))
    before = pyrepo.revparse_single("state:resources").id
    store.record_run(run())
    assert pyrepo.revparse_single("state:resources").id == before


# --- runs ----------------------------------------------------------------------------


def test_run_lifecycle_active_appears_and_disappears(store: GitStateStore, repo, git) -> None:
    queued = run(number=3, queued_at="2024-05-01T10:00:00Z")
    store.record_run(queued)
    snap = store.read_snapshot()
    assert [r.number for r in snap.jobs["deploy_prod"].active] == [3]
    assert snap.jobs["deploy_prod"].last == queued
    assert git.out("show", "state:jobs/deploy_prod/active/3.yml", cwd=repo)

    started = dataclasses.replace(queued, status="running", started_at="2024-05-01T10:00:01Z")
    store.record_run(started)
    assert store.read_snapshot().jobs["deploy_prod"].active == (started,)

    done = dataclasses.replace(started, status="succeeded", exit_code=0)
    store.record_run(done, log="hello\n", state_files={"count": b"1"})
    history = store.read_snapshot().jobs["deploy_prod"]
    assert history.active == ()
    assert history.last == done
    assert history.last_succeeded == 3
    gone = git("cat-file", "-e", "state:jobs/deploy_prod/active/3.yml", cwd=repo, check=False)
    assert gone.returncode != 0
    assert "active" not in git.out("ls-tree", "--name-only", "state:jobs/deploy_prod", cwd=repo)
    assert git.out("show", "state:jobs/deploy_prod/log.txt", cwd=repo) == "hello"
    assert safe_load(git.out("show", "state:jobs/deploy_prod/job.yml", cwd=repo)) == {
        "lastRun": 3,
        "lastSucceeded": 3,
    }
    record = safe_load(git.out("show", "state:jobs/deploy_prod/run.yml", cwd=repo))
    assert record["status"] == "succeeded"
    assert record["exitCode"] == 0
    assert record["cause"]["author"] == "Ada <ada@example.com>"
    assert git.out("log", "--format=%s", "state", cwd=repo).splitlines() == [
        "deploy_prod: run 3 succeeded",
        "deploy_prod: run 3 started",
        "deploy_prod: run 3 queued (trigger: triggers/deploy_prod in 1a2b3c4 by "
        "Ada <ada@example.com>)",
    ]


@pytest.mark.parametrize(
    ("status", "exit_code", "subject"),
    [
        ("failed", 2, "deploy_prod: run 3 failed (exit 2)"),
        ("failed", None, "deploy_prod: run 3 failed"),
        ("timed_out", None, "deploy_prod: run 3 timed out"),
        ("interrupted", None, "deploy_prod: run 3 interrupted"),
        ("cancelled", None, "deploy_prod: run 3 cancelled"),
    ],
)
def test_final_run_subjects(store, repo, git, status, exit_code, subject) -> None:
    store.record_run(run(number=3, status=status, exit_code=exit_code))
    assert git.out("log", "--format=%s", "state", cwd=repo) == subject
    assert (
        git.out("log", "--format=%(trailers:key=Gitline-Status,valueonly)", "state", cwd=repo)
        == status
    )


def test_failed_run_does_not_move_last_succeeded(store: GitStateStore) -> None:
    store.record_run(run(number=1, status="succeeded", exit_code=0))
    store.record_run(run(number=2, status="failed", exit_code=1))
    history = store.read_snapshot().jobs["deploy_prod"]
    assert history.last_succeeded == 1
    assert history.last is not None and history.last.number == 2


def test_run_finishing_out_of_order_keeps_newest_run(store: GitStateStore) -> None:
    store.record_run(run(number=3, status="running"))
    store.record_run(run(number=4, status="queued"))
    store.record_run(run(number=3, status="failed", exit_code=1), log="three\n")
    history = store.read_snapshot().jobs["deploy_prod"]
    assert history.last is not None and history.last.number == 4
    assert [r.number for r in history.active] == [4]
    runs = [e.run for e in store.history("deploy_prod")]
    assert [(r.number, r.status) for r in runs] == [(3, "failed"), (4, "queued")]
    assert store.read_log("deploy_prod", 3) == "three\n"


def test_worker_is_in_the_records_and_the_trailers_of_started_and_final(store, repo, git) -> None:
    store.record_run(run(number=3))
    started = run(number=3, status="running", worker="e2e-gitline@localhost")
    store.record_run(started)
    active = safe_load(git.out("show", "state:jobs/deploy_prod/active/3.yml", cwd=repo))
    assert active["worker"] == "e2e-gitline@localhost"  # type: ignore[index]
    assert store.read_snapshot().jobs["deploy_prod"].active == (started,)
    store.record_run(dataclasses.replace(started, status="succeeded", exit_code=0))
    record = safe_load(git.out("show", "state:jobs/deploy_prod/run.yml", cwd=repo))
    assert record["worker"] == "e2e-gitline@localhost"  # type: ignore[index]
    workers = git.out("log", "--format=%(trailers:key=Gitline-Worker,valueonly)|", "state",
                      cwd=repo)
    assert [w.strip() for w in workers.split("|")][:3] == [
        "e2e-gitline@localhost", "e2e-gitline@localhost", ""]  # final, started, queued
    entries = list(store.history("deploy_prod"))  # one entry a run: its latest record
    assert [e.run.worker for e in entries] == ["e2e-gitline@localhost"]  # type: ignore[union-attr]


def test_a_record_without_worker_reads_as_empty() -> None:
    text = yamlio.run_to_yaml(run(number=1, status="succeeded"))
    assert "worker" not in text  # nothing written for a run no worker started
    assert yamlio.run_from_yaml(text).worker == ""
    old = "job: deploy_prod\nnumber: 1\nstatus: succeeded\ncause: {kind: manual}\n"
    assert yamlio.run_from_yaml(old).worker == ""


def test_multiline_cause_stays_one_trailer_line(store, repo, git) -> None:
    cause = model.Cause("manual", "first line\nGitline-Job: evil", author="Eve <e@x>")
    store.record_run(model.Run("deploy_prod", 1, "queued", cause))
    jobs = git.out("log", "--format=%(trailers:key=Gitline-Job,valueonly)", "state", cwd=repo)
    assert jobs == "deploy_prod"
    assert store.read_snapshot().jobs["deploy_prod"].last.cause == cause  # type: ignore[union-attr]


# --- history and logs ----------------------------------------------------------------


def test_history_newest_first(store: GitStateStore) -> None:
    for n in range(1, 6):
        store.append_version(version("app_img", n))
        store.record_run(run(number=n, status="queued"))
        store.record_run(run(number=n, status="succeeded", exit_code=0), log=f"log {n}\n")
    versions = [e.version.number for e in store.history("app_img")]  # type: ignore[union-attr]
    assert versions == [5, 4, 3, 2, 1]
    entries = list(store.history("deploy_prod", limit=3))
    assert [(e.run.number, e.run.status) for e in entries] == [  # type: ignore[union-attr]
        (5, "succeeded"),
        (4, "succeeded"),
        (3, "succeeded"),
    ]
    assert entries[0].subject == "deploy_prod: run 5 succeeded"
    assert entries[0].when.endswith("Z")
    assert store.read_log("deploy_prod") == "log 5\n"
    assert store.read_log("deploy_prod", 2) == "log 2\n"
    assert store.read_log("deploy_prod", 99) is None


def test_history_version_carries_the_record(store: GitStateStore) -> None:
    written = version(number=7, digest="d1", author="Ada <ada@example.com>")
    store.append_version(written)
    (entry,) = store.history("app_img")
    assert entry.version == written


# --- config record -------------------------------------------------------------------


def test_config_record(store: GitStateStore, repo: Path, git) -> None:
    problem = model.Problem(model.Location("pipelines/a.yml", 3, 5), "unknown key")
    bad = model.TriggerRequest(
        "nope", "c" * 40, "Ada <ada@example.com>", "triggers/nope", error="no job nope"
    )
    store.record_config(processed="ab" * 20, good="cd" * 20, problems=(problem,), triggers=(bad,))
    subject = git.out("log", "--format=%s", "state", cwd=repo)
    assert subject == "config: processed abababa (2 errors)"
    record = store.read_config_record()
    assert record["processed"] == "ab" * 20
    assert record["problems"] == ["pipelines/a.yml:3:5: error: unknown key"]
    assert record["triggerErrors"][0]["error"] == "no job nope"
    snap = store.read_snapshot()
    assert (snap.processed_commit, snap.good_commit) == ("ab" * 20, "cd" * 20)
    assert safe_load(git.out("show", "state:controller/config.yml", cwd=repo)) == record


def test_a_config_record_written_is_read_back_as_parsing_it_gives(store: GitStateStore,
                                                                   repo: Path) -> None:
    """The writer keeps the record it wrote (not parsed again at the next push): what a
    fresh reader parses from the branch is the same."""
    odd = model.Problem(model.Location("a: b.yml", 3, 5), 'say "yes": no\ttab # not a comment')
    wf = model.Workflow(jobs={n: model.Job(n, "runSh", model.Location("x")) for n in
                              ("true", "1e3", "j-1", "null")})
    waiting = (model.TriggerRequest("j-1", "c" * 40, "Ada", "triggers/j-1", error="waits"),)
    store.record_config(processed="ab" * 20, good="", problems=(odd,), waiting=waiting,
                        names=wf, sources={"lib": {"processed": "e" * 40, "good": ""}})
    store.record_config(processed="cd" * 20, good="cd" * 20, problems=(), names=wf)
    assert store.read_config_record() == GitStateStore(repo).read_config_record()
    assert store.read_config_record()["waitingTriggers"][0]["job"] == "j-1"


# --- safety --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".", "..", "-x", "x y ", "a;b", "a\\b",
                                  "/abs"])
def test_unsafe_names_are_refused(store: GitStateStore, name: str) -> None:
    with pytest.raises(ValueError):
        store.append_version(version(name))
    with pytest.raises(ValueError):
        store.record_run(run(name))
    with pytest.raises(ValueError):
        store.history(name)
    with pytest.raises(ValueError):
        store.read_log(name)
    assert store.tip() == ""


@pytest.mark.parametrize(
    "path", ["../evil", "/etc/passwd", "a//b", "a/../../b", "./a", ".git/x", ""]
)
def test_unsafe_file_paths_are_refused(store: GitStateStore, path: str) -> None:
    with pytest.raises(ValueError):
        store.append_version(version(files={path: b"x"}))
    with pytest.raises(ValueError):
        store.record_run(run(status="succeeded"), state_files={path: b"x"})
    assert store.tip() == ""


def test_fsck_clean_after_writes(store: GitStateStore, repo: Path, git) -> None:
    store.append_version(version(files={"a/b/c": b"1"}))
    store.record_run(run(), log="x")
    store.record_run(run(status="succeeded"), state_files={"s": b"2"})
    store.record_config(processed="a" * 40, good="a" * 40, problems=())
    result = git("fsck", "--full", "--strict", cwd=repo)
    assert "error" not in result.stderr.lower()
    assert "warning" not in result.stderr.lower()


# --- concurrency and locks -----------------------------------------------------------


def test_two_stores_racing_lose_nothing(repo: Path, git) -> None:
    errors: list[BaseException] = []

    def writer(resource: str) -> None:
        try:
            own = GitStateStore(repo)
            for n in range(1, 201):
                own.append_version(model.Version(resource, n))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(r,)) for r in ("left", "right")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert git.out("rev-list", "--count", "state", cwd=repo) == "400"
    for resource in ("left", "right"):
        log = git.out("log", "--format=%s", "state", "--", f"resources/{resource}", cwd=repo)
        assert len(log.splitlines()) == 200
        numbers = [e.version.number for e in GitStateStore(repo).history(resource, limit=500)]  # type: ignore[union-attr]
        assert numbers == list(range(200, 0, -1))
    snap = GitStateStore(repo).read_snapshot()
    assert snap.versions["left"].number == snap.versions["right"].number == 200


def test_stale_lock_is_removed_with_a_warning(store, repo: Path, caplog) -> None:
    store.append_version(version(number=1))
    lock = repo / "refs" / "heads" / "state.lock"
    lock.write_text("0" * 40 + "\n")
    old = time.time() - 60
    os.utime(lock, (old, old))
    with caplog.at_level(logging.WARNING, logger="controller.store.reflock"):
        store.append_version(version(number=2))
    assert not lock.exists()
    assert store.read_snapshot().versions["app_img"].number == 2
    assert any("stale lock" in r.getMessage() for r in caplog.records)


def test_fresh_lock_is_waited_for(store, repo: Path, monkeypatch) -> None:
    monkeypatch.setattr(reflock, "STALE_LOCK_SECONDS", 0.5)
    store.append_version(version(number=1))
    lock = repo / "refs" / "heads" / "state.lock"
    lock.write_text("0" * 40 + "\n")
    started = time.monotonic()
    store.append_version(version(number=2))
    assert time.monotonic() - started >= 0.4
    assert store.read_snapshot().versions["app_img"].number == 2


def test_snapshot_is_cached_per_tip(store: GitStateStore) -> None:
    store.append_version(version())
    first = store.read_snapshot()
    assert store.read_snapshot() is first
    other = GitStateStore(store._repo.path)  # another reader sees the same state
    store.record_run(run())
    assert other.read_snapshot().jobs["deploy_prod"].last == run()


# --- yamlio --------------------------------------------------------------------------


def _filled(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_version_yaml_round_trip_covers_every_field() -> None:
    full = model.Version(
        "app_img",
        12,
        "1.4.2",
        {"tag": "v1", "n": 3, "nested": {"a": [1, "yes", None]}},
        "config 3f2a000",
        CONFIG_SHA,
        "Ada <ada@example.com>",
        "sha256:abc",
    )
    assert yamlio.version_from_yaml(yamlio.version_to_yaml(full)) == full
    assert (
        _filled(model.Version)
        - {
            "files",
            "resource",
            "number",
            "name",
            "values",
            "created_by",
            "config_commit",
            "author",
            "digest",
        }
        == set()
    )


def test_run_yaml_round_trip_covers_every_field() -> None:
    full = model.Run(
        job="deploy_prod",
        number=3,
        status="failed",
        cause=model.Cause("input", "app_img version 3\nwith: colon", "c" * 40, "A <a@b>"),
        inputs=(
            model.InputVersion("app_img", "resource", 3, "1.0"),
            model.InputVersion("build", "job", 9),
        ),
        params={"env": "prod", "empty": "", "num": "007", "bool": "true"},
        config_commit=CONFIG_SHA,
        queued_at="2024-05-01T10:00:00Z",
        started_at="2024-05-01T10:00:01Z",
        finished_at="2024-05-01T10:00:09Z",
        exit_code=2,
        attempt=2,
        message='exit 2: "quoted" # not a comment',
        notifications=("on_failure: slack",),
        worker="e2e-gitline@localhost",
        ci=(model.CiResult("1: PY=3.12", "failed (allowed)", 2, 1, 1, 81.25, 2),
            model.CiResult("2: PY=3.13", "succeeded", note="r.xml: refused (DTDForbidden)")),
        baseline=(model.InputVersion("app_img", "resource", 4, "1.1"),),
    )
    text = yamlio.run_to_yaml(full)
    assert yamlio.run_from_yaml(text) == full
    assert safe_load(text)["exitCode"] == 2  # readable by any YAML parser
    assert set(yamlio.run_to_dict(full)) >= {"queuedAt", "exitCode", "configCommit"}
    assert len(yamlio.run_to_dict(full)) == len(_filled(model.Run))


def test_hand_written_yaml_still_loads() -> None:
    text = "# edited by hand\nresource: app_img\nversionNumber: 4\nvalues: {a: [1, 2]}\n"
    assert yamlio.version_from_yaml(text) == model.Version("app_img", 4, values={"a": [1, 2]})

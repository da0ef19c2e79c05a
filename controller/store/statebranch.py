"""How the state branch is laid out and read, whatever reads its objects: no pygit2 here.

Owns the paths of the records and the checks of names and paths that go into them, the
shape of a snapshot and of a job's history, and the listing of an object's history
(docs/architecture.md); the `Gitline-*` trailers are commitmessages.py's and the walks
of history history_index.py's. The controller reads objects with pygit2 (gitstate.py);
the one-shot CLI commands with `git cat-file` (statereader.py), because importing pygit2
costs more than their whole budget. Both hand these functions commits that have `id`,
`message`, `parent_ids` and `commit_time` (a pygit2.Commit has them) and a
`record(commit, path, kind)` that returns the parsed record at a path of a commit
("version", "run" or "dict"), or None.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from controller.core import model
from controller.store import yamlio
from controller.store.commitmessages import record_subject
from controller.store.statestore import HistoryEntry

RESOURCES = "resources"
JOBS = "jobs"
CONFIG_RECORD = ("controller", "config.yml")
SIGNATURE_NAME = "Gitline"  # the committer of everything Gitline writes
SIGNATURE_EMAIL = "gitline@localhost"


class Commit(Protocol):
    @property
    def id(self) -> Any: ...

    @property
    def message(self) -> str: ...

    @property
    def parent_ids(self) -> list[Any]: ...

    @property
    def commit_time(self) -> int: ...


C = TypeVar("C", bound=Commit)
Record = Callable[[Any, tuple[str, ...], str], Any]

# How a record of each kind is parsed from its blob: "version" (resources/<name>/
# version.yml), "run" (jobs/<name>/run.yml, active/<n>.yml) and "dict" (any other YAML).
RECORD_PARSERS: dict[str, Callable[[bytes], Any]] = {
    "version": yamlio.version_from_yaml,
    "run": yamlio.run_from_yaml,
    "dict": yamlio.load_mapping,
}


def check_name(name: str, what: str = "name") -> str:
    """`name` if it is a safe folder name, else ValueError."""
    if not isinstance(name, str) or not model.is_safe_name(name):
        raise ValueError(f"unsafe {what}: {name!r}")
    return name


def split_path(path: str) -> tuple[str, ...]:
    """Components of a relative path; ValueError for anything that could escape a folder."""
    if not isinstance(path, str) or not path:
        raise ValueError(f"unsafe path: {path!r}")
    if path.startswith("/") or "\\" in path or "\0" in path:
        raise ValueError(f"unsafe path: {path!r}")
    parts = tuple(path.split("/"))
    for part in parts:
        if part in ("", ".", "..") or part.lower() == ".git":
            raise ValueError(f"unsafe path: {path!r}")
    return parts


def check_branch(branch: str) -> str:
    for part in branch.split("/"):  # plain words: git refuses spaces and more in refs
        if not model.PLAIN_NAME.fullmatch(part) or ".." in part:
            raise ValueError(f"unsafe branch name: {branch!r}")
    if branch.endswith(".lock"):
        raise ValueError(f"unsafe branch name: {branch!r}")
    return branch


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def snapshot(versions: dict[str, model.Version], jobs: dict[str, model.JobHistory],
             config: dict[str, Any], tip: str) -> model.Snapshot:
    return model.Snapshot(versions=versions, jobs=jobs,
                          processed_commit=str(config.get("processed") or ""),
                          good_commit=str(config.get("good") or ""), tip=tip,
                          waiting_triggers=waiting_triggers(config),
                          processed_sources=source_commits(config, "processed"),
                          good_sources=source_commits(config, "good"))


def with_sources(snap: model.Snapshot, sources: dict[str, dict[str, str]] | None
                 ) -> model.Snapshot:
    """`snap` with record_config's `sources` (processed and good commit of each)."""
    record = {"sources": sources or {}}
    return dataclasses.replace(snap, processed_sources=source_commits(record, "processed"),
                               good_sources=source_commits(record, "good"))


def source_commits(config: dict[str, Any], which: str) -> dict[str, str]:
    """controller/config.yml's commit of each other source (`sources: {NAME: {processed:,
    good:}}`) that was processed, or that the good workflow was loaded from."""
    found = config.get("sources")
    if not isinstance(found, dict):
        return {}
    return {str(n): str(c.get(which) or "") for n, c in found.items()
            if isinstance(c, dict) and c.get(which)}


def waiting_triggers(config: dict[str, Any]) -> tuple[model.TriggerRequest, ...]:
    """controller/config.yml's waitingTriggers (skipping entries it cannot read)."""
    out = []
    for entry in config.get("waitingTriggers") or []:
        if not isinstance(entry, dict) or not entry.get("job") or not entry.get("commit"):
            continue
        params_value = entry.get("params")
        params: dict[Any, Any] = params_value if isinstance(params_value, dict) else {}
        out.append(model.TriggerRequest(
            str(entry["job"]), str(entry["commit"]), str(entry.get("author") or ""),
            str(entry.get("path") or ""), {str(k): str(v) for k, v in params.items()},
            str(entry.get("error") or "")))
    return tuple(out)


def waiting_record(waiting: tuple[model.TriggerRequest, ...]) -> list[dict[str, Any]]:
    """The waitingTriggers entries of controller/config.yml."""
    return [{"job": t.job, "commit": t.commit, "author": t.author, "path": t.path,
             "params": dict(t.params), "error": t.error} for t in waiting]


def _run_at(commit: Commit, job: str, number: int, record: Record) -> model.Run | None:
    """The run record a commit wrote: run.yml, active/<n>.yml or finished.yml."""
    for path in (("run.yml",), ("active", f"{number}.yml"), ("finished.yml",)):
        run: model.Run | None = record(commit, (JOBS, job, *path), "run")
        if run is not None and run.number == number:
            return run
    return None


def history(name: str, limit: int, commits: Iterator[tuple[Commit, dict[str, str]]],
            record: Record) -> list[HistoryEntry]:
    """Versions of a resource or runs of a job (one per run number), newest first."""
    entries: list[HistoryEntry] = []
    seen_runs: set[int] = set()
    for commit, trailers in commits:
        if len(entries) >= limit:
            break
        when = iso(commit.commit_time)
        subject = record_subject(commit.message, name)
        if trailers.get("Resource") == name:
            version = record(commit, (RESOURCES, name, "version.yml"), "version")
            entries.append(HistoryEntry(str(commit.id), subject, when, version=version))
            continue
        number = int_or_none(trailers.get("Run"))
        if number is None or number in seen_runs:
            continue
        seen_runs.add(number)
        run = _run_at(commit, name, number, record)
        entries.append(HistoryEntry(str(commit.id), subject, when, run=run))
    return entries


def finished_run_commit(job: str, number: int,
                        commits: Iterator[tuple[C, dict[str, str]]]) -> C | None:
    """The commit that recorded the end of run `number` of `job` (its log.txt)."""
    return next((c for c, t in commits
                 if t.get("Job") == job and int_or_none(t.get("Run")) == number
                 and t.get("Status") in model.FINISHED), None)

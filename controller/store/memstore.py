"""MemoryStateStore: the StateStore protocol in memory, for tests of what uses a store.

Each write is one "commit" appended to a list (with its subject and the object it
wrote), so history, logs and files at a commit read as they do from the state branch;
job histories follow the same rule as the git store (`core.history.after_run`). No git,
no disk, one lock: as safe from several threads as the git store.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from controller.core import history, model
from controller.store import statebranch
from controller.store.statestore import HistoryEntry, RunRecord, StateStore

KEEP_TRIGGER_ERRORS = 50


@dataclass(frozen=True)
class _Commit:
    sha: str
    subject: str
    when: str
    files: dict[str, bytes]  # the whole tree after this commit: path -> content
    version: model.Version | None = None
    run: model.Run | None = None


@dataclass
class MemoryStateStore:
    commits: list[_Commit] = field(default_factory=list)
    _snapshot: model.Snapshot = field(default_factory=model.Snapshot)
    _config: dict[str, Any] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # --- writes

    def _commit(self, subject: str, *, edits: dict[str, bytes | None] | None = None,
                folders: dict[str, dict[str, bytes]] | None = None,
                version: model.Version | None = None, run: model.Run | None = None) -> str:
        files = dict(self.commits[-1].files) if self.commits else {}
        for folder, content in (folders or {}).items():
            files = {p: c for p, c in files.items() if not p.startswith(folder + "/")}
            files.update({f"{folder}/{p}": c for p, c in content.items()})
        for path, data in (edits or {}).items():
            if data is None:
                files.pop(path, None)
            else:
                files[path] = data
        sha = f"{len(self.commits) + 1:040x}"
        when = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        self.commits.append(_Commit(sha, subject, when, files, version, run))
        self._snapshot = replace(self._snapshot, tip=sha)
        return sha

    def append_version(self, version: model.Version, *, subject: str = "") -> str:
        with self._lock:
            kept = replace(version, files=None)
            self._snapshot = replace(self._snapshot,
                                     versions={**self._snapshot.versions,
                                               version.resource: kept})
            folders = {} if version.files is None else {
                f"resources/{version.resource}/files": version.files}
            return self._commit(subject or f"{version.resource}: version {version.number}",
                                folders=folders, version=kept)

    def append_versions(self, versions: Sequence[model.Version], *, subject: str = "") -> str:
        with self._lock:
            return "".join([self.append_version(v, subject=subject) for v in versions][-1:])

    def record_runs(self, records: list[RunRecord]) -> str:
        """One "commit" per run here (the history lists one entry per commit); checked
        first, so a refused record writes nothing, as in the git store."""
        with self._lock:
            if len({r.run.job for r in records}) != len(records):
                raise ValueError("record_runs: one record per job")
            sha = ""
            for r in records:
                sha = self.record_run(r.run, log=r.log, state_files=r.state_files,
                                      subject=r.subject)
            return sha

    def record_run(self, run: model.Run, *, log: str | None = None,
                   state_files: dict[str, bytes] | None = None, subject: str = "") -> str:
        with self._lock:
            self._snapshot = history.with_run(self._snapshot, run)
            folders = {} if state_files is None else {f"jobs/{run.job}/state": state_files}
            edits: dict[str, bytes | None] = {} if log is None else {
                f"jobs/{run.job}/log.txt": log.encode()}
            return self._commit(subject or f"{run.job}: run {run.number} {run.status}",
                                edits=edits, folders=folders, run=run)

    def record_config(self, *, processed: str, good: str, problems: tuple[model.Problem, ...],
                      triggers: tuple[model.TriggerRequest, ...] = (),
                      waiting: tuple[model.TriggerRequest, ...] | None = None,
                      names: model.Workflow | None = None, subject: str = "",
                      sources: dict[str, dict[str, str]] | None = None) -> str:
        with self._lock:
            self._config.update(processed=processed, good=good,
                                problems=[str(p) for p in problems])
            if names is not None:
                self._config.update(jobs=sorted(names.jobs), resources=sorted(names.resources))
            if sources:
                self._config["sources"] = sources
            self._keep_errors(triggers)
            self._snapshot = statebranch.with_sources(replace(
                self._snapshot, processed_commit=processed, good_commit=good,
                waiting_triggers=self._snapshot.waiting_triggers if waiting is None
                else waiting), sources)
            return self._commit(subject or f"config: processed {processed[:7]}")

    def record_waiting(self, waiting: tuple[model.TriggerRequest, ...],
                       refused: tuple[model.TriggerRequest, ...] = ()) -> str:
        with self._lock:
            self._keep_errors(refused)
            self._snapshot = replace(self._snapshot, waiting_triggers=waiting)
            return self._commit(f"config: trigger files: {len(waiting)} waiting")

    def _keep_errors(self, refused: tuple[model.TriggerRequest, ...]) -> None:
        new = [{"job": t.job, "commit": t.commit, "author": t.author, "path": t.path,
                "error": t.error} for t in refused if t.error]
        fresh = {(e["commit"], e["path"]) for e in new}
        old = [e for e in self._config.get("triggerErrors", [])
               if (e["commit"], e["path"]) not in fresh]
        self._config["triggerErrors"] = (old + new)[-KEEP_TRIGGER_ERRORS:]

    # --- reads

    def read_snapshot(self) -> model.Snapshot:
        with self._lock:
            return self._snapshot

    def read_files(self, prefix: str, at: str = "") -> dict[str, bytes]:
        with self._lock:
            commit = next((c for c in self.commits if c.sha == at), None) if at else (
                self.commits[-1] if self.commits else None)
            if at and commit is None:
                raise ValueError(f"{at} is not a commit")
            folder = prefix.strip("/") + "/"
            return {p[len(folder):]: c for p, c in (commit.files if commit else {}).items()
                    if p.startswith(folder)}

    def read_file(self, path: str, at: str = "") -> bytes | None:
        folder, _, name = path.strip("/").rpartition("/")
        return self.read_files(folder, at).get(name)

    def history(self, name: str, limit: int = 100) -> Iterator[HistoryEntry]:
        """Versions of a resource or runs of a job (one per run number), newest first."""
        with self._lock:
            found: list[HistoryEntry] = []
            seen: set[int] = set()
            for c in reversed(self.commits):
                if len(found) >= limit:
                    break
                if c.version is not None and c.version.resource == name:
                    found.append(HistoryEntry(c.sha, c.subject, c.when, version=c.version))
                elif c.run is not None and c.run.job == name and c.run.number not in seen:
                    seen.add(c.run.number)
                    found.append(HistoryEntry(c.sha, c.subject, c.when, run=c.run))
            return iter(found)

    def read_log(self, job: str, number: int | None = None) -> str | None:
        with self._lock:
            commits = self.commits
            if number is not None:  # the commit that recorded the run's end
                commits = [c for c in commits if c.run is not None and c.run.job == job
                           and c.run.number == number and c.run.status in model.FINISHED]
            data = commits[-1].files.get(f"jobs/{job}/log.txt") if commits else None
            return data.decode("utf-8", errors="replace") if data is not None else None

    def read_config_record(self) -> dict[str, Any]:
        with self._lock:
            waiting = [{"job": t.job, "commit": t.commit, "author": t.author, "path": t.path,
                        "params": dict(t.params), "error": t.error}
                       for t in self._snapshot.waiting_triggers]
            return {**self._config, **({"waitingTriggers": waiting} if waiting else {})}


def _implements(store: MemoryStateStore) -> StateStore:
    return store  # mypy checks here that the protocol is implemented in full

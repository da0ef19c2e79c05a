"""The state branch and the config branch, read-only, through `git cat-file` (catfile.py).

What the one-shot CLI commands read (`status`, `log`, `logs`, `trigger`), with the same
answers as GitStateStore and ConfigRepo give the controller, without importing pygit2.
The shape of the records is statebranch.py's and the walks of history history_index.py's,
shared with GitStateStore. Nothing here writes but the saved history index, after a long
walk, as GitStateStore's readers do.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from controller.core import history, model
from controller.store import statebranch
from controller.store.catfile import CatFile, CommitText
from controller.store.history_index import HistoryIndex, index_path
from controller.store.statebranch import RECORD_PARSERS, check_branch, check_name
from controller.store.statestore import HistoryEntry


class StateReader:
    """Reads `refs/heads/<branch>` of a (bare) repository: snapshot, history, logs."""

    def __init__(self, cat: CatFile, branch: str = "state") -> None:
        self._cat = cat
        self._ref = f"refs/heads/{check_branch(branch)}"
        self._index: HistoryIndex[CommitText] = HistoryIndex(
            index_path(cat.git_dir, branch), cat.commit, lambda sha: cat.read(sha) is not None)

    def _record(self, tree: str, path: tuple[str, ...], kind: str) -> Any:
        """Parsed YAML at `path` under `tree` (a sha or a ref), or None."""
        data = self._cat.blob(f"{tree}:{'/'.join(path)}")
        return None if data is None else RECORD_PARSERS[kind](data)

    def _folders(self, tree: str, name: str) -> Iterator[tuple[str, str]]:
        for entry_name, entry in (self._cat.tree(f"{tree}:{name}") or {}).items():
            if entry.is_tree and model.is_safe_name(entry_name):
                yield entry_name, entry.id

    def _job_history(self, job_tree: str) -> model.JobHistory:
        active = self._cat.tree(f"{job_tree}:active") or {}
        runs = [self._record(job_tree, ("active", n), "run") for n, e in active.items()
                if n.endswith(".yml") and e.is_file]
        counters = self._record(job_tree, ("job.yml",), "dict") or {}
        return history.from_records(runs, self._record(job_tree, ("run.yml",), "run"),
                                    int(counters.get("lastSucceeded") or 0))

    def read_snapshot(self) -> model.Snapshot:
        tip = self._cat.commit(self._ref)
        if tip is None:
            return model.Snapshot()
        versions = {}
        for name, sub in self._folders(tip.tree, statebranch.RESOURCES):
            version = self._record(sub, ("version.yml",), "version")
            if version is not None:
                versions[name] = version
        jobs = {name: self._job_history(sub)
                for name, sub in self._folders(tip.tree, statebranch.JOBS)}
        config = self._record(tip.tree, statebranch.CONFIG_RECORD, "dict") or {}
        return statebranch.snapshot(versions, jobs, config, tip.id)

    def read_config_record(self) -> dict[str, Any]:
        return self._record(self._ref, statebranch.CONFIG_RECORD, "dict") or {}

    def _walk(self, name: str) -> Iterator[tuple[CommitText, dict[str, str]]]:
        return self._index.commits(name, self._cat.commit(self._ref))

    def _record_at(self, commit: CommitText, path: tuple[str, ...], kind: str) -> Any:
        return self._record(commit.tree, path, kind)

    def history(self, name: str, limit: int = 100) -> Iterator[HistoryEntry]:
        """Versions of a resource or runs of a job (one per run number), newest first."""
        check_name(name)
        return iter(statebranch.history(name, limit, self._walk(name), self._record_at))

    def read_log(self, job: str, number: int | None = None) -> str | None:
        check_name(job, "job name")
        if number is not None:  # still on the tip (run_logs_kept), else where it ended
            tip = self._cat.commit(self._ref)
            kept = self._cat.blob(f"{tip.tree}:{statebranch.JOBS}/{job}/logs/{number}.txt") \
                if tip else None
            if kept is not None:
                return kept.decode("utf-8", errors="replace")
        commit = (self._cat.commit(self._ref) if number is None
                  else statebranch.finished_run_commit(job, number, self._walk(job)))
        data = self._cat.blob(f"{commit.tree}:{statebranch.JOBS}/{job}/log.txt") \
            if commit else None
        return None if data is None else data.decode("utf-8", errors="replace")


class ConfigReader:
    """Reads the workflow files of `refs/heads/<branch>` (ConfigRepo's reads, for the CLI)."""

    def __init__(self, cat: CatFile, branch: str = "main") -> None:
        self._cat = cat
        self.branch = check_branch(branch)
        self._ref = f"refs/heads/{branch}"

    def head(self) -> str | None:
        tip = self._cat.commit(self._ref)
        return tip.id if tip else None

    def workflow_files(
        self, commit: str, is_workflow_file: Callable[[str], bool]
    ) -> list[tuple[str, bytes]]:
        """(path, content) of regular files for which `is_workflow_file(path)`, by path."""
        found = self._cat.commit(commit)
        if found is None:
            raise KeyError(f"no commit {commit}")
        files: dict[str, bytes] = {}
        self._walk_files(found.tree, "", files, is_workflow_file)
        return sorted(files.items())

    def _walk_files(self, tree: str, prefix: str, files: dict[str, bytes],
                    wanted: Callable[[str], bool]) -> None:
        for name, entry in (self._cat.tree(tree) or {}).items():
            rel = prefix + name
            if entry.is_tree:
                self._walk_files(entry.id, rel + "/", files, wanted)
            elif entry.is_file and wanted(rel):
                data = self._cat.blob(entry.id)
                if data is None:
                    raise KeyError(f"{rel}: git object {entry.id} is missing")
                files[rel] = data


def open_readers(repo_path: str | os.PathLike[str], branch: str,
                 state_branch: str) -> tuple[ConfigReader, StateReader, CatFile]:
    """Readers of both branches sharing one `git cat-file`; close the CatFile after."""
    cat = CatFile(repo_path)
    return ConfigReader(cat, branch), StateReader(cat, state_branch), cat

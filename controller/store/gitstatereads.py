"""The state branch's reads, with pygit2: the snapshot, files, history and logs.

`StateReads` holds what a `GitStateStore` (gitstate.py) reads through and keeps in step
with its writes: the repository, the ref, the lock every read and write takes (the
controller's threads share one store), the parsed records (records.py), the snapshot, the
tree ids of recent commits and the history index (history_index.py). Only read here; a
store opened on another ref (a clone's origin/state) is used through these alone. The
one-shot commands read the same through `git cat-file` instead (statereader.py).
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Iterator
from typing import Any

import pygit2

from controller.core import model
from controller.store import commitinfo, configrecord, jobfolder, refs, statebranch
from controller.store.history_index import HistoryIndex, index_path
from controller.store.maintenance import LOOSE_OBJECTS_LIMIT, Packer
from controller.store.records import RecordCache
from controller.store.runlogs import LOGS, log_name
from controller.store.statebranch import JOBS, RESOURCES, check_branch, check_name, split_path
from controller.store.statestore import HistoryEntry
from controller.store.trees import object_at, read_tree_files

TREE_IDS_KEPT = 64  # commits whose tree ids read_files keeps


class StateReads:
    """The reads of a state store on `refs/heads/<branch>` of a (bare) repository."""

    def __init__(self, repo_path: str | os.PathLike[str], branch: str = "state", *,
                 ref: str = "", logs_kept: int = 1) -> None:
        """`ref` reads another ref than refs/heads/<branch> (a clone's
        refs/remotes/origin/state); such a store is only read. `logs_kept`: run logs
        per job on the tip (runlogs.py)."""
        self.logs_kept = logs_kept
        self._repo = refs.open_repository(repo_path)
        self._ref = ref or f"refs/heads/{check_branch(branch)}"
        self._lock = threading.RLock()  # one writer (and reader) at a time on this repo object
        self._records = RecordCache(self._repo)
        self._snapshot: model.Snapshot | None = None
        self._tree_ids: dict[str, pygit2.Oid] = {}  # commit sha -> its tree (_root_tree)
        self._index: HistoryIndex[pygit2.Commit] = HistoryIndex(
            index_path(self._repo.path, branch), self._commit, lambda sha: sha in self._repo)
        self._packer = Packer(self._repo.path)

    def tip(self) -> str:
        """Sha of the state branch, "" if it does not exist yet."""
        with self._lock:
            commit = refs.branch_tip(self._repo, self._ref)
            return str(commit.id) if commit else ""

    def _commit(self, oid: Any) -> pygit2.Commit | None:
        """The commit `oid` (trailers and parents name only commits), None if missing."""
        commit = self._repo.get(oid)
        assert commit is None or isinstance(commit, pygit2.Commit), oid
        return commit

    # --- StateStore: reads

    def read_snapshot(self) -> model.Snapshot:
        with self._lock:
            tip = refs.branch_tip(self._repo, self._ref)
            if tip is None:
                return model.Snapshot()
            if self._snapshot is not None and self._snapshot.tip == str(tip.id):
                return self._snapshot
            tree, records = tip.tree, self._records
            versions: dict[str, model.Version] = {}
            for name, sub in records.subtrees(tree, RESOURCES):
                version = records.record(sub, ("version.yml",), "version")
                if version is not None:
                    versions[name] = version
            jobs = {name: jobfolder.read_job_history(records, sub)
                    for name, sub in records.subtrees(tree, JOBS)}
            config = records.record(tree, statebranch.CONFIG_RECORD, "dict") or {}
            self._snapshot = statebranch.snapshot(versions, jobs, config, str(tip.id))
            return self._snapshot

    def commit_info(self, sha: str) -> commitinfo.CommitInfo | None:
        """A commit of this repository (state or config) as a page shows it."""
        with self._lock:
            return commitinfo.commit_info(self._repo, sha)

    def read_files(self, prefix: str, at: str = "") -> dict[str, bytes]:
        """Files under `prefix` at the tip, or at commit `at` of the state branch."""
        with self._lock:
            folder = self._object_at(prefix, at)
            return read_tree_files(self._repo, folder) if isinstance(folder, pygit2.Tree) \
                else {}

    def read_file(self, path: str, at: str = "") -> bytes | None:
        """One file at the tip (or at state commit `at`); None if there is none."""
        with self._lock:  # the API's and the pages' threads share this store
            blob = self._object_at(path, at)
            return blob.data if isinstance(blob, pygit2.Blob) else None

    def _object_at(self, path: str, at: str) -> pygit2.Object | None:
        parts = split_path(path.strip("/"))
        with self._lock:
            return object_at(self._repo, self._root_tree(at), parts)

    def _root_tree(self, at: str) -> pygit2.Tree | None:
        """The tree of commit `at` (the tip if ""), None if there is no branch yet.

        The tree's id is kept by commit: a commit of a burst names every run it records
        (~300 KB for 1,000 runs), which libgit2 does not cache, and each run's spec reads
        the job's state at the tip (`specs.py`): it was inflated again for each."""
        sha = at
        if not sha:
            reference = self._repo.references.get(self._ref)
            if reference is None:
                return None
            sha = str(reference.resolve().target)
        tree_id = self._tree_ids.get(sha)
        if tree_id is None:
            commit = self._repo.get(sha)
            if commit is None:  # an unknown commit has no files
                return None
            if not isinstance(commit, pygit2.Commit):
                raise ValueError(f"{at or self._ref} is not a commit")
            if len(self._tree_ids) >= TREE_IDS_KEPT:
                self._tree_ids.pop(next(iter(self._tree_ids)))
            tree_id = self._tree_ids[sha] = commit.tree_id
        tree = self._repo.get(tree_id)
        assert isinstance(tree, pygit2.Tree), tree_id
        return tree

    def read_config_record(self) -> dict[str, Any]:
        with self._lock:
            tip = refs.branch_tip(self._repo, self._ref)
            return copy.deepcopy(configrecord.read_config_record(self._records, tip))

    def _walk(self, name: str) -> Iterator[tuple[pygit2.Commit, dict[str, str]]]:
        """Commits of `name` up to the tip, newest first (history_index.py)."""
        return self._index.commits(name, refs.branch_tip(self._repo, self._ref))

    def history(self, name: str, limit: int = 100) -> Iterator[HistoryEntry]:
        """Versions of a resource or runs of a job (one per run number), newest first."""
        check_name(name)
        with self._lock:
            return iter(statebranch.history(name, limit, self._walk(name),
                                             self._records.record_at))

    def read_log(self, job: str, number: int | None = None) -> str | None:
        check_name(job, "job name")
        with self._lock:
            commit = refs.branch_tip(self._repo, self._ref)
            kept = object_at(self._repo, commit.tree if commit and number else None,
                             (JOBS, job, LOGS, log_name(number or 0)))
            if isinstance(kept, pygit2.Blob):  # still on the tip (run_logs_kept)
                return kept.data.decode("utf-8", errors="replace")
            if number is not None:
                commit = statebranch.finished_run_commit(job, number, self._walk(job))
            blob = object_at(self._repo, commit.tree if commit else None,
                             (JOBS, job, "log.txt"))
            if not isinstance(blob, pygit2.Blob):
                return None
            return blob.data.decode("utf-8", errors="replace")

    # --- housekeeping

    def maintain(self, *, limit: int = LOOSE_OBJECTS_LIMIT, wait: bool = False) -> bool:
        """Save the history index if it moved (every few seconds at most during a burst,
        at once with `wait`); pack loose objects in the background when they pile up
        (maintenance.py); True if packing started."""
        with self._lock:
            self._index.save_due(force=wait)
        return self._packer.maintain(limit=limit, wait=wait)

"""The config repository as the controller reads it: files at a commit, commits since.

Owns every read of the watched branch (head, workflow files, tree digests, the commits and
changed paths between two heads, single files such as trigger files) and the one kind of
write users ask for through the CLI: a commit of one file (`gitline trigger`/`approve`),
made without a working tree and appended with compare-and-swap like the state branch.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pygit2
from pygit2.enums import DiffOption, FileMode, SortMode

from controller.store import filecommit
from controller.store.refs import branch_tip, open_repository
from controller.store.statebranch import check_branch
from controller.store.trees import entry_name, get_blob, get_tree

MAX_COMMITS = 10_000  # commits_between never returns more than this (oldest dropped)
# Workflow files' contents by blob id, shared by every reader (a blob id names one content,
# whatever the repository): a push's answer opens a reader on its quarantine and reads the
# 51 files of a 5,000-job workflow again (~3.6 ms); the same bytes objects also make the
# loader's per-file cache lookups identity checks.
KEPT_BLOB_BYTES = 32 * 1024 * 1024


class _KeptBlobs:
    """Blob contents by id, the least recently used dropped past `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._data: OrderedDict[bytes, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, oid: bytes) -> bytes | None:
        with self._lock:
            data = self._data.get(oid)
            if data is not None:
                self._data.move_to_end(oid)
            return data

    def keep(self, oid: bytes, data: bytes) -> None:
        if len(data) > self.limit // 8:
            return
        with self._lock:
            if oid not in self._data:
                self._data[oid] = data
                self._size += len(data)
            while self._size > self.limit:
                self._size -= len(self._data.popitem(last=False)[1])


_KEPT = _KeptBlobs(KEPT_BLOB_BYTES)


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author: str  # "Name <email>"
    message: str  # the subject line
    changed_paths: tuple[str, ...]  # versus the first parent (all files for a root commit)


class NotAFile(ValueError):
    """The path names a symlink, a folder or a submodule, not a regular file."""

    def __init__(self, path: str, kind: str) -> None:
        super().__init__(f"{path} is a {kind}, not a file")
        self.path = path
        self.kind = kind  # "symlink", "directory" or "submodule"


class CorruptObject(RuntimeError):
    """An object of the repository cannot be read (damaged on disk)."""


_KINDS = {FileMode.LINK: "symlink", FileMode.TREE: "directory", FileMode.COMMIT: "submodule"}


class ConfigRepo:
    """Reads (and, for the CLI, writes one file to) `refs/heads/<branch>` of a bare repo."""

    def __init__(self, repo_path: str | os.PathLike[str], branch: str = "main", *,
                 objects: str | os.PathLike[str] | None = None) -> None:
        """`objects`: a further objects folder, such as the quarantine of a push that a
        pre-receive hook reads before git moves the new objects in."""
        self._repo = open_repository(repo_path)
        if objects:
            self._repo.odb.add_disk_alternate(str(objects))
        self.branch = check_branch(branch)
        self._ref = f"refs/heads/{branch}"

    def head(self) -> str | None:
        tip = branch_tip(self._repo, self._ref)
        return str(tip.id) if tip else None

    def resolve(self, rev: str) -> str:
        """The commit sha `rev` (a sha, a branch, `main~2`) names; KeyError if none."""
        return str(self._commit(rev).id)

    def _commit(self, sha: str) -> pygit2.Commit:
        try:
            return self._repo.revparse_single(sha).peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError) as e:
            raise KeyError(f"no commit {sha}") from e

    def _entry(self, commit: str, path: str) -> Any:
        """The tree entry at `path` of `commit`, or None ("" is not an entry)."""
        tree = self._commit(commit).tree
        try:
            return tree[path]
        except KeyError:
            return None

    # --- reading files

    def workflow_files(
        self, commit: str, is_workflow_file: Callable[[str], bool]
    ) -> list[tuple[str, bytes]]:
        """(path, content) of regular files for which `is_workflow_file(path)`, by path.

        Symlinks and submodules are skipped; large blobs are returned (the loader rejects).
        """
        files: dict[str, bytes] = {}
        self._walk_files(self._commit(commit).tree, "", files, set(), is_workflow_file,
                         keep=True)
        return sorted(files.items())

    def files_under(self, commit: str, path: str = "") -> tuple[dict[str, bytes], frozenset[str]]:
        """Regular files below folder `path` (relative to it), and which are executable.

        What a job sees as the checkout of a gitRepo that tracks this repository.
        """
        path = path.strip("/")
        tree = self._commit(commit).tree
        if path:
            entry = self._entry(commit, path)
            if entry is None or entry.filemode != FileMode.TREE:
                return {}, frozenset()
            tree = get_tree(self._repo, entry.id)
        files: dict[str, bytes] = {}
        executable: set[str] = set()
        self._walk_files(tree, "", files, executable, lambda _: True)
        return files, frozenset(executable)

    def _walk_files(
        self,
        tree: pygit2.Tree,
        prefix: str,
        files: dict[str, bytes],
        executable: set[str],
        wanted: Callable[[str], bool],
        *,
        keep: bool = False,
    ) -> None:
        """Regular files of `tree` for which `wanted(path)`; symlinks and submodules skipped.
        `keep`: their contents are kept by blob id (workflow files, not a checkout's)."""
        for entry in tree:
            rel = prefix + entry_name(entry)
            if entry.filemode == FileMode.TREE:
                self._walk_files(get_tree(self._repo, entry.id), rel + "/", files, executable,
                                 wanted, keep=keep)
            elif entry.filemode in (FileMode.BLOB, FileMode.BLOB_EXECUTABLE) and wanted(rel):
                files[rel] = self._blob(entry.id, rel, keep=keep)
                if entry.filemode == FileMode.BLOB_EXECUTABLE:
                    executable.add(rel)

    def _blob(self, oid: Any, path: str, *, keep: bool = False) -> bytes:
        kept = _KEPT.get(oid.raw) if keep else None
        if kept is not None:
            return kept
        try:
            data = get_blob(self._repo, oid).data
        except pygit2.GitError as err:  # a damaged loose object or pack: say which, and where
            raise CorruptObject(
                f"{path}: git object {oid} in {self._repo.path} cannot be read ({err}); "
                f"`git fsck --full` shows the damage; restore it from a clone or a backup"
            ) from err
        if keep:
            _KEPT.keep(oid.raw, data)
        return data

    def tree_id(self, commit: str, path: str = "") -> str | None:
        """Oid of the folder or file at `path` ("" = the root tree); None if absent."""
        if path.strip("/") == "":
            return str(self._commit(commit).tree.id)
        entry = self._entry(commit, path.strip("/"))
        return str(entry.id) if entry is not None else None

    def read_blob(self, commit: str, path: str) -> bytes | None:
        """Content of the regular file at `path`; None if absent; NotAFile otherwise."""
        entry = self._entry(commit, path.strip("/"))
        if entry is None:
            return None
        kind = _KINDS.get(entry.filemode)
        if kind is not None:
            raise NotAFile(path, kind)
        return get_blob(self._repo, entry.id).data

    # --- commits

    def commits_between(
        self, old: str | None, new: str, *, limit: int = MAX_COMMITS
    ) -> tuple[list[CommitInfo], bool]:
        """Commits after `old` up to `new` along first parents, oldest first.

        Returns (commits, rewritten). When `old` is not an ancestor of `new` (a force
        push) or no longer exists, returns ([new], True). `old` None or "" means from
        the root. A merge's changed paths leave out files already as they were at `old`.
        """
        new_commit = self._commit(new)
        old_commit: pygit2.Commit | None = None
        if old:
            try:
                old_commit = self._commit(old)
            except KeyError:
                return [self._info(new_commit, None)], True
            if old_commit.id == new_commit.id:
                return [], False
            if not self._repo.descendant_of(new_commit.id, old_commit.id):
                return [self._info(new_commit, None)], True
        walker = self._repo.walk(new_commit.id, SortMode.TOPOLOGICAL)
        walker.simplify_first_parent()
        if old_commit is not None:
            walker.hide(old_commit.id)
        chain: list[pygit2.Commit] = []
        for commit in walker:
            chain.append(commit)
            if len(chain) >= limit:
                break
        chain.reverse()
        return [self._info(c, old_commit) for c in chain], False

    def _info(self, commit: pygit2.Commit, old: pygit2.Commit | None) -> CommitInfo:
        author = f"{commit.author.name} <{commit.author.email}>"
        subject = commit.message.split("\n", 1)[0].strip()
        return CommitInfo(str(commit.id), author, subject, self._changed(commit, old))

    def _changed(self, commit: pygit2.Commit, old: pygit2.Commit | None) -> tuple[str, ...]:
        if commit.parent_ids:
            diff = self._repo.diff(
                commit.parents[0].tree, commit.tree, flags=DiffOption.IGNORE_SUBMODULES
            )  # type: ignore[call-overload]  # pygit2's stub omits Tree; diff takes trees
        else:
            diff = commit.tree.diff_to_tree(swap=True)
        paths = {f.path for delta in diff.deltas for f in (delta.old_file, delta.new_file)}
        if len(commit.parent_ids) > 1 and old is not None:
            # Files a merge brought in unchanged from already-processed history.
            paths = {p for p in paths if _oid_at(old.tree, p) != _oid_at(commit.tree, p)}
        return tuple(sorted(paths))

    # --- writing

    def commit_file(
        self, path: str, content: bytes, message: str, author_name: str, author_email: str,
        before_update: Callable[[str], None] | None = None,
    ) -> str:
        """Commit one file on the branch (created if missing); returns the new sha."""
        return filecommit.commit_file(self._repo.path, self.branch, path, bytes(content),
                                      message, author_name, author_email, before_update)


def _oid_at(tree: pygit2.Tree, path: str) -> Any:
    try:
        return tree[path].id
    except KeyError:
        return None

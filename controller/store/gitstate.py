"""The state branch, written with pygit2: a StateStore of compare-and-swap commits.

Owns the layout of the state branch (docs/architecture.md), the commit messages and
their `Gitline-*` trailers, and the low-level helpers every writer of a branch without a
working tree shares (path checks, tree rebuilds, the CAS commit loop, stale-lock
recovery); configrepo.py reuses them.

Every write is one commit: the change is computed from the tip, only the trees on the
touched paths are rewritten (unchanged subtrees keep their oids), and
`create_commit(ref, ..., parents=[tip])` moves the ref only if it still points at the
tip. A write that loses the race re-reads the tip and applies its change again.

History costs O(versions of one object), not O(all commits): every version or run commit
names the previous commit of the same object in a `Gitline-Previous` trailer ("none" for
the first), and an index (name -> newest commit, valid at one tip) finds where a chain
starts. The index lives in memory, is kept in step by every append, and is saved now and
then to `<repo>/gitline/index-<branch>.json`; a reader catches up from the saved tip with
a short first-parent walk (a full walk only when there is no usable index). Commits
written before the trailer existed are followed by a first-parent walk.

The snapshot is kept in step the same way: an append on top of the snapshot's tip
updates only the object it wrote, so a reconcile pass never re-reads 1,000 resources
after each version.
"""

from __future__ import annotations

import copy
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pygit2
from pygit2.enums import FileMode, ObjectType

from controller.core import model
from controller.store import reflock, statebranch, yamlio
from controller.store.reflock import (
    STALE_LOCK_SECONDS,
    WRITE_DEADLINE_SECONDS,
    StateWriteError,
)
from controller.store.statebranch import (
    JOBS,
    RESOURCES,
    SIGNATURE_EMAIL,
    SIGNATURE_NAME,
    check_branch,
    check_name,
    split_path,
)
from controller.store.statestore import HistoryEntry

log = logging.getLogger(__name__)

CACHE_ENTRIES = 5_000  # parsed records kept (a snapshot of 1,000 jobs + 1,000 resources needs ~3k)
INDEX_SAVE_SECONDS = 2.0  # save the history index at most this often while writing
LOOSE_OBJECTS_LIMIT = 6_700  # pack when about this many loose objects (git's gc.auto)
PACKS_LIMIT = 20  # then repack everything into one pack

# A path edit: bytes to write a blob, None to delete a blob or a whole folder.
Edits = dict[tuple[str, ...], bytes | None]

_CACHE_CONFIGURED = False

def configure_cache() -> None:
    """Cap libgit2's object cache once per process (memory stays flat)."""
    global _CACHE_CONFIGURED
    if not _CACHE_CONFIGURED:
        pygit2.settings.cache_max_size(4 * 1024**2)
        _CACHE_CONFIGURED = True


def gitline_signature() -> pygit2.Signature:
    return pygit2.Signature(SIGNATURE_NAME, SIGNATURE_EMAIL)


# ------------------------------------------------------------------------------ trees


def lookup(repo: pygit2.Repository, tree: pygit2.Tree | None, path: tuple[str, ...]) -> Any:
    """The object at `path` under `tree` (a Tree or Blob), or None.

    A wide tree we wrote is walked through from its kept entries, never read back.
    """
    obj: Any = tree
    parts: dict[str, bytes] | None = None  # the kept entries of a wide tree, instead of obj
    for index, part in enumerate(path):
        if parts is not None:
            raw = parts.get(part)
            if raw is None or raw.startswith((b"160000 ", b"120000 ")):
                return None
            oid, is_tree = pygit2.Oid(raw=raw[-20:]), raw.startswith(b"40000 ")
        else:
            if not isinstance(obj, pygit2.Tree) or part not in obj:
                return None
            entry = obj[part]
            if entry.filemode in (FileMode.COMMIT, FileMode.LINK):
                return None
            oid, is_tree = entry.id, entry.filemode == FileMode.TREE
        parts = _WIDE.cached(repo, oid) if is_tree and index < len(path) - 1 else None
        obj = None if parts is not None else repo.get(oid)
    return obj


def _group(edits: Edits) -> dict[str, tuple[bool, bytes | None, Edits]]:
    """First component -> (has a leaf edit, leaf value, edits below it)."""
    groups: dict[str, tuple[bool, bytes | None, Edits]] = {}
    for path, value in edits.items():
        head, rest = path[0], path[1:]
        has_leaf, leaf, below = groups.get(head, (False, None, {}))
        if rest:
            below[rest] = value
        else:
            has_leaf, leaf = True, value
        groups[head] = (has_leaf, leaf, below)
    return groups


def build_tree(repo: pygit2.Repository, base: pygit2.Tree | None, edits: Edits) -> Any:
    """Apply `edits` to `base`, rewriting only touched trees; None if the result is empty.

    A None leaf deletes that entry (blob or folder); edits below a deleted entry then start
    from an empty folder, which is how a folder is replaced whole. Wide trees (resources/
    and jobs/ with hundreds of entries) go through _WideTrees, which skips re-reading them.
    """
    if base is not None and len(base) >= WIDE_TREE:
        return _WIDE.build(repo, base, edits)
    builder = repo.TreeBuilder(base) if base is not None else repo.TreeBuilder()
    for name, (has_leaf, leaf, below) in _group(edits).items():
        if has_leaf and leaf is not None:
            if below:
                raise ValueError(f"path is both a file and a folder: {name}")
            builder.insert(name, repo.create_blob(leaf), FileMode.BLOB)
            continue
        sub_oid = None
        if not has_leaf and name in (base or ()):
            entry = base[name]  # type: ignore[index]
            if entry.filemode == FileMode.TREE:
                sub_oid = entry.id
        if builder.get(name) is not None:
            builder.remove(name)
        if below:
            sub = _build_sub(repo, sub_oid, below)
            if sub is not None:
                builder.insert(name, sub, FileMode.TREE)
    if len(builder) == 0:
        return None
    return builder.write()


def get_tree(repo: pygit2.Repository, oid: Any) -> pygit2.Tree:
    """The tree `oid`: an entry of mode TREE, so a tree in the object database."""
    tree = repo.get(oid)
    assert isinstance(tree, pygit2.Tree), oid
    return tree


def get_blob(repo: pygit2.Repository, oid: Any) -> pygit2.Blob:
    """The blob `oid`: an entry of a blob mode, so a blob in the object database."""
    blob = repo.get(oid)
    assert isinstance(blob, pygit2.Blob), oid
    return blob


def entry_name(entry: pygit2.Object) -> str:
    """A tree entry's name (pygit2 types it optional: an object read by id has none)."""
    assert entry.name is not None
    return entry.name


def _build_sub(repo: pygit2.Repository, oid: Any, edits: Edits) -> Any:
    """build_tree on the folder `oid` (None: a new folder); a kept wide tree is not read."""
    if oid is None:
        return build_tree(repo, None, edits)
    if _WIDE.cached(repo, oid) is not None:
        return _WIDE.build(repo, oid, edits)
    return build_tree(repo, get_tree(repo, oid), edits)


WIDE_TREE = 128  # entries from which a tree is kept parsed in memory


class _WideTrees:
    """Writes wide trees from entries kept in memory, keyed by the tree's oid.

    Each version rewrites resources/ (1,000 entries: ~35 KB). Through a TreeBuilder that
    means inflating and parsing the tree the previous commit wrote (libgit2 caches no tree
    over 4 KB), copying it, sorting it, and writing it. Here the entries of the trees we
    wrote stay parsed, in git's order, each already encoded: a write changes one entry,
    joins the bytes and hands them to the object database. The result is the same object
    a TreeBuilder writes (`git fsck --strict` checks the order and modes).
    """

    KEEP = 16  # trees kept (a few per branch: resources/ and jobs/ of recent tips)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._trees: dict[tuple[str, Any], tuple[dict[str, bytes], list[str]]] = {}

    @staticmethod
    def _key(name: str, mode: int) -> bytes:
        return name.encode() + (b"/" if mode == FileMode.TREE else b"")

    @staticmethod
    def _entry(name: str, mode: int, oid: Any) -> bytes:
        return f"{mode:o} {name}".encode() + b"\0" + oid.raw

    def cached(self, repo: pygit2.Repository, oid: Any) -> dict[str, bytes] | None:
        """The kept entries (name -> encoded entry) of tree `oid`; do not modify."""
        with self._lock:
            found = self._trees.get((repo.path, oid))
        return None if found is None else found[0]

    def _parsed(self, repo: pygit2.Repository, tree: Any):
        key = tree if isinstance(tree, pygit2.Oid) else tree.id
        with self._lock:
            found = self._trees.get((repo.path, key))
        if found is not None:
            return dict(found[0]), list(found[1])
        if isinstance(tree, pygit2.Oid):
            tree = repo.get(tree)
        parts = {e.name: self._entry(e.name, e.filemode, e.id) for e in tree}
        order = sorted(parts, key=lambda n: self._key(n, tree[n].filemode))
        return parts, order

    def build(self, repo: pygit2.Repository, base: Any, edits: Edits) -> Any:
        """`base` is a wide Tree, or the oid of one whose entries are kept."""
        parts, order = self._parsed(repo, base)
        reorder = False
        entry: bytes | None
        for name, (has_leaf, leaf, below) in _group(edits).items():
            if has_leaf and leaf is not None:
                if below:
                    raise ValueError(f"path is both a file and a folder: {name}")
                entry = self._entry(name, FileMode.BLOB, repo.create_blob(leaf))
            else:
                sub_oid = None
                if not has_leaf and name in parts:  # `parts` holds exactly base's entries
                    sub_oid = self._subtree_oid(parts[name])
                sub = _build_sub(repo, sub_oid, below) if below else None
                entry = None if sub is None else self._entry(name, FileMode.TREE, sub)
            was = parts.get(name)
            if entry is None:
                if was is not None:
                    del parts[name]
                    reorder = True
            else:
                if was is None or was.startswith(b"40000 ") != entry.startswith(b"40000 "):
                    reorder = True
                parts[name] = entry
        if not parts:
            return None
        if reorder:
            order = sorted(parts, key=lambda n: n.encode() + (
                b"/" if parts[n].startswith(b"40000 ") else b""))
        oid = repo.odb.write(ObjectType.TREE, b"".join(parts[n] for n in order))
        with self._lock:
            if len(self._trees) >= self.KEEP:
                self._trees.pop(next(iter(self._trees)))
            self._trees[(repo.path, oid)] = (parts, order)
        return oid

    @staticmethod
    def _subtree_oid(entry: bytes) -> Any:
        return pygit2.Oid(raw=entry[-20:]) if entry.startswith(b"40000 ") else None


_WIDE = _WideTrees()


def root_tree(repo: pygit2.Repository, base: pygit2.Tree | None, edits: Edits) -> Any:
    oid = build_tree(repo, base, edits)
    return oid if oid is not None else repo.TreeBuilder().write()


def read_tree_files(
    repo: pygit2.Repository, tree: pygit2.Tree, prefix: str = ""
) -> dict[str, bytes]:
    """Every regular file below `tree`, by path relative to it."""
    files: dict[str, bytes] = {}
    for entry in tree:
        path = f"{prefix}{entry_name(entry)}"
        if entry.filemode == FileMode.TREE:
            files.update(read_tree_files(repo, get_tree(repo, entry.id), path + "/"))
        elif entry.filemode in (FileMode.BLOB, FileMode.BLOB_EXECUTABLE):
            files[path] = get_blob(repo, entry.id).data
    return files


# ------------------------------------------------------------------------- CAS commits


def clear_stale_lock(repo: pygit2.Repository, ref: str) -> bool:
    """Remove `<ref>.lock` if a killed writer left it; True if removed."""
    return reflock.clear_stale_lock(repo.path, ref, STALE_LOCK_SECONDS)


def _update_ref(
    repo: pygit2.Repository,
    ref: str,
    tip: pygit2.Commit | None,
    tree: Any,
    message: str,
    author: pygit2.Signature,
    committer: pygit2.Signature,
) -> str:
    with reflock.updating(repo.path, ref):
        if tip is None:
            # A root commit: create the ref only if nobody else has (force=False).
            oid = repo.create_commit(None, author, committer, message, tree, [])
            repo.references.create(ref, oid, force=False)
        else:
            oid = repo.create_commit(ref, author, committer, message, tree, [tip.id])
        return str(oid)


def branch_tip(repo: pygit2.Repository, ref: str) -> pygit2.Commit | None:
    reference = repo.references.get(ref)
    if reference is None:
        return None
    target = repo.get(reference.resolve().target)
    assert target is not None, ref  # a ref names an object that exists
    return target.peel(pygit2.Commit)


def cas_commit(
    repo: pygit2.Repository,
    ref: str,
    change: Callable[[pygit2.Commit | None], tuple[Edits, str]],
    *,
    author: pygit2.Signature | None = None,
    committer: pygit2.Signature | None = None,
) -> str:
    """Append one commit to `ref`: `change(tip)` -> (edits, message), retried on a race."""
    author = author or gitline_signature()
    committer = committer or gitline_signature()
    deadline = time.monotonic() + WRITE_DEADLINE_SECONDS
    attempt = 0
    while True:
        tip = branch_tip(repo, ref)
        edits, message = change(tip)
        tree = root_tree(repo, tip.tree if tip else None, edits)
        try:
            return _update_ref(repo, ref, tip, tree, message, author, committer)
        except (pygit2.GitError, OSError, ValueError) as e:
            if time.monotonic() > deadline:
                raise StateWriteError(f"could not update {ref}: {e}") from e
            clear_stale_lock(repo, ref)
            attempt += 1
            reflock.back_off(attempt)


# ---------------------------------------------------------------------------- messages


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def format_message(subject: str, trailers: list[tuple[str, str]]) -> str:
    lines = [f"Gitline-{key}: {one_line(value)}" for key, value in trailers if value != ""]
    return one_line(subject) + "\n\n" + "\n".join(lines) + "\n"


def version_subject(version: model.Version) -> str:
    named = f" ({version.name})" if version.name else ""
    source = f" from {version.created_by}" if version.created_by else ""
    return f"{version.resource}: version {version.number}{named}{source}"


def run_subject(run: model.Run) -> str:
    if run.status == "queued":
        what = f"queued ({run.cause})"
    elif run.status == "running":
        what = "started"
    elif run.status == "failed" and run.exit_code is not None:
        what = f"failed (exit {run.exit_code})"
    else:
        what = run.status.replace("_", " ")
    return f"{run.job}: run {run.number} {what}"


# ------------------------------------------------------------------------------ store

KEEP_TRIGGER_ERRORS = 20  # rejected triggers listed in controller/config.yml


class GitStateStore:
    """StateStore on `refs/heads/<branch>` of a (bare) repository, via pygit2."""

    def __init__(self, repo_path: str | os.PathLike[str], branch: str = "state", *,
                 ref: str = "") -> None:
        """`ref` reads another ref than refs/heads/<branch> (a clone's
        refs/remotes/origin/state); such a store is only read."""
        configure_cache()
        self._repo = pygit2.Repository(str(repo_path))
        self._ref = ref or f"refs/heads/{check_branch(branch)}"
        self._lock = threading.RLock()  # one writer (and reader) at a time on this repo object
        self._cache: dict[Any, Any] = {}  # oid -> parsed record / JobHistory
        self._snapshot: model.Snapshot | None = None
        self._index_tip = ""  # the state commit at which self._latest is exact
        self._latest: dict[str, str] = {}  # object name -> sha of its newest commit
        self._index_path = statebranch.index_path(self._repo.path, branch)
        self._index_saved = 0.0
        self._index_loaded = False
        self._maintaining: threading.Thread | None = None

    # --- reading helpers

    def tip(self) -> str:
        """Sha of the state branch, "" if it does not exist yet."""
        with self._lock:
            commit = branch_tip(self._repo, self._ref)
            return str(commit.id) if commit else ""

    def _cached(self, key: Any, parse: Callable[[], Any]) -> Any:
        if key in self._cache:
            return self._cache[key]
        if len(self._cache) >= CACHE_ENTRIES:
            self._cache.clear()
        value = self._cache[key] = parse()
        return value

    def _record(self, tree: pygit2.Tree | None, path: tuple[str, ...], kind: str) -> Any:
        """Parsed YAML at `path` ("version", "run" or "dict"), cached by blob oid."""
        blob = lookup(self._repo, tree, path)
        if not isinstance(blob, pygit2.Blob):
            return None
        parsers: dict[str, Callable[[bytes], Any]] = {
            "version": yamlio.version_from_yaml,
            "run": yamlio.run_from_yaml,
            "dict": yamlio.load_mapping,
        }
        return self._cached((kind, blob.id), lambda: parsers[kind](blob.data))

    def _job_history(self, job_tree: pygit2.Tree) -> model.JobHistory:
        def parse() -> model.JobHistory:
            runs: list[model.Run] = []
            active = lookup(self._repo, job_tree, ("active",))
            if isinstance(active, pygit2.Tree):
                for entry in active:
                    if entry_name(entry).endswith(".yml"):
                        runs.append(self._record(active, (entry_name(entry),), "run"))
            return statebranch.job_history(runs, self._record(job_tree, ("run.yml",), "run"),
                                           self._record(job_tree, ("job.yml",), "dict") or {})

        return self._cached(("job", job_tree.id), parse)

    def _subtrees(self, tree: pygit2.Tree, name: str) -> Iterator[tuple[str, pygit2.Tree]]:
        folder = lookup(self._repo, tree, (name,))
        if not isinstance(folder, pygit2.Tree):
            return
        for entry in folder:
            if entry.filemode == FileMode.TREE and model.is_safe_name(entry_name(entry)):
                yield entry_name(entry), get_tree(self._repo, entry.id)

    # --- StateStore: reads

    def read_snapshot(self) -> model.Snapshot:
        with self._lock:
            tip = branch_tip(self._repo, self._ref)
            if tip is None:
                return model.Snapshot()
            if self._snapshot is not None and self._snapshot.tip == str(tip.id):
                return self._snapshot
            tree = tip.tree
            versions: dict[str, model.Version] = {}
            for name, sub in self._subtrees(tree, RESOURCES):
                version = self._record(sub, ("version.yml",), "version")
                if version is not None:
                    versions[name] = version
            jobs = {name: self._job_history(sub) for name, sub in self._subtrees(tree, JOBS)}
            config = self._record(tree, statebranch.CONFIG_RECORD, "dict") or {}
            self._snapshot = statebranch.snapshot(versions, jobs, config, str(tip.id))
            return self._snapshot

    def read_files(self, prefix: str, at: str = "") -> dict[str, bytes]:
        """Files under `prefix` at the tip, or at commit `at` of the state branch."""
        parts = split_path(prefix.strip("/"))
        with self._lock:
            tip = self._repo.get(at) if at else branch_tip(self._repo, self._ref)
            if tip is not None and not isinstance(tip, pygit2.Commit):
                raise ValueError(f"{at} is not a commit")
            folder = lookup(self._repo, tip.tree if tip else None, parts)
            if not isinstance(folder, pygit2.Tree):
                return {}
            return read_tree_files(self._repo, folder)

    def read_config_record(self) -> dict[str, Any]:
        with self._lock:
            tip = branch_tip(self._repo, self._ref)
            record = self._record(tip.tree if tip else None, statebranch.CONFIG_RECORD, "dict")
            return copy.deepcopy(record or {})

    # --- the history index

    def _load_index(self) -> None:
        self._index_loaded = True
        saved = statebranch.read_index(self._index_path)
        if saved is not None and saved[0] in self._repo:  # else a walk rebuilds it
            self._index_tip, self._latest = saved

    def _save_index(self) -> None:
        """Write the index atomically; a failure (a full disk) only costs a longer walk."""
        self._index_saved = time.monotonic()
        statebranch.save_index(self._index_path, self._index_tip, self._latest)

    def _catch_up(self, tip: pygit2.Commit | None) -> None:
        """Make self._latest exact at `tip`: walk back to the indexed tip, or to the root."""
        if not self._index_loaded:
            self._load_index()
        if tip is None:
            self._index_tip, self._latest = "", {}
            return
        if self._index_tip == str(tip.id):
            return
        newer, reached, walked = statebranch.walk_back(tip, self._index_tip, self._commit)
        if reached:
            self._latest.update(newer)
        else:  # the indexed tip is not an ancestor: what was walked is all
            self._latest = newer
        self._index_tip = str(tip.id)
        if walked > statebranch.INDEX_SAVE_WALK:
            self._save_index()

    def _advance_index(self, parent: str, sha: str, names: tuple[str, ...]) -> None:
        if self._index_tip != parent:
            return  # someone else wrote in between; the next read catches up
        for name in names:
            self._latest[name] = sha
        self._index_tip = sha
        if time.monotonic() - self._index_saved > INDEX_SAVE_SECONDS:
            self._save_index()

    def _previous(self, tip: pygit2.Commit | None, name: str) -> str:
        self._catch_up(tip)
        return self._latest.get(name, "none")

    def _walk(self, name: str) -> Iterator[tuple[Any, dict[str, str]]]:
        """Commits of `name`, newest first (statebranch.chain from the index)."""
        self._catch_up(branch_tip(self._repo, self._ref))
        return statebranch.chain(name, self._latest.get(name), self._commit)

    def _commit(self, oid: Any) -> pygit2.Commit | None:
        """The commit `oid` (trailers and parents name only commits), None if missing."""
        commit = self._repo.get(oid)
        assert commit is None or isinstance(commit, pygit2.Commit), oid
        return commit

    def _record_at(self, commit: pygit2.Commit, path: tuple[str, ...], kind: str) -> Any:
        return self._record(commit.tree, path, kind)

    def history(self, name: str, limit: int = 100) -> Iterator[HistoryEntry]:
        """Versions of a resource or runs of a job (one per run number), newest first."""
        check_name(name)
        with self._lock:
            return iter(statebranch.history(name, limit, self._walk(name), self._record_at))

    def read_log(self, job: str, number: int | None = None) -> str | None:
        check_name(job, "job name")
        with self._lock:
            commit = branch_tip(self._repo, self._ref)
            if number is not None:
                commit = statebranch.finished_run_commit(job, number, self._walk(job))
            blob = lookup(self._repo, commit.tree if commit else None, (JOBS, job, "log.txt"))
            if not isinstance(blob, pygit2.Blob):
                return None
            return blob.data.decode("utf-8", errors="replace")

    # --- housekeeping

    def loose_objects(self) -> int:
        """About how many loose objects there are, from one fan-out folder (as git does)."""
        try:
            with os.scandir(Path(self._repo.path) / "objects" / "17") as entries:
                return 256 * sum(1 for _ in entries)
        except FileNotFoundError:
            return 0

    def maintain(self, *, limit: int = LOOSE_OBJECTS_LIMIT, wait: bool = False) -> bool:
        """Pack loose objects in the background when they pile up; True if it started.

        Every commit leaves 4-5 loose objects and nothing packs them (`gitline init` turns
        auto-gc off so that pushes never pay for it); 50k commits leave 200k files and slow
        every read. `git repack -d` packs them into one new pack (`-a`: all packs into one,
        once there are PACKS_LIMIT of them). It is safe beside pushes and our own writes:
        it deletes only loose objects it has just packed, and it deletes nothing that is
        unreachable (an object written for a commit not yet on a ref stays loose).
        Also saves the history index.
        """
        with self._lock:
            if self._index_tip:
                self._save_index()
        if self._maintaining is not None and self._maintaining.is_alive():
            if wait:
                self._maintaining.join()
            return False
        if self.loose_objects() < limit:
            return False
        packs = Path(self._repo.path) / "objects" / "pack"
        whole = len(list(packs.glob("pack-*.pack"))) >= PACKS_LIMIT
        cmd = ["git", "--git-dir", str(self._repo.path), "repack", "-d", "-q",
               *(["-a"] if whole else [])]

        # then the commit-graph with changed-path Bloom filters, incrementally (--split):
        # a user's `git log -- resources/<name>` skips the commits that did not touch it
        graph = ["git", "--git-dir", str(self._repo.path), "commit-graph", "write",
                 "--reachable", "--changed-paths", "--split"]

        def run() -> None:
            started = time.monotonic()
            for what, argv in (("repack", cmd), ("commit-graph write", graph)):
                try:
                    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
                except (OSError, subprocess.SubprocessError) as err:
                    log.warning("git %s failed: %s", what, err)
                    return
                if done.returncode != 0:
                    log.warning("git %s failed (%d): %s", what, done.returncode,
                                done.stderr.strip())
                    return
            log.info("packed loose objects and wrote the commit-graph in %.1f s",
                     time.monotonic() - started)

        self._maintaining = threading.Thread(target=run, name="gitline-repack", daemon=True)
        self._maintaining.start()
        if wait:
            self._maintaining.join()
        return True

    # --- StateStore: writes

    def _append(
        self,
        change: Callable[[pygit2.Commit | None], tuple[Edits, str]],
        *,
        name: str = "",
        update: Callable[[model.Snapshot, pygit2.Commit | None], model.Snapshot] | None = None,
    ) -> str:
        """One CAS commit; `name` gets a Previous trailer, `update` keeps the snapshot.

        `update(snapshot, tip)` returns the snapshot after this write, given the one at
        its parent; without it the snapshot is read again next time.
        """
        parent: list[pygit2.Commit | None] = [None]

        def traced(tip: pygit2.Commit | None) -> tuple[Edits, str]:
            parent[0] = tip
            edits, message = change(tip)
            if name:
                message += f"Gitline-Previous: {self._previous(tip, name)}\n"
            return edits, message

        with self._lock:
            sha = cas_commit(self._repo, self._ref, traced)
            tip = parent[0]
            parent_sha = str(tip.id) if tip is not None else ""
            self._advance_index(parent_sha, sha, (name,) if name else ())
            snap = self._snapshot
            if update is not None and snap is not None and snap.tip == parent_sha and (
                    tip is not None or not snap.tip):
                self._snapshot = replace(update(snap, tip), tip=sha)
            else:
                self._snapshot = None
            return sha

    def append_version(self, version: model.Version, *, subject: str = "") -> str:
        name = check_name(version.resource, "resource name")
        text = yamlio.version_to_yaml(version).encode()
        edits: Edits = {(RESOURCES, name, "version.yml"): text}
        if version.files is not None:
            edits.update(_folder_edits((RESOURCES, name, "files"), version.files))
        message = format_message(
            subject or version_subject(version),
            [
                ("Resource", name),
                ("Version", str(version.number)),
                ("Cause", version.created_by),
                ("Config", version.config_commit),
            ],
        )
        written = yamlio.version_from_yaml(text)

        def update(snap: model.Snapshot, tip: pygit2.Commit | None) -> model.Snapshot:
            return replace(snap, versions={**snap.versions, name: written})

        return self._append(lambda tip: (edits, message), name=name, update=update)

    def record_run(
        self,
        run: model.Run,
        *,
        log: str | None = None,
        state_files: dict[str, bytes] | None = None,
        subject: str = "",
    ) -> str:
        job = check_name(run.job, "job name")
        fixed: Edits = {}
        if state_files is not None:
            fixed.update(_folder_edits((JOBS, job, "state"), state_files))
        if log is not None:
            fixed[(JOBS, job, "log.txt")] = log.encode("utf-8")
        message = format_message(
            subject or run_subject(run),
            [
                ("Job", job),
                ("Run", str(run.number)),
                ("Status", run.status),
                ("Cause", str(run.cause)),
                ("Config", run.config_commit),
                ("Worker", run.worker),
            ],
        )

        def change(tip: pygit2.Commit | None) -> tuple[Edits, str]:
            edits = dict(fixed)
            edits.update(self._run_edits(tip.tree if tip else None, run))
            return edits, message

        def update(snap: model.Snapshot, tip: pygit2.Commit | None) -> model.Snapshot:
            old = snap.jobs.get(job, model.JobHistory())
            return replace(snap, jobs={**snap.jobs, job: self._with_run(old, tip, run)})

        return self._append(change, name=job, update=update)

    def _with_run(
        self, old: model.JobHistory, tip: pygit2.Commit | None, run: model.Run
    ) -> model.JobHistory:
        """The job's history after recording `run` on `tip` (as _job_history would read it)."""
        written = yamlio.run_from_yaml(yamlio.run_to_yaml(run))
        folder = (JOBS, run.job)
        tree = tip.tree if tip else None
        newest = self._record(tree, (*folder, "run.yml"), "run")
        if newest is None or run.number >= newest.number:
            newest = written
        active = [r for r in old.active if r.number != run.number]
        if run.status not in model.FINISHED:
            active.append(written)
        active.sort(key=lambda r: r.number)
        last = newest
        if active and active[-1].number > last.number:
            last = active[-1]
        counters = self._record(tree, (*folder, "job.yml"), "dict") or {}
        last_ok = int(counters.get("lastSucceeded") or 0)
        if run.status == "succeeded" and run.number > last_ok:
            last_ok = run.number
        return model.JobHistory(last=last, last_succeeded=last_ok, active=tuple(active))

    def _run_edits(self, tree: pygit2.Tree | None, run: model.Run) -> Edits:
        """run.yml, job.yml, active/<n>.yml (and finished.yml) for `run` on top of `tree`."""
        folder = (JOBS, run.job)
        text = yamlio.run_to_yaml(run).encode()
        counters = self._record(tree, (*folder, "job.yml"), "dict") or {}
        last_run = int(counters.get("lastRun") or 0)
        last_ok = int(counters.get("lastSucceeded") or 0)
        if run.status == "succeeded" and run.number > last_ok:
            last_ok = run.number
        job_yml = {"lastRun": max(last_run, run.number), "lastSucceeded": last_ok}
        edits: Edits = {(*folder, "job.yml"): yamlio.dump(job_yml).encode()}
        newest = self._record(tree, (*folder, "run.yml"), "run")
        if newest is None or run.number >= newest.number:
            edits[(*folder, "run.yml")] = text
        active = (*folder, "active", f"{run.number}.yml")
        if run.status in model.FINISHED:
            edits[active] = None
            edits[(*folder, "finished.yml")] = text
        else:
            edits[active] = text
        return edits

    def record_config(
        self,
        *,
        processed: str,
        good: str,
        problems: tuple[model.Problem, ...],
        triggers: tuple[model.TriggerRequest, ...] = (),
        waiting: tuple[model.TriggerRequest, ...] | None = None,
        names: model.Workflow | None = None,
        subject: str = "",
    ) -> str:
        """controller/config.yml after a push: what was processed, what loads, its
        problems, refused triggers (kept with earlier ones) and waiting ones (None: as
        they are)."""
        trigger_errors = [
            {"job": t.job, "commit": t.commit, "author": t.author, "path": t.path, "error": t.error}
            for t in triggers
            if t.error
        ]
        record = {
            "processed": processed,
            "good": good,
            "problems": [str(p) for p in problems],
            "triggerErrors": trigger_errors,
            # what `gitline trigger` checks a name against, without loading the YAML
            **({} if names is None else {"jobs": sorted(names.jobs),
                                         "resources": sorted(names.resources)}),
        }
        errors = sum(1 for p in problems if p.severity == "error") + len(trigger_errors)
        plural = "" if errors == 1 else "s"
        message = format_message(
            subject or f"config: processed {processed[:7]} ({errors} error{plural})",
            [("Config", processed)],
        )

        def change(tip: pygit2.Commit | None) -> tuple[Edits, str]:
            old = self._config_record(tip)
            kept = _kept_trigger_errors(old, trigger_errors)
            still = old.get("waitingTriggers") or [] if waiting is None else \
                statebranch.waiting_record(waiting)
            text = yamlio.dump({**record, "triggerErrors": kept,
                                **({"waitingTriggers": still} if still else {})}).encode()
            return {("controller", "config.yml"): text}, message

        def update(snap: model.Snapshot, tip: pygit2.Commit | None) -> model.Snapshot:
            return replace(snap, processed_commit=processed, good_commit=good,
                           waiting_triggers=snap.waiting_triggers if waiting is None
                           else waiting)

        return self._append(change, update=update)

    def record_waiting(self, waiting: tuple[model.TriggerRequest, ...],
                       refused: tuple[model.TriggerRequest, ...] = ()) -> str:
        """The trigger files still waiting (the others ran, or are `refused` now)."""
        errors = [{"job": t.job, "commit": t.commit, "author": t.author, "path": t.path,
                   "error": t.error} for t in refused]
        ran = "no trigger waits" if not waiting else f"{len(waiting)} waiting"
        message = format_message(f"config: trigger files: {ran}"
                                 + (f", {len(errors)} refused" if errors else ""), [])

        def change(tip: pygit2.Commit | None) -> tuple[Edits, str]:
            record = dict(self._config_record(tip))
            record["triggerErrors"] = _kept_trigger_errors(record, errors)
            record.pop("waitingTriggers", None)
            if waiting:
                record["waitingTriggers"] = statebranch.waiting_record(waiting)
            return {("controller", "config.yml"): yamlio.dump(record).encode()}, message

        def update(snap: model.Snapshot, tip: pygit2.Commit | None) -> model.Snapshot:
            return replace(snap, waiting_triggers=waiting)

        return self._append(change, update=update)

    def _config_record(self, tip: pygit2.Commit | None) -> dict[str, Any]:
        record = self._record(tip.tree if tip else None, ("controller", "config.yml"), "dict")
        return record if isinstance(record, dict) else {}

    def record_deliveries(self, job: str, number: int, deliveries: list[dict[str, Any]]) -> str:
        """`notifications/<job>.yml`: how the notices of run `number` were delivered.

        Trailers name the job as `Gitline-Notify` (not `Gitline-Job`), so run history and
        logs never mistake this commit for one of the run's own records.
        """
        job = check_name(job, "job name")
        path = ("notifications", f"{job}.yml")

        def change(tip: pygit2.Commit | None) -> tuple[Edits, str]:
            # on_start notices are recorded as the run starts; the rest join them at its end
            blob = lookup(self._repo, tip.tree if tip else None, path)
            old = yamlio.load_mapping(blob.data) if isinstance(blob, pygit2.Blob) else {}
            earlier = old.get("deliveries") if old.get("run") == number else None
            every = [*(earlier if isinstance(earlier, list) else []), *deliveries]
            counts: dict[str, int] = {}
            for d in every:  # the subject sums up the whole record
                counts[str(d.get("status"))] = counts.get(str(d.get("status")), 0) + 1
            summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"
            record = {"job": job, "run": number, "deliveries": every}
            message = format_message(f"{job}: run {number} notifications: {summary}",
                                     [("Notify", job), ("Run", str(number))])
            return {path: yamlio.dump(record).encode()}, message

        return self._append(change)


def _kept_trigger_errors(record: dict[str, Any], new: list[dict[str, str]]
                         ) -> list[dict[str, str]]:
    """Earlier trigger errors of config.yml's `record` stay listed (newest last, at most
    KEEP_TRIGGER_ERRORS): the next push must not hide a rejected trigger from status."""
    old = record.get("triggerErrors") or []
    fresh = {(e["commit"], e["path"]) for e in new}
    kept = [e for e in old if isinstance(e, dict)
            and (e.get("commit"), e.get("path")) not in fresh]
    return (kept + new)[-KEEP_TRIGGER_ERRORS:]


def _folder_edits(folder: tuple[str, ...], files: dict[str, bytes]) -> Edits:
    """Replace `folder` whole with `files` (checked: nothing may escape the folder)."""
    edits: Edits = {folder: None}
    for path, content in files.items():
        if not isinstance(content, bytes):
            raise TypeError(f"file {path!r}: content must be bytes")
        edits[(*folder, *split_path(path))] = content
    return edits

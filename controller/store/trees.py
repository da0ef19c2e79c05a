"""Git trees through pygit2: reading objects at a path, and writing edited trees.

Shared by every writer of a branch without a working tree (gitstate.py, and the reads
of configrepo.py). An edit rewrites only the trees on its paths: unchanged subtrees keep
their oids. Wide trees (resources/ and jobs/ with hundreds of entries) are written from
entries kept in memory (WideTrees), so a write never reads them back.
"""

from __future__ import annotations

import threading
from typing import NamedTuple

import pygit2
from pygit2.enums import FileMode, ObjectType

from controller.store import packwrite
from controller.store.statebranch import split_path

# A path edit: bytes to write a blob, None to delete a blob or a whole folder.
Edits = dict[tuple[str, ...], bytes | None]

WIDE_TREE = 128  # entries from which a tree is kept parsed in memory


class EntryEdit(NamedTuple):
    """What a set of edits does to one entry of a tree."""

    edited: bool  # the entry itself is set (to `content`) or, if `content` is None, deleted
    content: bytes | None
    below: Edits  # edits of paths inside the entry (a folder), relative to it


def edits_by_entry(edits: Edits) -> dict[str, EntryEdit]:
    """The edits of each entry of a tree, by entry name (each path's first component)."""
    by_entry: dict[str, EntryEdit] = {}
    for path, value in edits.items():
        name, rest = path[0], path[1:]
        found = by_entry.get(name, EntryEdit(False, None, {}))
        if rest:
            found.below[rest] = value
        else:
            found = found._replace(edited=True, content=value)
        by_entry[name] = found
    return by_entry


def folder_edits(folder: tuple[str, ...], files: dict[str, bytes]) -> Edits:
    """Replace `folder` whole with `files` (checked: nothing may escape the folder)."""
    edits: Edits = {folder: None}
    for path, content in files.items():
        if not isinstance(content, bytes):
            raise TypeError(f"file {path!r}: content must be bytes")
        edits[(*folder, *split_path(path))] = content
    return edits


# ------------------------------------------------------------------------------ reading


def get_tree(repo: pygit2.Repository, oid: pygit2.Oid) -> pygit2.Tree:
    """The tree `oid`: an entry of mode TREE, so a tree in the object database."""
    tree = repo.get(oid)
    assert isinstance(tree, pygit2.Tree), oid
    return tree


def get_blob(repo: pygit2.Repository, oid: pygit2.Oid) -> pygit2.Blob:
    """The blob `oid`: an entry of a blob mode, so a blob in the object database."""
    blob = repo.get(oid)
    assert isinstance(blob, pygit2.Blob), oid
    return blob


def entry_name(entry: pygit2.Object) -> str:
    """A tree entry's name (pygit2 types it optional: an object read by id has none)."""
    assert entry.name is not None
    return entry.name


def object_at(
    repo: pygit2.Repository, tree: pygit2.Tree | None, path: tuple[str, ...]
) -> pygit2.Object | None:
    """The object at `path` under `tree` (a Tree or Blob), or None.

    A wide tree we wrote is walked through from its kept entries, never read back.
    """
    obj: pygit2.Object | None = tree
    kept: dict[str, bytes] | None = None  # the kept entries of a wide tree, instead of obj
    for index, part in enumerate(path):
        if kept is not None:
            raw = kept.get(part)
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
        kept = _KEPT_WIDE_TREES.entries(repo, oid) if is_tree and index < len(path) - 1 \
            else None
        obj = None if kept is not None else repo.get(oid)
    return obj


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


# ------------------------------------------------------------------------------ writing


def build_tree(repo: pygit2.Repository, base: pygit2.Tree | None,
               edits: Edits) -> pygit2.Oid | None:
    """Apply `edits` to `base`, rewriting only touched trees; None if the result is empty.

    A None leaf deletes that entry (blob or folder); edits below a deleted entry then start
    from an empty folder, which is how a folder is replaced whole. Wide trees go through
    WideTrees, which skips re-reading them.
    """
    if base is not None and len(base) >= WIDE_TREE:
        return _KEPT_WIDE_TREES.build(repo, base, edits)
    builder = repo.TreeBuilder(base) if base is not None else repo.TreeBuilder()
    for name, edit in edits_by_entry(edits).items():
        if edit.edited and edit.content is not None:
            if edit.below:
                raise ValueError(f"path is both a file and a folder: {name}")
            builder.insert(name, _blob(repo, edit.content), FileMode.BLOB)
            continue
        folder_oid = None
        if not edit.edited and base is not None and name in base:
            entry = base[name]
            if entry.filemode == FileMode.TREE:
                folder_oid = entry.id
        if builder.get(name) is not None:
            builder.remove(name)
        if edit.below:
            folder = build_folder(repo, folder_oid, edit.below)
            if folder is not None:
                builder.insert(name, folder, FileMode.TREE)
    if len(builder) == 0:
        return None
    return builder.write()


def build_folder(repo: pygit2.Repository, oid: pygit2.Oid | None,
                 edits: Edits) -> pygit2.Oid | None:
    """build_tree on the folder `oid` (None: a new folder); a kept wide tree is not read."""
    if oid is None:
        return build_tree(repo, None, edits)
    if _KEPT_WIDE_TREES.entries(repo, oid) is not None:
        return _KEPT_WIDE_TREES.build(repo, oid, edits)
    return build_tree(repo, get_tree(repo, oid), edits)


_WRITING = threading.local()  # .blobs: content -> oid, the blobs of the root_tree running


def _blob(repo: pygit2.Repository, content: bytes) -> pygit2.Oid:
    """The blob of `content`, written once per commit: a commit of many run records has
    the same run.yml and active/<n>.yml, the same job.yml in many folders (writing an
    object that exists still costs libgit2 a hash, a lookup and a file time update)."""
    blobs: dict[bytes, pygit2.Oid] | None = getattr(_WRITING, "blobs", None)
    if blobs is None:
        return repo.create_blob(content)
    oid = blobs.get(content)
    if oid is None:
        oid = blobs[content] = repo.create_blob(content)
    return oid


def root_tree(repo: pygit2.Repository, base: pygit2.Tree | None, edits: Edits) -> pygit2.Oid:
    """build_tree for a commit's root: an empty result is the empty tree."""
    _WRITING.blobs = {}
    try:
        oid = build_tree(repo, base, edits)
    finally:
        _WRITING.blobs = None
    return oid if oid is not None else repo.TreeBuilder().write()


class WideTrees:
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
        # (repository path, tree oid) -> (name -> encoded entry, names in git's order)
        self._trees: dict[tuple[str, pygit2.Oid], tuple[dict[str, bytes], list[str]]] = {}

    @staticmethod
    def _sort_key(name: str, mode: int) -> bytes:
        return name.encode() + (b"/" if mode == FileMode.TREE else b"")

    @staticmethod
    def _encoded(name: str, mode: int, oid: pygit2.Oid) -> bytes:
        return f"{mode:o} {name}".encode() + b"\0" + oid.raw

    def entries(self, repo: pygit2.Repository, oid: pygit2.Oid) -> dict[str, bytes] | None:
        """The kept entries (name -> encoded entry) of tree `oid`; do not modify."""
        with self._lock:
            found = self._trees.get((repo.path, oid))
        return None if found is None else found[0]

    def _parsed(self, repo: pygit2.Repository,
                tree: pygit2.Tree | pygit2.Oid) -> tuple[dict[str, bytes], list[str]]:
        key = tree if isinstance(tree, pygit2.Oid) else tree.id
        with self._lock:
            found = self._trees.get((repo.path, key))
        if found is not None:
            return dict(found[0]), list(found[1])
        if isinstance(tree, pygit2.Oid):
            tree = get_tree(repo, tree)
        encoded = {entry_name(e): self._encoded(entry_name(e), e.filemode, e.id) for e in tree}
        order = sorted(encoded, key=lambda n: self._sort_key(n, tree[n].filemode))
        return encoded, order

    def build(self, repo: pygit2.Repository, base: pygit2.Tree | pygit2.Oid,
              edits: Edits) -> pygit2.Oid | None:
        """`base` is a wide Tree, or the oid of one whose entries are kept."""
        encoded, order = self._parsed(repo, base)
        reorder = False
        entry: bytes | None
        for name, edit in edits_by_entry(edits).items():
            if edit.edited and edit.content is not None:
                if edit.below:
                    raise ValueError(f"path is both a file and a folder: {name}")
                entry = self._encoded(name, FileMode.BLOB, _blob(repo, edit.content))
            else:
                folder_oid = None
                if not edit.edited and name in encoded:  # exactly base's entries
                    folder_oid = self._folder_oid(encoded[name])
                folder = build_folder(repo, folder_oid, edit.below) if edit.below else None
                entry = None if folder is None else self._encoded(name, FileMode.TREE, folder)
            was = encoded.get(name)
            if entry is None:
                if was is not None:
                    del encoded[name]
                    reorder = True
            else:
                if was is None or was.startswith(b"40000 ") != entry.startswith(b"40000 "):
                    reorder = True
                encoded[name] = entry
        if not encoded:
            return None
        if reorder:
            order = sorted(encoded, key=lambda n: n.encode() + (
                b"/" if encoded[n].startswith(b"40000 ") else b""))
        oid = packwrite.write(repo, ObjectType.TREE,
                              b"".join(map(encoded.__getitem__, order)))
        with self._lock:
            if len(self._trees) >= self.KEEP:
                self._trees.pop(next(iter(self._trees)))
            self._trees[(repo.path, oid)] = (encoded, order)
        return oid

    @staticmethod
    def _folder_oid(entry: bytes) -> pygit2.Oid | None:
        return pygit2.Oid(raw=entry[-20:]) if entry.startswith(b"40000 ") else None


_KEPT_WIDE_TREES = WideTrees()  # one per process: every store of every repository shares it

"""Records of the state branch read through pygit2, parsed once per blob.

A snapshot of 1,000 jobs and 1,000 resources is ~3k records; most blobs are the same
from one tip to the next, so each is parsed once (keyed by kind and blob oid) and kept
until the cache fills up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pygit2
from pygit2.enums import FileMode

from controller.core import model
from controller.store.statebranch import RECORD_PARSERS
from controller.store.trees import entry_name, get_tree, object_at

# parsed records kept: a snapshot of 5,000 jobs + 5,000 resources needs ~10k (at 5k the
# cache was cleared on every read of it, and each push's answer parsed them all again)
CACHE_ENTRIES = 40_000


class RecordCache:
    """Parsed records at paths of the trees of `repo`, cached by blob (or tree) oid."""

    def __init__(self, repo: pygit2.Repository) -> None:
        self.repo = repo
        self._parsed: dict[Any, Any] = {}  # (kind, oid) -> parsed record / JobHistory

    def cached(self, key: Any, parse: Callable[[], Any]) -> Any:
        """`parse()`, or what it returned before for `key`."""
        if key in self._parsed:
            return self._parsed[key]
        if len(self._parsed) >= CACHE_ENTRIES:
            self._parsed.clear()
        value = self._parsed[key] = parse()
        return value

    def parsed(self, kind: str, data: bytes, value: Any = None) -> Any:
        """The record in `data` as `record` reads its blob once written: `value` if given
        (what `data` was made from, parsing to the same), else `data` parsed; kept by
        the blob's id, so a write that read it parses nothing when it is read back."""
        key = (kind, pygit2.hash(data))
        if value is not None:
            return self.cached(key, lambda: value)
        return self.cached(key, lambda: RECORD_PARSERS[kind](data))

    def record(self, tree: pygit2.Tree | None, path: tuple[str, ...], kind: str) -> Any:
        """Parsed YAML at `path` ("version", "run" or "dict"), cached by blob oid."""
        blob = object_at(self.repo, tree, path)
        if not isinstance(blob, pygit2.Blob):
            return None
        return self.cached((kind, blob.id), lambda: RECORD_PARSERS[kind](blob.data))

    def record_at(self, commit: pygit2.Commit, path: tuple[str, ...], kind: str) -> Any:
        """record() in the tree of `commit` (statebranch.Record)."""
        return self.record(commit.tree, path, kind)

    def subtrees(self, tree: pygit2.Tree, name: str) -> Iterator[tuple[str, pygit2.Tree]]:
        """The folders of folder `name` whose names are safe, by name."""
        folder = object_at(self.repo, tree, (name,))
        if not isinstance(folder, pygit2.Tree):
            return
        for entry in folder:
            if entry.filemode == FileMode.TREE and model.is_safe_name(entry_name(entry)):
                yield entry_name(entry), get_tree(self.repo, entry.id)

"""History of one object in O(its versions): `Gitline-Previous` chains and their index.

Every version or run commit names the previous commit of the same object in a
`Gitline-Previous` trailer ("none" for the first). An index (object name -> sha of its
newest commit, exact at one tip) finds where a chain starts. It lives in memory, is kept
in step by every append (`advance`), and is saved now and then to
`<repo>/gitline/index-<branch>.json`; a reader catches up from the saved tip with a short
first-parent walk (a full walk only when there is no usable index). Commits written
before the trailer existed are followed by a first-parent walk.

No pygit2 here: the controller (gitstate.py, pygit2 commits) and the one-shot CLI
(statereader.py, `git cat-file` commits) share it, through statebranch.Commit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Generic

from controller.atomicfile import write_atomic
from controller.store.commitmessages import NAME_KEYS, trailer_groups, trailers_of
from controller.store.statebranch import C

INDEX_SAVE_WALK = 500  # a reader saves the index after a catch-up walk longer than this
INDEX_SAVE_SECONDS = 2.0  # a writer saves the index at most this often


def index_path(git_dir: str | Path, branch: str) -> Path:
    """Where the index (object name -> sha of its newest commit) of `branch` is saved."""
    return Path(git_dir) / "gitline" / f"index-{branch.replace('/', '_')}.json"


def save_index(path: Path, tip: str, latest: dict[str, str]) -> None:
    """Write the index atomically; a failure (a full disk) only costs a longer walk."""
    try:
        path.parent.mkdir(exist_ok=True)
        write_atomic(path, json.dumps({"tip": tip, "latest": latest}))
    except OSError as err:
        import logging  # only here: the CLI must not pay for it at start-up

        logging.getLogger(__name__).warning("could not save the history index %s: %s",
                                            path, err)


def read_index(path: Path) -> tuple[str, dict[str, str]] | None:
    """(tip, latest) saved at `path`; None when there is none or it is damaged."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        tip, latest = str(data["tip"]), dict(data["latest"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not all(isinstance(v, str) for v in latest.values()):
        return None
    return tip, latest


def walk_back(tip: C, stop: str, get: Callable[[Any], C | None]
              ) -> tuple[dict[str, str], bool, int]:
    """Newest commit of each object from `tip` back to commit `stop` (excluded).

    Returns (newest, reached, walked): `reached` is False when `stop` is not a
    first-parent ancestor (the whole branch was walked).
    """
    newer: dict[str, str] = {}
    commit: C | None = tip
    walked = 0
    while commit is not None and str(commit.id) != stop:
        for trailers in trailer_groups(commit.message):  # several in a batch of runs
            for key in NAME_KEYS:
                name = trailers.get(key)
                if name and name not in newer:
                    newer[name] = str(commit.id)
        walked += 1
        commit = get(commit.parent_ids[0]) if commit.parent_ids else None
    return newer, commit is not None, walked


def chain(name: str, newest: str | None,
          get: Callable[[Any], C | None]) -> Iterator[tuple[C, dict[str, str]]]:
    """Commits whose Gitline-Resource or Gitline-Job trailer is `name`, newest first.

    Follows the `Gitline-Previous` chain from `newest`: O(versions of `name`). A commit
    without the trailer (written by an older Gitline) continues as a first-parent walk.
    """
    commit = get(newest) if newest else None
    while commit is not None:
        trailers = trailers_of(commit.message, name)
        if trailers is not None:
            yield commit, trailers
            previous = trailers.get("Previous")
            if previous is not None:
                commit = None if previous == "none" else get(previous)
                continue
        commit = get(commit.parent_ids[0]) if commit.parent_ids else None


class HistoryIndex(Generic[C]):
    """Object name -> sha of its newest commit, exact at `tip`; loaded from disk on first use.

    `get` reads a commit by sha (None if missing); `exists(sha)` says whether the saved
    index's tip is still in the repository (else a walk rebuilds the index).
    """

    def __init__(self, path: Path, get: Callable[[Any], C | None],
                 exists: Callable[[str], bool]) -> None:
        self.path = path
        self.tip = ""  # the commit at which `_latest` is exact ("" before any)
        self._latest: dict[str, str] = {}
        self._get = get
        self._exists = exists
        self._loaded = False
        self._saved_at = 0.0  # time.monotonic() of the last save
        self._saved_tip = ""  # the tip the last save wrote

    def _load(self) -> None:
        self._loaded = True
        saved = read_index(self.path)
        if saved is not None and self._exists(saved[0]):
            self.tip, self._latest = saved

    def save(self) -> None:
        """Write the index atomically; a failure (a full disk) only costs a longer walk."""
        self._saved_at = time.monotonic()
        self._saved_tip = self.tip
        save_index(self.path, self.tip, self._latest)

    def save_due(self, *, force: bool = False) -> None:
        """save() if the index moved since the last save, at most every
        INDEX_SAVE_SECONDS unless `force` (a burst of passes does not write it each pass)."""
        if not self.tip or self.tip == self._saved_tip:
            return
        if force or time.monotonic() - self._saved_at > INDEX_SAVE_SECONDS:
            self.save()

    def catch_up(self, tip: C | None) -> None:
        """Make the index exact at `tip`: walk back to the indexed tip, or to the root."""
        if not self._loaded:
            self._load()
        if tip is None:
            self.tip, self._latest = "", {}
            return
        if self.tip == str(tip.id):
            return
        newer, reached, walked = walk_back(tip, self.tip, self._get)
        if reached:
            self._latest.update(newer)
        else:  # the indexed tip is not an ancestor: what was walked is all
            self._latest = newer
        self.tip = str(tip.id)
        if walked > INDEX_SAVE_WALK:
            self.save()

    def advance(self, parent: str, sha: str, names: tuple[str, ...]) -> None:
        """Commit `sha` on top of `parent` wrote `names`; saved at most every few seconds."""
        if self.tip != parent:
            return  # someone else wrote in between; the next read catches up
        for name in names:
            self._latest[name] = sha
        self.tip = sha
        if time.monotonic() - self._saved_at > INDEX_SAVE_SECONDS:
            self.save()

    def previous(self, tip: C | None, name: str) -> str:
        """The value of `name`'s Gitline-Previous trailer for a commit on top of `tip`."""
        self.catch_up(tip)
        return self._latest.get(name, "none")

    def commits(self, name: str, tip: C | None) -> Iterator[tuple[C, dict[str, str]]]:
        """Commits of `name` up to `tip`, newest first, with their trailers."""
        self.catch_up(tip)
        return chain(name, self._latest.get(name), self._get)

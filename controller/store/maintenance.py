"""Housekeeping of a repository the controller writes: packing loose objects, the
commit-graph.

Every commit leaves 4-5 loose objects and nothing packs them (`gitline init` turns
auto-gc off so that pushes never pay for it); 50k commits leave 200k files and slow
every read. `git repack -d` packs them into one new pack. Writes decided together leave a
small pack each instead (packwrite.py); once there are PACKS_LIMIT packs, `git repack
--geometric=2 -d` rolls the small ones (and the loose objects) up into bigger ones, so the
packs a read looks in stay few (log2 of the objects) and each object is rewritten a few
times at most, not at every repack as with `-a`. Both are safe beside pushes and our own
writes: they delete only loose objects and packs whose objects they have just packed, and
nothing that is unreachable (an object written for a commit not yet on a ref stays loose,
or in its pack). Then the commit-graph, with changed-path Bloom filters, written
incrementally (--split): a user's `git log -- resources/<name>` skips the commits that
did not touch it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

LOOSE_OBJECTS_LIMIT = 6_700  # pack when about this many loose objects (git's gc.auto)
PACKS_LIMIT = 20  # then roll the small packs up (--geometric)


def loose_objects(git_dir: str | os.PathLike[str]) -> int:
    """About how many loose objects there are, from one fan-out folder (as git does)."""
    try:
        with os.scandir(Path(git_dir) / "objects" / "17") as entries:
            return 256 * sum(1 for _ in entries)
    except FileNotFoundError:
        return 0


def pack_count(git_dir: str | os.PathLike[str]) -> int:
    """How many packs there are (a read may have to look in each one's index)."""
    try:
        with os.scandir(Path(git_dir) / "objects" / "pack") as entries:
            return sum(1 for e in entries if e.name.endswith(".idx"))
    except FileNotFoundError:
        return 0


def _run_git(what: str, argv: list[str]) -> bool:
    """Run one git command; a failure is logged (the next maintenance tries again)."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as err:
        log.warning("git %s failed: %s", what, err)
        return False
    if done.returncode != 0:
        log.warning("git %s failed (%d): %s", what, done.returncode, done.stderr.strip())
        return False
    return True


def count_objects(git_dir: str | os.PathLike[str]) -> dict[str, int]:
    """`git count-objects -v` as numbers: count (loose), size (KiB), in-pack, packs,
    size-pack (KiB), ..."""
    done = subprocess.run(["git", "--git-dir", str(git_dir), "count-objects", "-v"],
                          capture_output=True, text=True, timeout=600)
    pairs = (line.split(":", 1) for line in done.stdout.splitlines() if ":" in line)
    return {k.strip(): int(v) for k, v in pairs if v.strip().isdigit()}


def collect(git_dir: str | os.PathLike[str], prune_expire: str = "2.weeks.ago") -> bool:
    """`gitline gc`: everything into one pack, unreachable loose objects older than
    `prune_expire` removed (younger ones may be a write whose ref has not moved yet), and
    the commit-graph rewritten as one layer with changed-path Bloom filters."""
    git = ["git", "--git-dir", str(git_dir)]
    return all(_run_git(what, argv) for what, argv in (
        ("repack", [*git, "repack", "-a", "-d", "-q"]),
        ("prune", [*git, "prune", f"--expire={prune_expire}"]),
        ("commit-graph write", [*git, "commit-graph", "write", "--reachable",
                                "--changed-paths", "--split=replace"])))


class Packer:
    """Packs the loose objects of `git_dir` in one background thread at a time."""

    def __init__(self, git_dir: str | os.PathLike[str]) -> None:
        self.git_dir = str(git_dir)
        self._thread: threading.Thread | None = None

    def _commands(self) -> list[tuple[str, list[str]]]:
        many = pack_count(self.git_dir) >= PACKS_LIMIT
        git = ["git", "--git-dir", self.git_dir]
        return [("repack", [*git, "repack", "-d", "-q", *(["--geometric=2"] if many else [])]),
                ("commit-graph write", [*git, "commit-graph", "write", "--reachable",
                                        "--changed-paths", "--split"])]

    def maintain(self, *, limit: int = LOOSE_OBJECTS_LIMIT, wait: bool = False) -> bool:
        """Pack loose objects in the background when there are `limit` or more, or roll
        small packs up when there are PACKS_LIMIT; True if it started. `wait`: return when
        it is done (or when the one running is)."""
        if self._thread is not None and self._thread.is_alive():
            if not wait:
                return False
            self._thread.join()  # then again: it may have started before what is asked now
        if loose_objects(self.git_dir) < limit and pack_count(self.git_dir) < PACKS_LIMIT:
            return False
        commands = self._commands()

        def run() -> None:
            started = time.monotonic()
            if all(_run_git(what, argv) for what, argv in commands):
                log.info("packed loose objects and wrote the commit-graph in %.1f s",
                         time.monotonic() - started)

        self._thread = threading.Thread(target=run, name="gitline-repack", daemon=True)
        self._thread.start()
        if wait:
            self._thread.join()
        return True

"""Objects of a repository read through one `git cat-file --batch` process.

For the one-shot CLI commands (`status`, `log`, `logs`, `trigger`): importing pygit2
costs ~50 ms, a `git` process a few. Read-only; the controller reads and writes with
pygit2 (gitstate.py, configrepo.py). A commit read here has the attributes of a
pygit2.Commit that statebranch.py uses (`id`, `message`, `parent_ids`, `commit_time`).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from dataclasses import dataclass
from typing import IO


class GitCommandError(RuntimeError):
    """git could not read or write the repository (not a repository, a damaged object,
    no permission)."""


@dataclass(frozen=True)
class CommitText:
    id: str
    tree: str
    parent_ids: list[str]
    commit_time: int  # the committer's time, seconds since the epoch
    message: str


@dataclass(frozen=True)
class TreeEntry:
    mode: str  # "40000" a folder, "100644"/"100755" a file, "120000" a symlink, ...
    id: str

    @property
    def is_tree(self) -> bool:
        return self.mode == "40000"

    @property
    def is_file(self) -> bool:
        return self.mode in ("100644", "100755")


class CatFile:
    """One `git cat-file --batch` on `git_dir`; close() it (or use `with`)."""

    def __init__(self, git_dir: str | os.PathLike[str]) -> None:
        self.git_dir = str(git_dir)
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> CatFile:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._proc is not None:
            proc, self._proc = self._proc, None
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                if pipe is not None:
                    with contextlib.suppress(BrokenPipeError):  # git has gone: nothing to say
                        pipe.close()
            proc.wait()

    def _pipes(self) -> tuple[IO[bytes], IO[bytes]]:
        if self._proc is None:
            self._proc = subprocess.Popen(
                ["git", "--git-dir", self.git_dir, "cat-file", "--batch"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        return self._proc.stdin, self._proc.stdout

    def _failed(self) -> GitCommandError:
        assert self._proc is not None
        problem = self._proc.stderr.read().decode(errors="replace").strip() \
            if self._proc.stderr else ""
        self.close()
        return GitCommandError(f"{self.git_dir}: {problem or 'git cat-file failed'}")

    def read(self, rev: str) -> tuple[str, str, bytes] | None:
        """(id, type, content) of the object `rev` names (`sha`, `ref:path`); None if none."""
        if "\n" in rev:
            raise ValueError(f"bad object name {rev!r}")
        stdin, stdout = self._pipes()
        try:
            stdin.write(rev.encode() + b"\n")
            stdin.flush()
        except BrokenPipeError:
            raise self._failed() from None
        header = stdout.readline().split()
        if not header:
            raise self._failed()
        if len(header) != 3:  # "<rev> missing" / "<rev> ambiguous"
            return None
        data = stdout.read(int(header[2]) + 1)[:-1]
        return header[0].decode(), header[1].decode(), data

    def blob(self, rev: str) -> bytes | None:
        found = self.read(rev)
        return found[2] if found and found[1] == "blob" else None

    def tree(self, rev: str) -> dict[str, TreeEntry] | None:
        """Entries of the tree `rev` names, by name; None if it is not a tree."""
        found = self.read(rev)
        if not found or found[1] != "tree":
            return None
        data, entries, i = found[2], {}, 0
        while i < len(data):
            space = data.index(b" ", i)
            nul = data.index(b"\0", space)
            name = data[space + 1 : nul].decode("utf-8", errors="surrogateescape")
            entries[name] = TreeEntry(data[i:space].decode(), data[nul + 1 : nul + 21].hex())
            i = nul + 21
        return entries

    def commit(self, rev: str) -> CommitText | None:
        found = self.read(f"{rev}^{{commit}}")
        if not found:
            return None
        head, _, message = found[2].partition(b"\n\n")
        tree, parents, when = "", [], 0
        for line in head.split(b"\n"):
            key, _, value = line.partition(b" ")
            if key == b"tree":
                tree = value.decode()
            elif key == b"parent":
                parents.append(value.decode())
            elif key == b"committer":
                when = int(value.rsplit(b" ", 2)[1])
        return CommitText(found[0], tree, parents, when, message.decode("utf-8", errors="replace"))

"""Who pushed what: commit sha -> who authenticated, in HOME/pushes.jsonl.

The git server records a push's new tip before the ref moves (pre-receive) and every
commit of the push after (post-receive), so the reconcile pass that sees the push can
name the pusher in the cause of the runs it starts, and can tell whether an approval
commit came with a token allowed to approve. The controller also vouches here for the
approval commits it makes for `gitline approve` (`via: local user`). Only the controller
writes this file; a pusher never can. Append-only JSON lines; read once.

Bounded: past `rotate_lines` lines the file is renamed to pushes.jsonl.1 (the older ones
to .2, .3, ...; past `kept` rotated files the oldest is removed) and a new one started.
Lookups read the rotated files too, oldest first, so a push is named for as long as its
file is kept.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from controller.atomicfile import write_atomic

PUSHES_FILE = "pushes.jsonl"
KEEP_ENTRIES = 100_000  # entries `gitline gc --keep-pushes` keeps by default (a few MB)
ROTATE_LINES = 100_000  # lines of pushes.jsonl before it is rotated (~20 MB)
ROTATED_KEPT = 3  # rotated files kept: pushes.jsonl.1 .. .3


@dataclass(frozen=True)
class Pusher:
    """One entry: a token (HTTP push), the API (a trigger) or a local user (`gitline approve`)."""

    name: str
    via: str = "token"  # token | api | local user
    email: str = ""
    scopes: tuple[str, ...] = ()
    at: float = field(default=0.0, compare=False)  # when it was pushed (seconds since epoch)



def token_pusher(principal: Any) -> Pusher:
    """The entry of a token's push (a server Principal: name, email, scopes): its scopes
    and email count for approvals."""
    return Pusher(principal.name, "token", principal.email, tuple(sorted(principal.scopes)))


class PushLog:
    def __init__(self, home: Path, rotate_lines: int = ROTATE_LINES,
                 kept: int = ROTATED_KEPT) -> None:
        self.path = Path(home) / PUSHES_FILE
        self.rotate_lines, self.kept = max(1, rotate_lines), max(0, kept)
        self._lock = threading.Lock()
        self._by_sha: dict[str, Pusher] | None = None
        self._lines = 0  # lines of the current file

    def rotated(self, n: int) -> Path:
        return self.path.with_name(f"{PUSHES_FILE}.{n}")

    def files(self) -> list[Path]:
        """The rotated files that exist, oldest first, then the current one."""
        olders = [self.rotated(n) for n in range(self.kept + 1, 0, -1)]
        return [p for p in olders if p.exists()] + [self.path]

    def _load(self) -> dict[str, Pusher]:
        if self._by_sha is None:
            self._by_sha = {}
            for path in self.files():
                lines = _lines(path)
                if path == self.path:
                    self._lines = len(lines)
                for line in lines:
                    try:
                        e = json.loads(line)
                        # entries from before scopes name a token with no approve scope
                        self._by_sha[str(e["sha"])] = Pusher(
                            str(e["pusher"]), str(e.get("via", "token")), str(e.get("email", "")),
                            tuple(str(s) for s in e.get("scopes", ())), float(e.get("at", 0)))
                    except (ValueError, KeyError, TypeError, AttributeError):
                        continue  # a torn last line after a crash
        return self._by_sha

    def record(self, pusher: str | Pusher, shas: Iterable[str]) -> None:
        who = replace(pusher if isinstance(pusher, Pusher) else Pusher(pusher), at=time.time())
        if not who.name:
            return
        with self._lock:
            known = self._load()
            new = [s for s in shas if known.get(s) != who]
            if not new:
                return
            if self._lines >= self.rotate_lines:  # reloaded: memory bounded as the files
                self._rotate()
                self._by_sha = None
                known = self._load()
            with self.path.open("a", encoding="utf-8") as f:
                for sha in new:
                    f.write(json.dumps({"sha": sha, "pusher": who.name, "via": who.via,
                                        "email": who.email, "scopes": list(who.scopes),
                                        "at": round(who.at, 3)}) + "\n")
                    known[sha] = who
            self._lines += len(new)

    def _rotate(self) -> int:
        """pushes.jsonl -> .1 -> .2 ...; the one past `kept` is removed. Returns the
        lines removed."""
        dropped = len(_lines(self.rotated(self.kept))) if self.kept else self._lines
        if self.kept == 0:
            self.path.unlink(missing_ok=True)
        else:
            self.rotated(self.kept).unlink(missing_ok=True)
            for n in range(self.kept - 1, 0, -1):
                if self.rotated(n).exists():
                    self.rotated(n).rename(self.rotated(n + 1))
            if self.path.exists():
                self.path.rename(self.rotated(1))
        self._lines = 0
        return dropped

    def rotate_due(self) -> int:
        """Rotate now if the current file is past `rotate_lines`, and remove rotated files
        past `kept` (left by a larger setting); the lines removed (`gitline gc`)."""
        with self._lock:
            self._load()
            dropped = 0
            for n in range(self.kept + 1, self.kept + 100):
                if not self.rotated(n).exists():
                    break
                dropped += len(_lines(self.rotated(n)))
                self.rotated(n).unlink()
            if self._lines >= self.rotate_lines:
                dropped += self._rotate()
            if dropped:
                self._by_sha = None
            return dropped

    def rotate(self, keep: int = KEEP_ENTRIES) -> int:
        """Keep the newest `keep` entries in pushes.jsonl alone, the rotated files removed
        (a pushed commit is looked up when its push is processed, seconds later); returns
        how many were dropped."""
        with self._lock:
            lines = [line for path in self.files() for line in _lines(path)]
            if len(lines) <= keep:
                return 0
            write_atomic(self.path, "".join(line + "\n" for line in lines[-keep:])
                         if keep else "")
            for path in self.files()[:-1]:
                path.unlink()
            self._by_sha = None
            return len(lines) - keep

    def entry(self, sha: str) -> Pusher | None:
        with self._lock:
            return self._load().get(sha)

    def pusher(self, sha: str) -> str | None:
        found = self.entry(sha)
        return found.name if found else None


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []


def attributed(author: str, pusher: str | None) -> str:
    """The author of a pushed commit, with who pushed it: `alice (token) / Ada <ada@x>`."""
    return f"{pusher} (token) / {author}" if pusher else author

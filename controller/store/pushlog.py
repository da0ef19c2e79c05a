"""Who pushed what: commit sha -> who authenticated, in HOME/pushes.jsonl.

The git server records a push's new tip before the ref moves (pre-receive) and every
commit of the push after (post-receive), so the reconcile pass that sees the push can
name the pusher in the cause of the runs it starts, and can tell whether an approval
commit came with a token allowed to approve. The controller also vouches here for the
approval commits it makes for `gitline approve` (`via: local user`). Only the controller
writes this file; a pusher never can. Append-only JSON lines; read once.
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
KEEP_ENTRIES = 100_000  # entries `gitline gc` keeps (a few MB)


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
    def __init__(self, home: Path) -> None:
        self.path = Path(home) / PUSHES_FILE
        self._lock = threading.Lock()
        self._by_sha: dict[str, Pusher] | None = None

    def _load(self) -> dict[str, Pusher]:
        if self._by_sha is None:
            self._by_sha = {}
            if self.path.exists():
                for line in self.path.read_text(encoding="utf-8").splitlines():
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
            with self.path.open("a", encoding="utf-8") as f:
                for sha in new:
                    f.write(json.dumps({"sha": sha, "pusher": who.name, "via": who.via,
                                        "email": who.email, "scopes": list(who.scopes),
                                        "at": round(who.at, 3)}) + "\n")
                    known[sha] = who

    def rotate(self, keep: int = KEEP_ENTRIES) -> int:
        """Keep the newest `keep` entries (a pushed commit is looked up when its push is
        processed, seconds later); returns how many were dropped."""
        with self._lock:
            if not self.path.exists():
                return 0
            lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
            if len(lines) <= keep:
                return 0
            write_atomic(self.path, "".join(lines[-keep:]) if keep else "")
            self._by_sha = None
            return len(lines) - keep

    def entry(self, sha: str) -> Pusher | None:
        with self._lock:
            return self._load().get(sha)

    def pusher(self, sha: str) -> str | None:
        found = self.entry(sha)
        return found.name if found else None


def attributed(author: str, pusher: str | None) -> str:
    """The author of a pushed commit, with who pushed it: `alice (token) / Ada <ada@x>`."""
    return f"{pusher} (token) / {author}" if pusher else author

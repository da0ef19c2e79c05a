"""Who pushed what: commit sha -> the authenticated name, in HOME/pushes.jsonl.

The git server records a push's new tip before the ref moves (pre-receive) and every
commit of the push after (post-receive), so the reconcile pass that sees the push can
name the pusher in the cause of the runs it starts. Append-only JSON lines; read once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from pathlib import Path

PUSHES_FILE = "pushes.jsonl"


class PushLog:
    def __init__(self, home: Path) -> None:
        self.path = Path(home) / PUSHES_FILE
        self._lock = threading.Lock()
        self._by_sha: dict[str, str] | None = None

    def _load(self) -> dict[str, str]:
        if self._by_sha is None:
            self._by_sha = {}
            if self.path.exists():
                for line in self.path.read_text(encoding="utf-8").splitlines():
                    try:
                        entry = json.loads(line)
                        self._by_sha[str(entry["sha"])] = str(entry["pusher"])
                    except (ValueError, KeyError, TypeError):
                        continue  # a torn last line after a crash
        return self._by_sha

    def record(self, pusher: str, shas: Iterable[str]) -> None:
        if not pusher:
            return
        with self._lock:
            known = self._load()
            new = [s for s in shas if known.get(s) != pusher]
            if not new:
                return
            with self.path.open("a", encoding="utf-8") as f:
                for sha in new:
                    f.write(json.dumps({"sha": sha, "pusher": pusher}) + "\n")
                    known[sha] = pusher

    def pusher(self, sha: str) -> str | None:
        with self._lock:
            return self._load().get(sha)


def attributed(author: str, pusher: str | None) -> str:
    """The author of a pushed commit, with who pushed it: `alice (token) / Ada <ada@x>`."""
    return f"{pusher} (token) / {author}" if pusher else author

"""What the reactor needs of the config repository, as a protocol: the pass and the spec
builder are typed with it (as with `store.statestore.StateStore`), so a test or another
repository kind can stand in for `store.configrepo.ConfigRepo`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from controller.core.intake import PushedCommit


class ConfigSource(Protocol):
    def head(self) -> str | None:
        """Sha of the watched branch, None before the first push."""
        ...

    def workflow_files(self, commit: str,
                       is_workflow_file: Callable[[str], bool]) -> list[tuple[str, bytes]]:
        """(path, content) of the workflow files at `commit`, by path."""
        ...

    def files_under(self, commit: str, path: str = "") -> tuple[dict[str, bytes],
                                                                  frozenset[str]]:
        """Files under `path` at `commit`, and which of them are executable."""
        ...

    def tree_id(self, commit: str, path: str = "") -> str | None: ...

    def read_blob(self, commit: str, path: str) -> bytes | None: ...

    def commits_between(self, old: str | None, new: str) -> tuple[Sequence[PushedCommit],
                                                                   bool]:
        """Commits after `old` up to `new`, oldest first, and whether history was
        rewritten (then only `new`)."""
        ...

    def commit_file(self, path: str, content: bytes, message: str, author_name: str,
                    author_email: str) -> str:
        """Commit one file on the branch (`gitline approve`); the new sha."""
        ...

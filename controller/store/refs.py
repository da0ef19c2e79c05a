"""Branches of a repository through pygit2: opening it, reading a tip, appending a commit.

A commit is appended with compare-and-swap: the change is computed from the tip, and
`create_commit(ref, ..., parents=[tip])` moves the ref only if it still points at the
tip. A write that loses the race (or meets a lock) reads the tip again and applies its
change again, until reflock.WRITE_DEADLINE_SECONDS; a stale `<ref>.lock` left by a killed
writer is removed on the way (reflock.py, shared with filecommit.py's git CLI writes).

A chain of commits decided together (`cas_chain`) is written the same way, still one
commit per change, but its objects go into one pack (packwrite.py) and the ref moves once,
from the tip the chain was built on to its last commit.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import pygit2

from controller.store import packwrite, reflock
from controller.store.statebranch import SIGNATURE_EMAIL, SIGNATURE_NAME
from controller.store.trees import Edits, root_tree

B = TypeVar("B")
T = TypeVar("T")

# What a write does to a branch, given its tip (None: no branch yet): edits and message.
Change = Callable[[pygit2.Commit | None], tuple[Edits, str]]

_CACHE_CONFIGURED = False


def configure_cache() -> None:
    """Cap libgit2's object cache once per process (memory stays flat), and skip its
    check that every object a new tree or commit names exists: the store only names
    objects it has just written or read (a lookup per tree entry and parent saved)."""
    global _CACHE_CONFIGURED
    if not _CACHE_CONFIGURED:
        pygit2.settings.cache_max_size(4 * 1024**2)
        pygit2.settings.enable_strict_object_creation(False)
        _CACHE_CONFIGURED = True


def open_repository(path: str | os.PathLike[str]) -> pygit2.Repository:
    """The repository at `path`, with libgit2's object cache capped."""
    configure_cache()
    return pygit2.Repository(str(path))


def gitline_signature() -> pygit2.Signature:
    return pygit2.Signature(SIGNATURE_NAME, SIGNATURE_EMAIL)


def branch_tip(repo: pygit2.Repository, ref: str) -> pygit2.Commit | None:
    """The commit `ref` points at, None if there is no such ref."""
    reference = repo.references.get(ref)
    if reference is None:
        return None
    target = repo.get(reference.resolve().target)
    assert target is not None, ref  # a ref names an object that exists
    return target.peel(pygit2.Commit)


def clear_stale_lock(repo: pygit2.Repository, ref: str) -> bool:
    """Remove `<ref>.lock` if a killed writer left it; True if removed."""
    return reflock.clear_stale_lock(repo.path, ref)


def cas_commit(
    repo: pygit2.Repository,
    ref: str,
    change: Change,
    *,
    author: pygit2.Signature | None = None,
    committer: pygit2.Signature | None = None,
) -> str:
    """Append one commit to `ref`: `change(tip)` -> (edits, message), retried on a race."""
    author = author or gitline_signature()
    committer = committer or gitline_signature()

    def build() -> tuple[pygit2.Commit | None, pygit2.Oid, str]:
        tip = branch_tip(repo, ref)
        edits, message = change(tip)
        return tip, root_tree(repo, tip.tree if tip else None, edits), message

    return _retried(repo, ref, build, lambda b: _update_ref(repo, ref, *b, author, committer))


def _retried(repo: pygit2.Repository, ref: str, build: Callable[[], B],
             write: Callable[[B], T]) -> T:
    """`write(build())` until it lands: a lost race or a killed writer's lock builds
    again on the new tip after a jittered back-off, until the write deadline (what
    `build` raises, such as a refused change, is not retried)."""
    deadline = time.monotonic() + reflock.WRITE_DEADLINE_SECONDS
    attempt = 0
    while True:
        built = build()
        try:
            return write(built)
        except (pygit2.GitError, OSError, ValueError) as e:
            if time.monotonic() > deadline:
                raise reflock.StateWriteError(f"could not update {ref}: {e}") from e
            clear_stale_lock(repo, ref)
            attempt += 1
            reflock.back_off(attempt)


def _update_ref(
    repo: pygit2.Repository,
    ref: str,
    tip: pygit2.Commit | None,
    tree: pygit2.Oid,
    message: str,
    author: pygit2.Signature,
    committer: pygit2.Signature,
) -> str:
    """Write the commit and move `ref` to it only if `ref` is still at `tip`."""
    with reflock.updating(repo.path, ref):
        if tip is None:
            # A root commit: create the ref only if nobody else has (force=False).
            oid = repo.create_commit(None, author, committer, message, tree, [])
            repo.references.create(ref, oid, force=False)
        else:
            oid = repo.create_commit(ref, author, committer, message, tree, [tip.id])
        return str(oid)


def cas_chain(
    repo: pygit2.Repository,
    ref: str,
    changes: Sequence[Change],
) -> tuple[pygit2.Commit | None, list[str]]:
    """Append one commit per change, each on the one before, and move `ref` once: the
    objects are written as one pack before the ref moves (packwrite.py). Returns the tip
    the chain was built on and the commits, oldest first; retried on a race as cas_commit.
    """
    author = committer = gitline_signature()

    def build() -> tuple[pygit2.Reference | None, pygit2.Commit | None, list[pygit2.Oid],
                         packwrite.Objects]:
        reference = repo.references.get(ref)
        tip = branch_tip(repo, ref)
        with packwrite.held(repo) as objects:
            shas = _chain(repo, tip, changes, author, committer)
            written = objects.take()
        return reference, tip, shas, written

    def write(built: tuple[pygit2.Reference | None, pygit2.Commit | None, list[pygit2.Oid],
                           packwrite.Objects]) -> tuple[pygit2.Commit | None, list[str]]:
        reference, tip, shas, objects = built
        packwrite.install(repo, objects)
        with reflock.updating(repo.path, ref):
            if reference is None:
                repo.references.create(ref, shas[-1], force=False)
            elif reference.target != (tip.id if tip else None):
                raise ValueError(f"{ref} moved while it was read")
            else:  # compare-and-swap: refused if the ref is no longer at `tip`
                reference.set_target(shas[-1])
        return tip, [str(sha) for sha in shas]

    return _retried(repo, ref, build, write)


def _chain(repo: pygit2.Repository, tip: pygit2.Commit | None, changes: Sequence[Change],
           author: pygit2.Signature, committer: pygit2.Signature) -> list[pygit2.Oid]:
    """The commits of `changes` on top of `tip` (not on any ref yet)."""
    shas: list[pygit2.Oid] = []
    parent = tip
    for change in changes:
        edits, message = change(parent)
        tree = root_tree(repo, parent.tree if parent else None, edits)
        oid = repo.create_commit(None, author, committer, message, tree,
                                 [parent.id] if parent else [])
        shas.append(oid)
        parent = repo[oid].peel(pygit2.Commit)
        packwrite.spill(repo)  # a long chain is written in packs of bounded size
    return shas

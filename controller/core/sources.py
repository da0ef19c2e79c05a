"""What following another repository decides, from plain data (pure).

Which refs of a gitRepo are watched, what a fetched upstream tip means for the local
branch, and whether a push webhook concerns a repository. The git work is the store's
(`store/remote.py`); the reactor (`reactor/upstream.py`, `reactor/repopoller.py`) asks
these functions and acts.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controller.core.remotes import normalize_url

MAX_REFS = 20  # refs of one repository followed at once


@dataclass(frozen=True)
class Push:
    """What a git push hook says: where, which ref, and the repository's URLs."""

    provider: str
    ref: str
    after: str
    urls: tuple[str, ...]


def push_matches(push: Push, url: str) -> bool:
    """True if the push is for the repository at `url`."""
    wanted = normalize_url(url)
    return any(normalize_url(u) == wanted for u in push.urls)


def decide_follow(local: str | None, remote: str, local_in_remote: bool,
                  remote_in_local: bool) -> str:
    """What a fetched upstream tip means for the local branch.

    "same", "fast-forward", "local-ahead" (commits made here, e.g. `gitline trigger`;
    kept until the upstream moves), or "rewrite" (the upstream was force-pushed: reset).
    """
    if local == remote:
        return "same"
    if not local or local_in_remote:
        return "fast-forward"
    if remote_in_local:
        return "local-ahead"
    return "rewrite"


def _globs(spec: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not isinstance(spec, Mapping):
        return (), ()

    def names(value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            return (value,)
        return tuple(str(v) for v in value) if isinstance(value, list) else ()

    return names(spec.get("only")), names(spec.get("except"))


def _selected(name: str, only: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    if only and not any(fnmatch.fnmatchcase(name, g) for g in only):
        return False
    return not any(fnmatch.fnmatchcase(name, g) for g in exclude)


def watched_refs(definition: Mapping[str, Any], refs: Mapping[str, str]) -> dict[str, str]:
    """The refs of a gitRepo definition among a repository's refs (name -> sha).

    `branch: x` follows x; `branches: {only: [...], except: [...]}` (globs) follows
    many; neither follows main, else master. `tags: true` (or `{only, except}`) adds tags.
    """
    heads = {r[len("refs/heads/"):]: s for r, s in refs.items() if r.startswith("refs/heads/")}
    out: dict[str, str] = {}
    branch = definition.get("branch") or definition.get("branchName")
    if branch:
        ref = f"refs/heads/{branch}"
        if ref in refs:
            out[ref] = refs[ref]
    elif isinstance(definition.get("branches"), Mapping):
        only, exclude = _globs(definition["branches"])
        out.update({f"refs/heads/{n}": s for n, s in sorted(heads.items())
                    if _selected(n, only, exclude)})
    else:
        for default in ("main", "master"):
            if default in heads:
                out[f"refs/heads/{default}"] = heads[default]
                break
    tags = definition.get("tags", definition.get("buildOnTagPush"))
    if tags:
        only, exclude = _globs(tags)
        out.update({r: s for r, s in sorted(refs.items()) if r.startswith("refs/tags/")
                    and _selected(r[len("refs/tags/"):], only, exclude)})
    return dict(list(out.items())[:MAX_REFS])

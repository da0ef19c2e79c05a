"""Which resources get a new version from a config change, and what that version holds.

Level-triggered and idempotent: a resource gets a version when the digest of its
definition (and, for a gitRepo tracking files of the config repo, of those files)
differs from the digest its latest version was made from. Running this twice on the same
inputs makes nothing the second time, so a crash between two writes never duplicates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from controller.core import model, vocabulary

# How a release bumps a version (a job's or TASK's `bump:`, shipctl bump_version): the one
# table. Its text lives in vocabulary, which the schema and the key check read and which
# imports nothing (vocabulary importing this module would be a cycle through model).
BUMP_KINDS: tuple[str, ...] = vocabulary.BUMPS

# How a version can be bumped: a release job's `bump:` and `shipctl bump_version`
BUMP_KINDS = ("major", "minor", "patch", "rc", "alpha", "beta", "final")


def wants_config_versions(resource: model.Resource) -> bool:
    """True if pushes to the config repo make versions of this resource."""
    if resource.type in model.NOT_VERSIONED_BY_DEFINITION:
        return False
    if resource.type == "gitRepo":
        return resource.tracks_path is not None  # other repos: versions come from polling
    return True


def current_digest(resource: model.Resource, tracked_trees: Mapping[str, str]) -> str:
    """The digest a new version would carry: the definition's, plus tracked files' tree."""
    if resource.tracks_path is None:
        return resource.digest
    return f"{resource.digest}:{tracked_trees.get(resource.name, '')}"


def version_name(resource: model.Resource, commit: str) -> str:
    """The friendly name of a config-made version, by type (the reference's rules)."""
    d = resource.definition
    if resource.type == "gitRepo":
        return commit
    if resource.type == "trigger" and "counter" in d:
        return str(d["counter"])
    for key in ("versionName", "tag"):
        if d.get(key) not in (None, ""):
            return str(d[key])
    return ""


def version_values(resource: model.Resource, commit: str, author: str) -> dict[str, Any]:
    """Key/values of a config-made version: its definition, plus commit facts for gitRepo."""
    values: dict[str, Any] = dict(resource.definition)
    if resource.type == "gitRepo":
        values.update(commit=commit, path=resource.tracks_path or "", committer=author)
    return values


def plan_versions(
    workflow: model.Workflow,
    snapshot: model.Snapshot,
    *,
    commit: str,
    author: str = "",
    tracked_trees: Mapping[str, str] | None = None,
    source_commits: Mapping[str, str] | None = None,
) -> list[model.Version]:
    """New versions to record for the workflow loaded at config `commit` (and, for a
    gitRepo on another source of the subscription, at its commit in `source_commits`)."""
    tracked = tracked_trees or {}
    new: list[model.Version] = []
    for name in sorted(workflow.resources):
        resource = workflow.resources[name]
        if name in workflow.inconsistent or not wants_config_versions(resource):
            continue
        digest = current_digest(resource, tracked)
        latest = snapshot.versions.get(name)
        if latest is not None and latest.digest == digest:
            continue
        source = resource.tracks_source
        at = (source_commits or {}).get(source, "") if source else commit
        if source and not at:  # a source nothing was pushed to yet: nothing to version
            continue
        new.append(
            model.Version(
                resource=name,
                number=next_number(latest),
                name=version_name(resource, at),
                values=version_values(resource, at, author),
                created_by=f"{source or 'config'} {at[:7]}",
                config_commit=commit,
                author=author,
                digest=digest,
            )
        )
    return new


class BumpError(ValueError):
    """A bump kind or a version that `bump_version` cannot work with."""


def bump_version(version: str, action: str) -> str:
    """Shippable's bump_version: semver bump keeping a leading `v`.

    `5.1.2 minor` -> `5.2.0`; `v5.1.2 rc` -> `v5.1.2-rc`; `v5.1.2-rc rc` -> `v5.1.2-rc.1`;
    `v5.1.2-rc.1 rc` -> `v5.1.2-rc.2`; `v5.1.2-rc.3 final` -> `v5.1.2`.
    """
    if action not in BUMP_KINDS:
        raise BumpError("error: Invalid action given in the argument.")
    core, _, prerelease = version.partition("-")
    fields = core.split(".")
    first = fields[0]
    major = first.replace("v", "", 1)
    minor = fields[1] if len(fields) > 1 else ""
    patch = fields[2] if len(fields) > 2 else ""
    if not all(p.isdigit() and p.isascii() for p in (major, minor, patch)):
        raise BumpError("error: Invalid semantics given in the argument.")
    nums = [int(major), int(minor), int(patch)]
    suffix = ""
    if action == "major":
        nums = [nums[0] + 1, 0, 0]
    elif action == "minor":
        nums = [nums[0], nums[1] + 1, 0]
    elif action == "patch":
        nums[2] += 1
    elif action != "final":
        suffix = "-" + _bump_prerelease(prerelease, action)
    new = ".".join(str(n) for n in nums) + suffix
    return f"v{new}" if first != major else new


def _bump_prerelease(prerelease: str, action: str) -> str:
    if action not in prerelease:
        return action
    found = re.search(rf"{action}\.(\d+)", prerelease)
    return f"{action}.{int(found.group(1)) + 1 if found else 1}"


def next_number(latest: model.Version | None) -> int:
    """The number of a resource's next version: one more than its latest (1 for the first)."""
    return (latest.number if latest else 0) + 1


def merge_values(previous: Mapping[str, Any] | None, written: Mapping[str, Any],
                 *, replace_values: bool) -> dict[str, Any]:
    """The values of a new version: what was written, over the previous version's values
    unless the writer asked to replace them (the `replace` of an OUT's version.json)."""
    if replace_values or previous is None:
        return dict(written)
    return {**previous, **written}


def next_version(
    latest: model.Version | None,
    resource: str,
    values: Mapping[str, Any],
    *,
    created_by: str,
    name: str = "",
    replace_values: bool = True,
    config_commit: str = "",
    author: str = "",
    files: dict[str, bytes] | None = None,
) -> model.Version:
    """The version that follows `latest` once a job, a timer, a webhook or a poll writes
    `values`: it keeps the definition it belongs to (digest) and, unless given, its config
    commit; its name is the one given, else the values' versionName."""
    merged = merge_values(latest.values if latest else None, values,
                          replace_values=replace_values)
    return model.Version(
        resource=resource,
        number=next_number(latest),
        name=name or str(merged.get("versionName", "")),
        values=merged,
        created_by=created_by,
        config_commit=config_commit or (latest.config_commit if latest else ""),
        author=author,
        digest=latest.digest if latest else "",
        files=files,
    )

"""The sources of a subscription as gitline.yml lists them (pure).

A subscription is HOME/config.git (the main source) plus the repositories `sources:` in
gitline.yml names: each one is served by Gitline at HOME/repos/NAME.git (`gitline repo add`)
or, with `upstream:`, followed from elsewhere into that same bare repository. Written as a
mapping (`sources: {shipit: {}, infra: {upstream: https://...}}`), a list (of names or of
mappings with `name:`) or, in GITLINE_SOURCES, comma-separated names. A name becomes a
folder name and a path prefix (`shipit:shippable.yml`), so only `sourcenames.SOURCE_RULE`
names pass: `../x`, `/abs` and `a/b` are refused here, before anything is made on disk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controller.core import model, sourcenames

REPOS_DIR = "repos"  # HOME/repos/NAME.git
_KEYS = ("name", "upstream", "branch", "upstream_branch", "poll_seconds", "secret",
         "commit_status")


@dataclass(frozen=True)
class StatusTarget:
    """Where the `<repo>_runCI` runs of a repository post their commit statuses
    (`commit_status:` of a source, or of gitline.yml for the main one): the secret of
    the git host's token, and the repository there (`owner/repo` on the secret's `url`
    host, or a URL; "" = a followed source's upstream)."""

    integration: str
    repo: str = ""


def parse_status_target(value: Any, where: str) -> StatusTarget | None:
    """`commit_status: NAME` or `{integration: NAME, repo: owner/repo}`; ValueError."""
    if value in (None, "", {}):
        return None
    if isinstance(value, StatusTarget):
        return value
    if isinstance(value, str):
        value = {"integration": value}
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}commit_status: a secret's name or {{integration: NAME, "
                         "repo: owner/repo}} expected")
    unknown = sorted(str(k) for k in value if k not in ("integration", "repo"))
    if unknown:
        raise ValueError(f"{where}commit_status: unknown key {unknown[0]!r} "
                         "(known: integration, repo)")
    integration = str(value.get("integration") or "")
    if not integration:
        raise ValueError(f"{where}commit_status: 'integration:' (a secret's name) is needed")
    return StatusTarget(integration, str(value.get("repo") or "").strip())


@dataclass(frozen=True)
class SourceSpec:
    name: str
    upstream: str = ""  # "" = served here; else the URL followed (polling and webhooks)
    branch: str = ""  # the branch read ("" = the HOME's `branch`)
    upstream_branch: str = ""  # the upstream's branch ("" = `branch`)
    poll_seconds: float = 0.0  # 0 = the HOME's upstream_poll_seconds
    secret: str = ""  # secret-store name of the upstream's credentials
    commit_status: StatusTarget | None = None  # its runCI runs' statuses go there

    @property
    def followed(self) -> bool:
        return bool(self.upstream)


def check_source_name(name: str, main_name: str = sourcenames.DEFAULT_MAIN_NAME) -> str:
    """`name` if a source may have it; ValueError saying why not."""
    if not sourcenames.is_source_name(name):
        raise ValueError(f"source name {name!r} is not allowed: {sourcenames.SOURCE_RULE}, "
                         "no '..'")
    if name == main_name:
        raise ValueError(f"source name {name!r} is the main config repository's name")
    return name


def parse_sources(value: Any, main_name: str = sourcenames.DEFAULT_MAIN_NAME
                  ) -> tuple[SourceSpec, ...]:
    """gitline.yml's `sources:` as specs, in name order; ValueError naming what is wrong."""
    if value in (None, "", [], {}):
        return ()
    if isinstance(value, str):
        entries: list[tuple[str, Any]] = [(n.strip(), {}) for n in value.split(",") if n.strip()]
    elif isinstance(value, Mapping):
        entries = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        entries = []
        for item in value:
            if isinstance(item, Mapping):
                entries.append((str(item.get("name", "")), item))
            else:
                entries.append((str(item), {}))
    elif isinstance(value, tuple) and all(isinstance(s, SourceSpec) for s in value):
        return value  # already parsed (Settings.load(home, sources=...))
    else:
        raise ValueError("a mapping of NAME: {upstream: URL, ...}, or a list of names")
    specs: dict[str, SourceSpec] = {}
    for name, body in entries:
        check_source_name(name, main_name)
        if name in specs:
            raise ValueError(f"source {name!r} is listed twice")
        specs[name] = _spec(name, body)
    return tuple(specs[n] for n in sorted(specs))


def _spec(name: str, body: Any) -> SourceSpec:
    if body is None:
        body = {}
    if isinstance(body, str):  # shipit: https://... (a followed URL in short)
        body = {"upstream": body}
    if not isinstance(body, Mapping):
        raise ValueError(f"source {name!r}: a mapping of upstream:, branch:, ... expected")
    unknown = sorted(str(k) for k in body if str(k).replace("-", "_") not in _KEYS)
    if unknown:
        raise ValueError(f"source {name!r}: unknown key {unknown[0]!r} "
                         f"(known: {', '.join(_KEYS[1:])})")
    values = {str(k).replace("-", "_"): v for k, v in body.items() if k != "name"}
    try:
        seconds = float(values.get("poll_seconds") or 0)
    except (TypeError, ValueError):
        raise ValueError(f"source {name!r}: poll_seconds must be a number") from None
    if seconds < 0:
        raise ValueError(f"source {name!r}: poll_seconds must be more than 0")
    upstream = str(values.get("upstream") or "")
    status = parse_status_target(values.get("commit_status"), f"source {name!r}: ")
    if status is not None and not status.repo and not upstream:
        raise ValueError(f"source {name!r}: commit_status: a served source needs 'repo:' "
                         "(its owner/repo on the git host, or its URL)")
    return SourceSpec(name, upstream, str(values.get("branch") or ""),
                      str(values.get("upstream_branch") or ""), seconds,
                      str(values.get("secret") or ""), status)


def status_targets(main: StatusTarget | None, specs: tuple[SourceSpec, ...] | list[SourceSpec],
                   main_upstream: str = "") -> dict[str, StatusTarget]:
    """Source name (MAIN for config.git) -> where its runCI statuses go; a followed
    repository without `repo:` posts to its upstream."""
    out: dict[str, StatusTarget] = {}
    if main is not None:
        out[sourcenames.MAIN] = main if main.repo or not main_upstream else \
            StatusTarget(main.integration, main_upstream)
    for spec in specs:
        if spec.commit_status is not None:
            target = spec.commit_status
            out[spec.name] = target if target.repo or not spec.followed else \
                StatusTarget(target.integration, spec.upstream)
    return out


def fallback(loaded: model.Workflow, head: str, sources: Mapping[str, str],
             snap: model.Snapshot) -> list[tuple[str, dict[str, str]]]:
    """What to load, in turn, when the workflow of main `head` and the other sources at
    `sources` does not load: first each source with errors at its last good commit and the
    others as pushed, then the last good commits of all. [] when nothing ever loaded."""
    if not snap.good_commit:
        return []
    good = (snap.good_commit, dict(snap.good_sources))
    broken = {sourcenames.split(p.location.path)[0] for p in loaded.errors}
    mixed = (snap.good_commit if sourcenames.MAIN in broken else head,
             {n: snap.good_sources.get(n, "") if n in broken else c
              for n, c in sources.items()})
    return [mixed, good] if mixed != good else [good]


def folder_source_name(folder: str) -> str:
    """The source name of a folder given to `gitline validate A B C`: its base name, and
    of a corpus folder `owner__repo@sha` just `repo`."""
    base = folder.rstrip("/").rsplit("/", 1)[-1]
    base = base.split("@", 1)[0]
    return base.rsplit("__", 1)[-1] if "__" in base else base

"""Who may use a secret, as its owner wrote in HOME/secrets.yml, checked against a workflow.

Pure: scopes come in as data (controller/secrets.py reads the file). A secret without
`jobs:` or `resources:` is global, like Jenkins' global credentials; one with them reaches
a resource listed by name, or a job listed by name through any resource it takes, puts or
notifies. `hosts:` lists the servers the controller may send it to (a gitRepo's remote);
a credential goes to no other host.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from controller.core import model, remotes

_SCHEME_HOST = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/]*@)?(\[[^\]]*\]|[^/:?#]*)(?::(\d+))?")
_SCP_HOST = re.compile(r"(?:[^@/:]+@)?([^/:]+):")


def host_of(url: str) -> str:
    """`https://user@git.example.com:8443/x.git` -> `git.example.com:8443`; "" if none."""
    m = _SCHEME_HOST.match(url)
    if m:
        return (m.group(1) + (f":{m.group(2)}" if m.group(2) else "")).lower()
    m = _SCP_HOST.match(url)
    return m.group(1).lower() if m and not url.startswith(("/", ".")) else ""


@dataclass(frozen=True)
class Scope:
    jobs: frozenset[str] | None = None  # None: not limited by job
    resources: frozenset[str] | None = None
    hosts: frozenset[str] = field(default_factory=frozenset)  # host or host:port
    base_url: str = ""  # the secret's `url` field: where `sourceName: org/repo` lives

    @property
    def is_global(self) -> bool:
        return self.jobs is None and self.resources is None

    def allows(self, *, resource: str = "", job: str = "") -> bool:
        if self.is_global:
            return True
        return bool(resource and resource in (self.resources or ())
                    or job and job in (self.jobs or ()))

    def sends_to(self, url: str) -> bool:
        """May the controller send this secret to the server of `url`?"""
        host = host_of(url)
        if not host:
            return False
        named = set(self.hosts)
        if self.base_url:
            named.add(host_of(self.base_url))
        return host in named or host.split(":", 1)[0] in named

    def describe(self) -> str:
        parts = [f"{kind} {', '.join(sorted(names))}" for kind, names in
                 (("jobs", self.jobs), ("resources", self.resources)) if names]
        return "; ".join(parts) or "no job or resource"


def users(wf: model.Workflow, resource: str) -> list[str]:
    """Jobs that take, put or notify `resource`: those its secret reaches."""
    out = []
    for job in wf.jobs.values():
        names = {i.name for i in job.inputs} | {o.name for o in job.outputs}
        names |= {n.name for hook in job.hooks.values() for n in hook.notify}
        if resource in names:
            out.append(job.name)
    return out


def secret_names(res: model.Resource) -> list[str]:
    """The secrets a resource names: its integration (and a notification's url_secret)."""
    names = [res.integration] if res.integration else []
    extra = res.definition.get("url_secret") if res.type == "notification" else None
    if extra and str(extra) not in names:
        names.append(str(extra))
    return names


def git_url(res: model.Resource, scope: Scope) -> str:
    """The remote a gitRepo's credential would be sent to ("" for the config repo itself)."""
    return remotes.repo_url(res, scope.base_url) or ""


@dataclass(frozen=True)
class Misuse:
    """A secret named where its scope does not reach: an error at `location`."""

    location: model.Location
    message: str
    resource: str
    jobs: tuple[str, ...]  # the jobs that must not get it
    resource_out: bool  # the resource itself may not use it (the controller polls with it)


def check(wf: model.Workflow, scopes: Mapping[str, Scope],
          where: Mapping[str, model.Location] | None = None) -> list[Misuse]:
    """Every use of a secret outside its scope; `where` has the line of each integration."""
    found: list[Misuse] = []
    for res in wf.resources.values():
        loc = (where or {}).get(res.name, res.location)
        for name in secret_names(res):
            scope = _find(scopes, name)
            if scope is None:
                continue  # an undefined secret fails where it is used, with its name
            found.extend(_misuse(wf, res, name, scope, loc))
    return found


def _misuse(wf: model.Workflow, res: model.Resource, name: str, scope: Scope,
            loc: model.Location) -> Iterable[Misuse]:
    url = git_url(res, scope) if name == res.integration else ""
    if url and not scope.sends_to(url):
        host = host_of(url) or url
        named = ", ".join(sorted(scope.hosts)) or "none"
        yield Misuse(loc, f"resource '{res.name}' sends secret '{name}' to {host}, which is "
                          f"not one of its hosts in secrets.yml (hosts: {named})",
                     res.name, tuple(users(wf, res.name)), True)
    if scope.is_global or res.name in (scope.resources or ()):
        return
    jobs = users(wf, res.name)
    refused = tuple(j for j in jobs if not scope.allows(job=j))
    if not jobs or refused:
        whom = f"job '{refused[0]}'" if refused else f"resource '{res.name}'"
        yield Misuse(loc, f"resource '{res.name}' names secret '{name}', which is not for "
                          f"{whom} (secrets.yml gives it to {scope.describe()})",
                     res.name, refused, not jobs)


def job_misuse(job: str, name: str, scopes: Mapping[str, Scope]) -> str:
    """Why job-level `integrations: [name]` of `job` is refused by the secret's scope."""
    scope = _find(scopes, name)
    if scope is None or scope.allows(job=job):
        return ""
    return (f"job '{job}' names secret '{name}' in integrations:, which is not for it "
            f"(secrets.yml gives it to {scope.describe()})")


def _find(scopes: Mapping[str, Scope], name: str) -> Scope | None:
    return scopes.get(name, scopes.get(name.lower()))

"""Which git remotes a workflow or the upstream setting may name (pure).

A URL reaches `git fetch`/`git push` as an argument, so a value starting with `-` would be
an option (`--upload-pack=cmd` runs cmd), and `ext::` runs a command by design. Only real
remotes pass; local paths and file:// only where the HOME allows them (allow_local_repos).
"""

from __future__ import annotations

import re

from controller.core import model

DEFAULT_GIT_HOST = "github.com"  # where `sourceName: org/repo` lives without a `url` field
REMOTE_SCHEMES = ("https", "http", "ssh", "git")
ORG_REPO = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*(/[A-Za-z0-9_.][A-Za-z0-9_.-]*)*")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://(.*)", re.S)
_SCP = re.compile(r"[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^:].*|[A-Za-z0-9.-]+\.[A-Za-z]+:[^/:].*", re.S)


def is_local(url: str) -> bool:
    return url.startswith(("/", "./", "../", "~")) or url.lower().startswith("file:")


def looks_like_url(text: str) -> bool:
    """A URL, a path or user@host:path, as opposed to an `org/repo` sourceName."""
    return "://" in text or is_local(text) or text.startswith("git@") or (
        ":" in text and "@" in text.split(":", 1)[0])


def repo_url(res: model.Resource, base_url: str = "") -> str | None:
    """Where a gitRepo lives: `url:`, a URL sourceName, or org/repo under `base_url` (the
    `url` field of its integration's secret; GitHub without one).

    None for a resource that is no gitRepo of another repository (the config repo itself).
    """
    if res.type != "gitRepo" or res.tracks_path is not None:
        return None
    d = res.definition
    if d.get("url"):
        return str(d["url"])
    source = str(d.get("sourceName") or "")
    if not source:
        return None
    if looks_like_url(source):
        return source
    return f"{(base_url or 'https://' + DEFAULT_GIT_HOST).rstrip('/')}/{source}.git"


def url_problem(url: str, *, allow_local: bool) -> str | None:
    """Why `url` may not be handed to git, or None when it is a remote git may fetch."""
    if not url:
        return "is empty"
    if url.startswith("-"):
        return f"{url!r} starts with '-' (git would read it as an option)"
    if any(ord(c) < 0x20 or c == "\x7f" for c in url):
        return f"{url!r} holds a control character"
    if "::" in url.split("/", 1)[0]:
        return f"{url!r} names a git remote helper (such as ext::), which is never allowed"
    if is_local(url):
        if allow_local:
            return None
        return (f"{url!r} is a local repository; set allow_local_repos: true in gitline.yml "
                "to follow one")
    m = _SCHEME.fullmatch(url)
    if m:
        if m.group(1).lower() not in REMOTE_SCHEMES:
            return (f"{url!r}: scheme {m.group(1)!r} is not one of "
                    f"{', '.join(REMOTE_SCHEMES)}")
        return None if m.group(2) and not m.group(2).startswith("-") else (
            f"{url!r} has no host")
    if _SCP.fullmatch(url):
        return None
    return f"{url!r} is not a git remote (https, http, ssh, git or user@host:path)"


def protocol_config(allow_local: bool) -> list[str]:
    """`git -c` options that let git use the remote transports only (file when allowed)."""
    out = ["-c", "protocol.allow=never"]
    for scheme in (*REMOTE_SCHEMES, *(("file",) if allow_local else ())):
        out += ["-c", f"protocol.{scheme}.allow=always"]
    return out


_SCP_HOST = re.compile(r"^(?:[^@/]+@)?([^:/]+):(.+)$")  # git@host:org/repo.git


def normalize_url(url: str) -> str:
    """A URL reduced to host/path for matching: no scheme, user, port, `.git` or case."""
    url = url.strip()
    if "://" in url:
        _, rest = url.split("://", 1)
        host, _, path = rest.partition("/")
        host = host.rsplit("@", 1)[-1].split(":", 1)[0]
    else:
        m = _SCP_HOST.match(url)
        host, path = (m.group(1), m.group(2)) if m else ("", url)
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    return f"{host.lower()}/{path.rstrip('/')}".lower()


def sanitize_url(url: str) -> str:
    """`url` without credentials, for logs and status."""
    return re.sub(r"(://)[^/@]*@", r"\1***@", url)

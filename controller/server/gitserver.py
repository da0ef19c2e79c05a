"""Git smart HTTP for HOME/config.git, through dulwich, with in-process receive hooks.

Serves one repository at `/config.git` (and `/config`). Each request opens the repository
afresh (refs are re-read; nothing is cached between pushes) and replaces dulwich's shell
hooks with in-process ones: update refuses the state branch with a message the git client
shows (`! [remote rejected] HEAD -> state (gitline: ...)`); pre-receive hands the new tips
and the pusher's name to `before_push` before any ref moves (so the pusher is known before
the watcher notices); post-receive hands the landed updates to `on_push` (which names the
pusher of every pushed commit and pokes the loop). A ref
update whose old value no longer matches (two clients racing) is reported as failed,
never as a silent success.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from dulwich.errors import HookError, NotGitRepository
from dulwich.hooks import Hook
from dulwich.repo import Repo
from dulwich.server import Backend, ReceivePackHandler
from dulwich.web import make_wsgi_chain

from controller.server.auth import USER_KEY

log = logging.getLogger("gitline")

REPO_URLS = ("/config.git", "/config")

# (old sha, new sha, ref) as text
RefUpdate = tuple[str, str, str]
OnPush = Callable[[str, list[RefUpdate]], None]


def refused_updates(updates: Sequence[RefUpdate], state_branch: str, branch: str) -> list[str]:
    """Messages for the updates a user may not push (the state branch); [] if all may go."""
    state_ref = f"refs/heads/{state_branch}"
    return [f"gitline: {state_ref} is written only by the controller; push to {branch} instead"
            for _, _, ref in updates if ref == state_ref]


def _text(updates: Sequence[tuple[bytes, bytes, bytes]]) -> list[RefUpdate]:
    return [(o.decode(), n.decode(), r.decode()) for o, n, r in updates]


class _PreReceive(Hook):
    """Before the pack is read: name the pusher of the new tips (refusals come per ref)."""

    def __init__(self, before_push: OnPush, user: str, state_branch: str) -> None:
        self._before_push = before_push
        self._user = user
        self._state_ref = f"refs/heads/{state_branch}"

    def execute(self, client_refs: Any) -> tuple[bytes, bytes]:
        self._before_push(self._user, [u for u in _text(client_refs) if u[2] != self._state_ref])
        return b"", b""


class _Update(Hook):
    """Per ref: refuse the state branch; git shows `! [remote rejected] ... (reason)`."""

    def __init__(self, state_branch: str, branch: str) -> None:
        self._state_branch = state_branch
        self._branch = branch

    def execute(self, ref: bytes, old: bytes, new: bytes) -> tuple[bytes, bytes]:
        refused = refused_updates(_text([(old, new, ref)]), self._state_branch, self._branch)
        if refused:
            raise HookError(refused[0])
        return b"", b""


class _PostReceive(Hook):
    def __init__(self, on_push: OnPush, user: str) -> None:
        self._on_push = on_push
        self._user = user

    def execute(self, client_refs: Any) -> bytes:
        try:
            self._on_push(self._user, _text(client_refs))
        except Exception:  # the push already landed; never fail it afterwards
            log.exception("post-receive: recording the push failed")
        return b""


class _StrictRefs:
    """dulwich's refs, but a compare-and-swap that lost the race raises (reported failed)."""

    def __init__(self, refs: Any) -> None:
        self._refs = refs

    def __getattr__(self, name: str) -> Any:
        return getattr(self._refs, name)

    def __getitem__(self, name: bytes) -> Any:
        return self._refs[name]

    def __contains__(self, name: bytes) -> bool:
        return name in self._refs

    def set_if_equals(self, name: bytes, old: bytes | None, new: bytes, **kw: Any) -> bool:
        if not self._refs.set_if_equals(name, old, new, **kw):
            raise OSError(f"{name.decode()} moved during the push; fetch and push again")
        return True

    def remove_if_equals(self, name: bytes, old: bytes | None, **kw: Any) -> bool:
        if not self._refs.remove_if_equals(name, old, **kw):
            raise OSError(f"{name.decode()} moved during the push")
        return True


class _ReceivePack(ReceivePackHandler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.repo.refs = _StrictRefs(self.repo.refs)  # type: ignore[attr-defined]


class ConfigBackend(Backend):
    """Opens HOME/config.git for one request, with the hooks of that request's user."""

    def __init__(self, repo_path: Path, *, branch: str, state_branch: str, on_push: OnPush,
                 before_push: OnPush, user: str) -> None:
        self._path = str(repo_path)
        self._branch = branch
        self._state_branch = state_branch
        self._on_push = on_push
        self._before_push = before_push
        self._user = user
        self.opened: list[Repo] = []

    def open_repository(self, path: str | bytes) -> Repo:
        name = path.decode() if isinstance(path, bytes) else path
        if "/" + name.strip("/") not in REPO_URLS:
            raise NotGitRepository(f"no repository at {name}: use /config.git")
        repo = Repo(self._path)
        repo.hooks["pre-receive"] = _PreReceive(self._before_push, self._user,
                                                self._state_branch)
        repo.hooks["update"] = _Update(self._state_branch, self._branch)
        repo.hooks["post-receive"] = _PostReceive(self._on_push, self._user)
        self.opened.append(repo)
        return repo


class GitApp:
    """WSGI app: git smart HTTP for config.git; anything else goes to `fallback`."""

    def __init__(self, repo_path: Path, *, branch: str, state_branch: str, on_push: OnPush,
                 fallback: Callable[..., Any],
                 before_push: OnPush = lambda user, updates: None) -> None:
        self._kw = {"branch": branch, "state_branch": state_branch, "on_push": on_push,
                    "before_push": before_push}
        self._path = repo_path
        self._fallback = fallback

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterator[bytes]:
        backend = ConfigBackend(self._path, user=environ.get(USER_KEY, ""), **self._kw)
        app = make_wsgi_chain(backend, handlers={b"git-receive-pack": _ReceivePack},
                              fallback_app=self._fallback)
        try:
            yield from app(environ, start_response)
        finally:
            for repo in backend.opened:
                repo.close()

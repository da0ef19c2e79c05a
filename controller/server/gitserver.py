"""Git smart HTTP for HOME/config.git, through dulwich, with in-process receive hooks.

Serves one repository at `/config.git` (and `/config`). Each request opens the repository
afresh (refs are re-read; nothing is cached between pushes) and replaces dulwich's shell
hooks with in-process ones: update refuses every ref but the config branch (tags with the
admin scope; never a deletion of the config branch; none in upstream mode unless allowed)
with a message the git client shows (`! [remote rejected] HEAD -> state (gitline: ...)`);
every received pack is checked as `receive.fsckObjects` would (a tree entry `..` or
`.git` refuses the whole push, `remote unpack failed`); pre-receive hands the new tips
and the pusher's name to `before_push` before any ref moves (so the pusher is known before
the watcher notices); post-receive hands the landed updates to `on_push` (which pokes the
loop). Once the pack is in, update hands a push of the config branch to `answer`: its lines
(problems, plan) reach the pusher as `remote:` lines, and it may refuse the push
(reject_invalid); an accepted one goes to `landing` (which names the pusher of every
commit it brings) before its ref moves, so that this work is done before the pass the
ref's move starts, not beside it in the same interpreter (bench section 1). A ref
update whose old value no longer matches (two clients racing) is reported as failed,
never as a silent success.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dulwich.errors import HookError, NotGitRepository, ObjectFormatException
from dulwich.file import FileLocked
from dulwich.hooks import Hook
from dulwich.objects import Tree
from dulwich.protocol import CAPABILITY_SIDE_BAND_64K, SIDE_BAND_CHANNEL_PROGRESS
from dulwich.repo import Repo
from dulwich.server import Backend, ReceivePackHandler
from dulwich.web import make_wsgi_chain

from controller.server.auth import ANONYMOUS, PRINCIPAL_KEY, Principal

log = logging.getLogger("gitline")

REPO_URLS = ("/config.git", "/config")
SOURCES_URL = "/repos/"  # /repos/NAME.git: source NAME of the subscription (issue #14)
# a source's name -> (its bare repository, its branch, followed from an upstream)
SourceRepos = dict[str, tuple[Path, str, bool]]

# (old sha, new sha, ref) as text
RefUpdate = tuple[str, str, str]
OnPush = Callable[[Principal, list[RefUpdate]], None]
# (principal, old, new) of the config branch -> (lines for the pusher, refuse the push)
# (who, old, new[, source]) -> (lines for the pusher, refused); source: a subscription's
Answer = Callable[..., tuple[list[str], bool]]


@dataclass(frozen=True)
class RefRules:
    """Which refs a push may update: the config branch only (tags with the admin scope)."""

    branch: str
    state_branch: str
    upstream: bool = False  # the branch follows an upstream: no direct pushes...
    allow_push_with_upstream: bool = False  # ...unless this setting says so

    def refusal(self, old: str, new: str, ref: str, principal: Principal) -> str:
        """Why `principal` may not make this update ("" if it may)."""
        config_ref = f"refs/heads/{self.branch}"
        deleting = set(new) == {"0"}
        if ref == f"refs/heads/{self.state_branch}" or ref.startswith("refs/gitline/"):
            return (f"gitline: {ref} is written only by the controller; "
                    f"push to {self.branch} instead")
        if ref == config_ref:
            if deleting:
                return f"gitline: {config_ref} cannot be deleted"
            if self.upstream and not self.allow_push_with_upstream:
                return (f"gitline: {config_ref} follows the upstream repository (setting "
                        "upstream); push there, or set allow_push_with_upstream: true")
            return ""
        if ref.startswith("refs/tags/"):
            return "" if principal.may("admin") else \
                f"gitline: {ref}: tags need a token with the admin scope"
        return f"gitline: {ref} is not {config_ref}: only {self.branch} takes pushes"


def refused_updates(updates: Sequence[RefUpdate], state_branch: str, branch: str,
                    principal: Principal = ANONYMOUS) -> list[str]:
    """Messages for the updates a user may not push; [] if all may go."""
    rules = RefRules(branch, state_branch)
    return [m for o, n, r in updates if (m := rules.refusal(o, n, r, principal))]


# NTFS and HFS+ read these as `.git` too (git's fsck refuses them for that reason).
_IGNORABLE = dict.fromkeys([0x200C, 0x200D, 0x200E, 0x200F, *range(0x202A, 0x202F),
                            *range(0x206A, 0x2070), 0xFEFF])


def bad_tree_entry(name: bytes) -> str:
    """Why a tree entry name is refused, as git's fsck would ("" if it is fine)."""
    text = name.decode("utf-8", "replace")
    if name in (b"", b".", b"..") or b"/" in name or b"\0" in name:
        return f"tree entry {text!r} is not a file name"
    folded = text.translate(_IGNORABLE).lower()
    if folded.rstrip(". ") == ".git" or folded == "git~1" or folded.startswith(".git:"):
        return f"tree entry {text!r} would be read as .git"
    return ""


def check_objects(objects: Any) -> None:
    """ObjectFormatException naming the first tree of `objects` that fsck refuses."""
    for obj in objects:
        if not isinstance(obj, Tree):
            continue
        for entry in obj.iteritems():
            why = bad_tree_entry(entry.path)
            if why:
                raise ObjectFormatException(f"gitline: refused: tree {obj.id.decode()}: {why}")
        try:
            obj.check()
        except ObjectFormatException as err:
            raise ObjectFormatException(
                f"gitline: refused: tree {obj.id.decode()}: {err}") from None


def _text(updates: Sequence[tuple[bytes, bytes, bytes]]) -> list[RefUpdate]:
    return [(o.decode(), n.decode(), r.decode()) for o, n, r in updates]


class _PreReceive(Hook):
    """Before the pack is read: name the pusher of the new tips it may push."""

    def __init__(self, before_push: OnPush, principal: Principal, rules: RefRules) -> None:
        self._before_push = before_push
        self._principal = principal
        self._rules = rules

    def execute(self, client_refs: Any) -> tuple[bytes, bytes]:
        self._before_push(self._principal, [
            u for u in _text(client_refs) if not self._rules.refusal(*u, self._principal)])
        return b"", b""


class _Update(Hook):
    """Per ref: refuse what `rules` refuse; git shows `! [remote rejected] ... (reason)`.

    Runs once the pack is in (dulwich's pre-receive runs before it is read), so the config
    branch's new commits can be answered here: the lines go to the pusher as `remote:`
    progress through `say`, and a refusal keeps the ref where it was."""

    def __init__(self, rules: RefRules, principal: Principal, answer: Answer | None,
                 landing: OnPush | None = None) -> None:
        self._rules = rules
        self._principal = principal
        self._answer = answer
        self._landing = landing
        self.say: Callable[[bytes], None] = lambda data: None  # set by _ReceivePack

    def execute(self, ref: bytes, old: bytes, new: bytes) -> tuple[bytes, bytes]:
        refused = self._rules.refusal(old.decode(), new.decode(), ref.decode(), self._principal)
        if refused:
            raise HookError(refused)
        if ref.decode() != f"refs/heads/{self._rules.branch}":
            return b"", b""
        if self._answer is not None:
            self._answered(self._answer, old, new)
        if self._landing is not None:
            try:
                self._landing(self._principal, _text([(old, new, ref)]))
            except Exception:  # naming the pusher never fails the push
                log.exception("recording the pusher of %s failed", new[:7].decode())
        return b"", b""

    def _answered(self, answer: Answer, old: bytes, new: bytes) -> None:
        """The answer's lines to the pusher; HookError when it refuses the push."""
        try:
            lines, refuse = answer(self._principal, old.decode(), new.decode())
        except Exception:  # the answer is a courtesy: never block a push because it broke
            log.exception("the answer to a push of %s failed", new[:7].decode())
            return
        self.say("".join(f"{line}\n" for line in lines).encode())
        if refuse:
            raise HookError("gitline: the workflow has errors (reject_invalid: true)")


class _PostReceive(Hook):
    def __init__(self, on_push: OnPush, principal: Principal) -> None:
        self._on_push = on_push
        self._principal = principal

    def execute(self, client_refs: Any) -> bytes:
        try:
            self._on_push(self._principal, _text(client_refs))
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

    # Another push holding the ref's lock file lost this one the race too. dulwich reports
    # an OSError as "failed to write"; FileLocked (not an OSError) would fail the whole
    # request after the answer's remote: lines were sent, and the client would hang.
    def set_if_equals(self, name: bytes, old: bytes | None, new: bytes, **kw: Any) -> bool:
        try:
            moved = not self._refs.set_if_equals(name, old, new, **kw)
        except FileLocked:
            moved = True
        if moved:
            raise OSError(f"{name.decode()} moved during the push; fetch and push again")
        return True

    def remove_if_equals(self, name: bytes, old: bytes | None, **kw: Any) -> bool:
        try:
            moved = not self._refs.remove_if_equals(name, old, **kw)
        except FileLocked:
            moved = True
        if moved:
            raise OSError(f"{name.decode()} moved during the push")
        return True


class _ReceivePack(ReceivePackHandler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        repo: Any = self.repo  # a dulwich Repo (refs, hooks), typed as the BackendRepo protocol
        repo.refs = _StrictRefs(repo.refs)  # duck-types the RefsContainer it wraps
        update = repo.hooks.get("update")
        if isinstance(update, _Update):
            update.say = self._progress
        store: Any = self.repo.object_store
        add_thin_pack = store.add_thin_pack

        def checked_add(*a: Any, **kw: Any) -> Any:
            # receive.fsckObjects for HTTP: an ObjectFormatException here fails the unpack,
            # so no ref moves (the unreferenced objects stay until a gc, as dulwich does).
            pack = add_thin_pack(*a, **kw)
            check_objects(pack.iterobjects())
            return pack

        store.add_thin_pack = checked_add


    def _progress(self, data: bytes) -> None:
        """`remote:` lines in the pusher's terminal (side-band progress, when asked for)."""
        if data and self._client_capabilities is not None and \
                self.has_capability(CAPABILITY_SIDE_BAND_64K):
            self.proto.write_sideband(SIDE_BAND_CHANNEL_PROGRESS, data)


class ConfigBackend(Backend):
    """Opens HOME/config.git for one request, with the hooks of that request's principal."""

    def __init__(self, repo_path: Path, *, rules: RefRules, on_push: OnPush,
                 before_push: OnPush, principal: Principal, answer: Answer | None = None,
                 sources: SourceRepos | None = None,
                 on_source_push: OnPush | None = None, landing: OnPush | None = None) -> None:
        self._path = str(repo_path)
        self._landing = landing
        self._sources = sources or {}
        self._on_source_push = on_source_push or (lambda principal, updates: None)
        self._answer = answer
        self._rules = rules
        self._on_push = on_push
        self._before_push = before_push
        self._principal = principal
        self.opened: list[Repo] = []

    def open_repository(self, path: str | bytes) -> Repo:
        name = path.decode() if isinstance(path, bytes) else path
        url = "/" + name.strip("/")
        if url.startswith(SOURCES_URL) and url[len(SOURCES_URL):].removesuffix(".git") \
                in self._sources:  # only a listed name: never a path of its own
            source = url[len(SOURCES_URL):].removesuffix(".git")
            where, branch, followed = self._sources[source]
            rules = RefRules(branch, self._rules.state_branch, followed)
            repo = Repo(str(where))
            repo.hooks["pre-receive"] = _PreReceive(self._before_push, self._principal, rules)
            answer = self._answer
            repo.hooks["update"] = _Update(
                rules, self._principal,
                None if answer is None else lambda who, old, new: answer(who, old, new, source))
            repo.hooks["post-receive"] = _PostReceive(self._on_source_push, self._principal)
            self.opened.append(repo)
            return repo
        if url not in REPO_URLS:
            raise NotGitRepository(f"no repository at {name}: use /config.git")
        repo = Repo(self._path)
        repo.hooks["pre-receive"] = _PreReceive(self._before_push, self._principal, self._rules)
        repo.hooks["update"] = _Update(self._rules, self._principal, self._answer,
                                       self._landing)
        repo.hooks["post-receive"] = _PostReceive(self._on_push, self._principal)
        self.opened.append(repo)
        return repo


class GitApp:
    """WSGI app: git smart HTTP for config.git; anything else goes to `fallback`."""

    def __init__(self, repo_path: Path, *, branch: str, state_branch: str, on_push: OnPush,
                 fallback: Callable[..., Any],
                 before_push: OnPush = lambda principal, updates: None,
                 upstream: bool = False, allow_push_with_upstream: bool = False,
                 answer: Answer | None = None, sources: SourceRepos | None = None,
                 on_source_push: OnPush | None = None, landing: OnPush | None = None) -> None:
        self._kw = {"rules": RefRules(branch, state_branch, upstream, allow_push_with_upstream),
                    "on_push": on_push, "before_push": before_push, "answer": answer,
                    "sources": sources, "on_source_push": on_source_push, "landing": landing}
        self._path = repo_path
        self._fallback = fallback
        self._sources = sources

    def _serves(self, path: str) -> bool:
        """Whether `path` lies inside a repository this server serves."""
        if ".." in path.split("/"):
            return False
        if any(path.startswith(root + "/") for root in REPO_URLS):
            return True
        if path.startswith(SOURCES_URL):
            name = path[len(SOURCES_URL):].split("/", 1)[0].removesuffix(".git")
            return name in (self._sources or {})
        return False

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterator[bytes]:
        if not self._serves(environ.get("PATH_INFO", "")):
            # not inside a repository served here (or with `..` in it): never dulwich's
            yield from self._fallback(environ, start_response)
            return
        principal = environ.get(PRINCIPAL_KEY) or ANONYMOUS
        backend = ConfigBackend(self._path, principal=principal, **self._kw)  # type: ignore[arg-type]
        app = make_wsgi_chain(backend, handlers={b"git-receive-pack": _ReceivePack},
                              fallback_app=self._fallback)
        try:
            yield from app(environ, start_response)
        finally:
            for repo in backend.opened:
                repo.close()

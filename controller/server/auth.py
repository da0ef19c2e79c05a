"""Who is calling: API tokens stored hashed in HOME/tokens.yml, checked in one WSGI filter.

A token is `gl_<id>_<secret>`: a public id (12 hex digits) and 192 random bits. It is made
once (`gitline token add HOME NAME` prints it) and only the SHA-256 of its secret is kept,
keyed by the id, so the file leaks nothing usable and a request costs one dict lookup and
one `hmac.compare_digest`, never a slow hash per stored token (scrypt against every entry
let 20 parallel wrong tokens block every valid request for 24 s). A slow hash protects
low-entropy passwords; 192 random bits need none.

Each token has scopes (`read`, `push`, `trigger`, `approve`, `admin`, `worker`; admin
implies all)
and may be bound to an approver's email. A client sends it as HTTP basic auth (any user
name, the token as password; git does exactly this for `http://NAME:TOKEN@host/...`) or
as `Authorization: Bearer TOKEN`. The filter decides the scope a request needs, answers
401/403 itself, and sets `environ["gitline.user"]` and `environ["gitline.principal"]`;
the apps behind it never look at credentials. `/hooks/...` bypass it: each webhook
carries its own secret, checked by the API.

Migration: entries of tokens.yml from before scopes (a salted scrypt `hash:` and no
`scopes:`) keep working with the scopes those tokens had, read, push and trigger, but are
checked on a path of their own (one scrypt at a time, never reached by a new-style
token) and `gitline token list` marks them `legacy`: re-issue them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from controller.atomicfile import write_atomic

TOKENS_FILE = "tokens.yml"
TOKEN_PREFIX = "gl_"
USER_KEY = "gitline.user"
PRINCIPAL_KEY = "gitline.principal"
# worker: a `gitline worker` fetching a run's big input files (GET /api/objects/<oid>)
SCOPES = ("read", "push", "trigger", "approve", "admin", "worker")
# What `gitline token add` gives without --scope, and what a token from before scopes had.
DEFAULT_SCOPES = ("read", "push", "trigger")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@\-]{0,63}")
_EMAIL = re.compile(r"[^\s<>@,]+@[^\s<>@,]+")
_TOKEN = re.compile(r"gl_(?P<id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_\-]{32})")
_LEGACY = re.compile(r"gl_[A-Za-z0-9_\-]{32}")  # secrets.token_urlsafe(24), scrypt-hashed
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}

Environ = dict[str, Any]
App = Callable[[Environ, Callable[..., Any]], Iterable[bytes]]


class TokenError(Exception):
    """A token name, scope or email is invalid, or the name is taken or unknown."""


@dataclass(frozen=True)
class Principal:
    """Who a request authenticated as: a token's name, scopes and bound email."""

    name: str
    scopes: frozenset[str]
    email: str = ""

    def may(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


ANONYMOUS = Principal("", frozenset({"read"}))


def parse_scopes(text: str | Iterable[str]) -> tuple[str, ...]:
    """"push,approve" -> ("push", "approve"); TokenError naming an unknown scope."""
    items = text.split(",") if isinstance(text, str) else list(text)
    scopes = tuple(dict.fromkeys(s.strip().lower() for s in items if s.strip()))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise TokenError(f"unknown scope {', '.join(unknown) or '(none)'}: use a comma-separated "
                         f"list of {', '.join(SCOPES)}")
    return scopes


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_token(token: str, salt: bytes) -> str:
    """The scrypt hash of a token from before scopes (kept to check those tokens)."""
    digest = hashlib.scrypt(token.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_token(token: str, stored: str) -> bool:
    """True if a legacy token matches its stored scrypt hash; compared in constant time."""
    try:
        scheme, salt, _ = stored.split("$")
        if scheme != "scrypt":
            return False
        return hmac.compare_digest(hash_token(token, bytes.fromhex(salt)), stored)
    except ValueError:
        return False


def _entry(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    entry: dict[str, Any] = {str(k): str(v) for k, v in value.items() if k != "scopes"}
    raw = value.get("scopes")
    try:
        entry["scopes"] = parse_scopes(raw if isinstance(raw, list | str) else ()) \
            if raw is not None else DEFAULT_SCOPES
    except TokenError:
        entry["scopes"] = ()  # a hand-edited bad scope grants nothing
    return entry


class TokenStore:
    """HOME/tokens.yml: name -> {id, sha256, scopes, email, created}. Rewritten whole, 0600."""

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / TOKENS_FILE
        self._lock = threading.Lock()
        self._legacy_lock = threading.Lock()  # one scrypt at a time, only for legacy tokens
        self._cache: tuple[int, dict[str, dict[str, Any]], dict[str, str]] | None = None
        self._verified: dict[str, str] = {}  # sha256(legacy token) -> name

    def _read(self) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """(name -> entry, id -> name), re-read when the file changes."""
        if not self.path.exists():
            return {}, {}
        mtime = self.path.stat().st_mtime_ns
        if self._cache and self._cache[0] == mtime:
            return self._cache[1], self._cache[2]
        data = YAML(typ="safe", pure=True).load(self.path.read_text(encoding="utf-8")) or {}
        tokens = {str(k): e for k, v in (data.items() if isinstance(data, dict) else ())
                  if (e := _entry(v)) is not None}
        by_id = {e["id"]: n for n, e in tokens.items() if e.get("id")}
        self._cache = (mtime, tokens, by_id)
        self._verified = {}  # a removed token must stop working at once
        return tokens, by_id

    def _write(self, tokens: dict[str, dict[str, Any]]) -> None:
        text = io.StringIO()
        text.write("# Gitline tokens: id, SHA-256 of the secret, scopes. "
                   "Manage with `gitline token`.\n")
        YAML(typ="safe", pure=True).dump(
            {n: {**e, "scopes": list(e["scopes"])} for n, e in tokens.items()}, text)
        write_atomic(self.path, text.getvalue(), mode=0o600)

    def add(self, name: str, scopes: Iterable[str] | str = DEFAULT_SCOPES,
            email: str = "") -> str:
        """Make a token for `name`; returns it (the only time it is shown)."""
        if not _NAME.fullmatch(name):
            raise TokenError(f"invalid token name {name!r}: letters, digits, _ . @ - only")
        if email and not _EMAIL.fullmatch(email):
            raise TokenError(f"invalid email {email!r}: expected name@host")
        granted = parse_scopes(scopes)
        with self._lock:
            tokens, by_id = self._read()
            tokens = dict(tokens)
            if name in tokens:
                raise TokenError(f"a token named {name!r} exists: remove it first")
            token_id = secrets.token_hex(6)
            while token_id in by_id:
                token_id = secrets.token_hex(6)
            secret = secrets.token_urlsafe(24)  # 192 random bits, 32 characters
            tokens[name] = {"id": token_id, "sha256": _digest(secret), "scopes": granted,
                            **({"email": email} if email else {}),
                            "created": datetime.now(UTC).isoformat(timespec="seconds")}
            self._write(tokens)
        return f"{TOKEN_PREFIX}{token_id}_{secret}"

    def remove(self, name: str) -> None:
        with self._lock:
            tokens = dict(self._read()[0])
            if name not in tokens:
                raise TokenError(f"no token named {name!r}")
            del tokens[name]
            self._write(tokens)

    def list(self) -> dict[str, str]:
        """name -> creation time."""
        return {n: t.get("created", "") for n, t in sorted(self._read()[0].items())}

    def entries(self) -> dict[str, dict[str, Any]]:
        """name -> {created, scopes, email, legacy}: what `gitline token list` shows."""
        return {n: {"created": e.get("created", ""), "scopes": e["scopes"],
                    "email": e.get("email", ""), "legacy": not e.get("id")}
                for n, e in sorted(self._read()[0].items())}

    def legacy(self) -> tuple[str, ...]:
        """Names of tokens from before scopes (scrypt-hashed): to be re-issued."""
        return tuple(n for n, e in self._read()[0].items() if not e.get("id"))

    def principal(self, token: str) -> Principal | None:
        """Who a token belongs to, or None. A dict lookup and one constant-time compare."""
        m = _TOKEN.fullmatch(token)
        with self._lock:
            tokens, by_id = self._read()
            if m is not None:
                name = by_id.get(m["id"])
                entry = tokens.get(name or "")
                if entry is None or not hmac.compare_digest(
                        _digest(m["secret"]), entry.get("sha256", "")):
                    return None
                return Principal(name or "", frozenset(entry["scopes"]), entry.get("email", ""))
            legacy = {n: e for n, e in tokens.items() if not e.get("id")}
        if not legacy or not _LEGACY.fullmatch(token):
            return None
        return self._legacy_principal(token, legacy)

    def _legacy_principal(self, token: str, legacy: dict[str, dict[str, Any]]) -> Principal | None:
        key = _digest(token)
        name = self._verified.get(key)
        if name is None:
            with self._legacy_lock:  # bounded: never more than one scrypt at once
                name = next((n for n, e in legacy.items()
                             if check_token(token, e.get("hash", ""))), None)
            if name is None:
                return None
            self._verified[key] = name
        entry = legacy.get(name)
        if entry is None:
            return None
        return Principal(name, frozenset(entry["scopes"]), entry.get("email", ""))

    def verify(self, token: str) -> str | None:
        """The name a token belongs to, or None."""
        found = self.principal(token)
        return found.name if found else None


def credentials(environ: Environ) -> str | None:
    """The token of a request: the basic-auth password, or a bearer token."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return password or user or None
    return None


def required_scope(environ: Environ) -> str:
    """The scope a request needs: read (fetch, GET), push, trigger (trigger, cancel,
    replay), approve (approve, reject) or admin."""
    path = environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")
    method = environ.get("REQUEST_METHOD", "GET")
    if path.endswith("/git-receive-pack") or "service=git-receive-pack" in query:
        return "push"
    if path.startswith("/api/objects/"):
        return "worker"  # a run's input files: for its workers, not for readers
    if path.endswith("/git-upload-pack") or method in ("GET", "HEAD"):
        return "read"  # a fetch is a POST but reads
    # cancel and replay start or stop runs of a job, as a trigger does: the same scope
    if method == "POST" and re.fullmatch(
            r"/api/jobs/[^/]+/(trigger|cancel|runs/[0-9]+/replay)", path):
        return "trigger"
    if method == "POST" and re.fullmatch(r"/api/jobs/[^/]+/(approve|reject)", path):
        return "approve"
    return "admin"


def is_write(environ: Environ) -> bool:
    """A git push (its ref advertisement too) or any non-GET API call."""
    return required_scope(environ) != "read"


class AuthFilter:
    """WSGI filter: 401 without a valid token (unless anonymous read is on for a read),
    403 when the token lacks the scope the request needs."""

    def __init__(self, app: App, tokens: TokenStore, *, anonymous_read: bool = False) -> None:
        self.app = app
        self.tokens = tokens
        self.anonymous_read = anonymous_read

    def __call__(self, environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/hooks/"):
            environ[USER_KEY] = ""
            environ[PRINCIPAL_KEY] = Principal("", frozenset())
            return self.app(environ, start_response)
        token = credentials(environ)
        principal = self.tokens.principal(token) if token else None
        needed = required_scope(environ)
        if principal is None:
            if self.anonymous_read and needed == "read" and not token:
                environ[USER_KEY] = ""
                environ[PRINCIPAL_KEY] = ANONYMOUS
                return self.app(environ, start_response)
            message = "invalid or revoked token" if token else "authentication required"
            start_response("401 Unauthorized", [
                ("WWW-Authenticate", 'Basic realm="gitline"'),
                ("Content-Type", "text/plain")])
            return [f"gitline: {message}\n".encode()]
        if not principal.may(needed):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            has = ", ".join(sorted(principal.scopes)) or "none"
            return [f"gitline: token {principal.name} lacks the {needed} scope "
                    f"(it has: {has})\n".encode()]
        environ[USER_KEY] = principal.name
        environ[PRINCIPAL_KEY] = principal
        return self.app(environ, start_response)

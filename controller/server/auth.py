"""Who is calling: API tokens stored hashed in HOME/tokens.yml, checked in one WSGI filter.

A token is made once (`gitline token add NAME` prints it) and only its salted scrypt hash
is kept, so the file leaks nothing usable. A client sends it as HTTP basic auth (any user
name, the token as password; git does exactly this for `http://NAME:TOKEN@host/...`) or
as `Authorization: Bearer TOKEN`. The filter sets `environ["gitline.user"]` and decides
read versus write; the apps behind it never look at credentials. `/hooks/...` bypass it:
each webhook carries its own secret, checked by the API.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

TOKENS_FILE = "tokens.yml"
TOKEN_PREFIX = "gl_"
USER_KEY = "gitline.user"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@\-]{0,63}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}

Environ = dict[str, Any]
App = Callable[[Environ, Callable[..., Any]], Iterable[bytes]]


class TokenError(Exception):
    """A token name is invalid, taken or unknown."""


def hash_token(token: str, salt: bytes) -> str:
    digest = hashlib.scrypt(token.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_token(token: str, stored: str) -> bool:
    """True if `token` matches the stored hash; compared in constant time."""
    try:
        scheme, salt, _ = stored.split("$")
        if scheme != "scrypt":
            return False
        return hmac.compare_digest(hash_token(token, bytes.fromhex(salt)), stored)
    except ValueError:
        return False


class TokenStore:
    """HOME/tokens.yml: name -> {hash, created}. Rewritten whole, mode 0600."""

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / TOKENS_FILE
        self._lock = threading.Lock()
        self._cache: tuple[float, dict[str, dict[str, str]]] | None = None
        self._verified: dict[str, str] = {}  # sha256(token) -> name, avoids scrypt per request

    def _read(self) -> dict[str, dict[str, str]]:
        if not self.path.exists():
            return {}
        mtime = self.path.stat().st_mtime_ns
        if self._cache and self._cache[0] == mtime:
            return self._cache[1]
        data = YAML(typ="safe", pure=True).load(self.path.read_text(encoding="utf-8")) or {}
        tokens = {str(k): {str(a): str(b) for a, b in v.items()}
                  for k, v in data.items() if isinstance(v, dict)}
        self._cache = (mtime, tokens)
        self._verified = {}  # a removed token must stop working at once
        return tokens

    def _write(self, tokens: dict[str, dict[str, str]]) -> None:
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("# Gitline API tokens (salted scrypt hashes). Manage with `gitline token`.\n")
            YAML(typ="safe", pure=True).dump(tokens, f)
        os.replace(tmp, self.path)

    def add(self, name: str) -> str:
        """Make a token for `name`; returns it (the only time it is shown)."""
        if not _NAME.match(name):
            raise TokenError(f"invalid token name {name!r}: letters, digits, _ . @ - only")
        with self._lock:
            tokens = dict(self._read())
            if name in tokens:
                raise TokenError(f"a token named {name!r} exists: remove it first")
            token = TOKEN_PREFIX + secrets.token_urlsafe(24)
            tokens[name] = {"hash": hash_token(token, secrets.token_bytes(16)),
                            "created": datetime.now(UTC).isoformat(timespec="seconds")}
            self._write(tokens)
        return token

    def remove(self, name: str) -> None:
        with self._lock:
            tokens = dict(self._read())
            if name not in tokens:
                raise TokenError(f"no token named {name!r}")
            del tokens[name]
            self._write(tokens)

    def list(self) -> dict[str, str]:
        """name -> creation time."""
        return {n: t.get("created", "") for n, t in sorted(self._read().items())}

    def verify(self, token: str) -> str | None:
        """The name a token belongs to, or None."""
        with self._lock:
            tokens = self._read()
            key = hashlib.sha256(token.encode()).hexdigest()
            name = self._verified.get(key)
            if name is not None and name in tokens:
                return name
            for name, entry in tokens.items():
                if check_token(token, entry.get("hash", "")):
                    self._verified[key] = name
                    return name
        return None


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


def is_write(environ: Environ) -> bool:
    """A git push (its ref advertisement too) or any non-GET API call."""
    path = environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")
    if path.endswith("/git-receive-pack") or "service=git-receive-pack" in query:
        return True
    if path.endswith("/git-upload-pack"):
        return False  # a fetch is a POST but reads
    return environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD")


class AuthFilter:
    """WSGI filter: 401 without a valid token (unless anonymous read is on for a read)."""

    def __init__(self, app: App, tokens: TokenStore, *, anonymous_read: bool = False) -> None:
        self.app = app
        self.tokens = tokens
        self.anonymous_read = anonymous_read

    def __call__(self, environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/hooks/"):
            environ[USER_KEY] = ""
            return self.app(environ, start_response)
        token = credentials(environ)
        user = self.tokens.verify(token) if token else None
        if user is None:
            if self.anonymous_read and not is_write(environ) and not token:
                environ[USER_KEY] = ""
                return self.app(environ, start_response)
            message = "invalid or revoked token" if token else "authentication required"
            start_response("401 Unauthorized", [
                ("WWW-Authenticate", 'Basic realm="gitline"'),
                ("Content-Type", "text/plain")])
            return [f"gitline: {message}\n".encode()]
        environ[USER_KEY] = user
        return self.app(environ, start_response)

"""Signed-in browsers: a token given once at /login becomes a random session id in an
HttpOnly, SameSite=Strict cookie. The token stays on the server, in memory, and is checked
again at every request (a removed token signs its sessions out at once); each session has
its own CSRF token, which every form carries and every POST must send back.

Sessions live in memory: a restarted controller asks everyone to sign in again.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any

from controller.server.auth import Principal

COOKIE = "gitline_session"
LIFETIME = 12 * 3600.0  # seconds a session lives after its last use
MAX_SESSIONS = 10_000  # the oldest go first past this (bounded memory)


@dataclass
class Session:
    sid: str
    csrf: str
    token: str = ""  # "" for a visitor who has not signed in
    used: float = field(default_factory=time.monotonic)
    flash: tuple[str, bool] = ("", False)  # what the next page says (text, is an error)


class Sessions:
    """Session id -> Session, bounded, expiring; `principal` re-checks the token.

    Visitors (no token yet: anyone can make one by loading /login) and signed-in sessions
    are kept apart, so a flood of visitors never pushes a signed-in session out."""

    def __init__(self, principal: Callable[[str], Principal | None]) -> None:
        self._principal = principal
        self._lock = threading.Lock()
        self._signed: OrderedDict[str, Session] = OrderedDict()
        self._visitors: OrderedDict[str, Session] = OrderedDict()

    def get(self, environ: dict[str, Any]) -> Session | None:
        sid = cookie_value(environ.get("HTTP_COOKIE", ""))
        if not sid:
            return None
        now = time.monotonic()
        with self._lock:
            pool = self._signed if sid in self._signed else self._visitors
            found = pool.get(sid)
            if found is None or now - found.used > LIFETIME:
                pool.pop(sid, None)
                return None
            found.used = now
            pool.move_to_end(sid)
            return found

    def new(self, token: str = "") -> Session:
        made = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), token)
        with self._lock:
            pool = self._signed if token else self._visitors
            pool[made.sid] = made
            while len(pool) > MAX_SESSIONS:
                pool.popitem(last=False)
        return made

    def end(self, session: Session) -> None:
        with self._lock:
            self._signed.pop(session.sid, None)
            self._visitors.pop(session.sid, None)

    def principal(self, session: Session | None) -> Principal | None:
        """Who the session signed in as, while that token is valid; else None."""
        if session is None or not session.token:
            return None
        return self._principal(session.token)


def csrf_ok(session: Session | None, sent: str) -> bool:
    return session is not None and bool(sent) and hmac.compare_digest(session.csrf, sent)


def cookie_value(header: str) -> str:
    try:
        jar = SimpleCookie(header)
    except CookieError:
        return ""
    morsel = jar.get(COOKIE)
    return morsel.value if morsel else ""


def set_cookie(session: Session, *, clear: bool = False) -> tuple[str, str]:
    value = "" if clear else session.sid
    age = 0 if clear else int(LIFETIME)
    return ("Set-Cookie", f"{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; "
                          f"Max-Age={age}")

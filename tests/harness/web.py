"""A browser-less client of the web view: a cookie jar, the page's CSRF token, forms."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None  # a test reads the 303 itself


@dataclass
class Reply:
    status: int
    body: str
    headers: dict[str, str]


@dataclass
class WebClient:
    base: str
    jar: http.cookiejar.CookieJar = field(default_factory=http.cookiejar.CookieJar)

    def __post_init__(self) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def request(self, path: str, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        data = None if form is None else urllib.parse.urlencode(form).encode()
        req = urllib.request.Request(self.base + path, data=data, headers={
            **({"Content-Type": "application/x-www-form-urlencoded"} if data else {}),
            **(headers or {})})
        try:
            with self.opener.open(req, timeout=30) as resp:
                return Reply(resp.status, resp.read().decode(), dict(resp.headers))
        except urllib.error.HTTPError as err:
            return Reply(err.code, err.read().decode(), dict(err.headers))

    def get(self, path: str) -> Reply:
        return self.request(path)

    def post(self, path: str, form: dict[str, str]) -> Reply:
        return self.request(path, form)

    def csrf(self, path: str = "/login") -> str:
        """The CSRF token a page's forms carry (a visitor gets one with its first page)."""
        page = self.get(path)
        m = re.search(r'name="csrf" value="([^"]+)"', page.body)
        assert m, f"no CSRF token on {path} ({page.status}): {page.body[:300]}"
        return m[1]

    def sign_in(self, token: str) -> Reply:
        reply = self.post("/login", {"csrf": self.csrf(), "token": token, "next": "/"})
        assert reply.status == 303, reply
        return reply

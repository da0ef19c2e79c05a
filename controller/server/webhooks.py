"""Incoming webhooks, decided in pure functions: is it authentic, and what does it say.

No I/O here: callers pass the request headers (lower-case names), the raw body and the
secret. Two kinds of hooks:

- `webhook` resources (POST /hooks/<resource>): a shared key, sent as
  `Authorization: Bearer KEY`, `X-Gitline-Token: KEY`, or an HMAC-SHA256 of the body
  as `X-Hub-Signature-256: sha256=<hex>`.
- git push hooks (POST /hooks/git) from GitHub (`X-Hub-Signature-256`), Gitea
  (`X-Gitea-Signature`, hex HMAC-SHA256) and GitLab (`X-Gitlab-Token`, the plain secret).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from controller.core.sources import Push

MAX_PAYLOAD = 1024 * 1024  # bytes; larger bodies get 413


class PayloadError(ValueError):
    """The body is not a JSON document (HTTP 400)."""


def _hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def verify_resource_hook(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    """True if a `webhook` resource's request carries its key or a valid signature."""
    return bool(resource_hook_auth(headers, body, secret))


def resource_hook_auth(headers: Mapping[str, str], body: bytes, secret: str) -> str:
    """How a `webhook` resource's request proved itself: "key", "signature" or "" (not)."""
    if not secret:
        return ""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and _same(auth[7:].strip(), secret):
        return "key"
    token = headers.get("x-gitline-token", "")
    if token and _same(token, secret):
        return "key"
    sig = headers.get("x-hub-signature-256", "")
    return "signature" if sig and _same(sig, "sha256=" + _hmac_hex(secret, body)) else ""


def git_provider(headers: Mapping[str, str]) -> str:
    """"github", "gitea", "gitlab", or "" for a request from none of them."""
    if "x-gitea-event" in headers or "x-gitea-signature" in headers:
        return "gitea"  # Gitea also sends X-GitHub-Event; check it first
    if "x-gitlab-event" in headers or "x-gitlab-token" in headers:
        return "gitlab"
    if "x-github-event" in headers or "x-hub-signature-256" in headers:
        return "github"
    return ""


def verify_git_hook(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    """True if a push hook carries its provider's signature (or token) for `secret`."""
    if not secret:
        return False
    provider = git_provider(headers)
    if provider == "gitea":
        sig = headers.get("x-gitea-signature", "")
        return bool(sig) and _same(sig, _hmac_hex(secret, body))
    if provider == "gitlab":
        token = headers.get("x-gitlab-token", "")
        return bool(token) and _same(token, secret)
    if provider == "github":
        sig = headers.get("x-hub-signature-256", "")
        return bool(sig) and _same(sig, "sha256=" + _hmac_hex(secret, body))
    return False


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise PayloadError(f"the body is not JSON: {err}") from err


def parse_push(headers: Mapping[str, str], payload: Any) -> Push:
    """The ref and repository URLs of a GitHub/Gitea/GitLab push payload."""
    if not isinstance(payload, dict):
        raise PayloadError("a push payload must be a JSON object")
    repo = payload.get("repository") or payload.get("project") or {}
    keys = ("clone_url", "ssh_url", "git_url", "html_url", "url", "git_http_url",
            "git_ssh_url", "http_url", "ssh_url_to_repo", "http_url_to_repo", "homepage")
    urls = tuple(str(repo[k]) for k in keys if isinstance(repo, dict) and repo.get(k))
    return Push(git_provider(headers), str(payload.get("ref", "")),
                str(payload.get("after", payload.get("checkout_sha", "")) or ""), urls)


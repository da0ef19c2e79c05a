"""Tokens: stored hashed, 0600, revocable; the filter lets through only what it should."""

from __future__ import annotations

import base64
import stat

import pytest

from controller.server import auth


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_tokens_are_stored_hashed_and_private(tmp_path):
    store = auth.TokenStore(tmp_path)
    token = store.add("alice")
    text = (tmp_path / "tokens.yml").read_text()
    secret = token[-32:]  # token_urlsafe(24): 32 characters, which may hold "_" themselves
    assert secret not in text and "sha256:" in text
    assert stat.S_IMODE((tmp_path / "tokens.yml").stat().st_mode) == 0o600
    assert store.verify(token) == "alice"
    assert store.verify(token + "x") is None
    assert list(store.list()) == ["alice"]


def test_a_removed_token_stops_working_at_once_even_in_another_store(tmp_path):
    serving = auth.TokenStore(tmp_path)
    token = serving.add("bob")
    assert serving.verify(token) == "bob"  # now cached
    auth.TokenStore(tmp_path).remove("bob")  # the CLI, another process
    assert serving.verify(token) is None


@pytest.mark.parametrize("name", ["", "a b", "../x", "x" * 80])
def test_bad_names_are_refused(tmp_path, name):
    with pytest.raises(auth.TokenError):
        auth.TokenStore(tmp_path).add(name)


def test_duplicate_and_unknown_names(tmp_path):
    store = auth.TokenStore(tmp_path)
    store.add("carol")
    with pytest.raises(auth.TokenError, match="exists"):
        store.add("carol")
    with pytest.raises(auth.TokenError, match="no token"):
        store.remove("dave")


@pytest.mark.parametrize(("header", "expected"), [
    (basic("alice", "gl_x"), "gl_x"),
    (basic("gl_y", ""), "gl_y"),
    ("Bearer gl_z", "gl_z"),
    ("Basic !!!", None),
    ("", None),
])
def test_credentials(header, expected):
    assert auth.credentials({"HTTP_AUTHORIZATION": header}) == expected


@pytest.mark.parametrize(("method", "path", "query", "write"), [
    ("GET", "/config.git/info/refs", "service=git-upload-pack", False),
    ("POST", "/config.git/git-upload-pack", "", False),
    ("GET", "/config.git/info/refs", "service=git-receive-pack", True),
    ("POST", "/config.git/git-receive-pack", "", True),
    ("GET", "/api/status", "", False),
    ("POST", "/api/jobs/x/trigger", "", True),
])
def test_reads_and_writes(method, path, query, write):
    env = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query}
    assert auth.is_write(env) is write


def _call(app, env):
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app(env, start_response))
    return seen["status"], seen["headers"], body


def test_filter_sets_the_user_or_answers_401(tmp_path):
    store = auth.TokenStore(tmp_path)
    token = store.add("alice")

    def inner(environ, start_response):
        start_response("200 OK", [])
        return [environ[auth.USER_KEY].encode()]

    strict = auth.AuthFilter(inner, store)
    anon = auth.AuthFilter(inner, store, anonymous_read=True)
    ok = {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/status",
          "HTTP_AUTHORIZATION": basic("x", token)}
    assert _call(strict, ok)[2] == b"alice"
    status, headers, _ = _call(strict, {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/status"})
    assert status.startswith("401") and headers["WWW-Authenticate"] == 'Basic realm="gitline"'
    assert _call(anon, {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/status"})[0] == "200 OK"
    push = {"REQUEST_METHOD": "POST", "PATH_INFO": "/config.git/git-receive-pack"}
    assert _call(anon, push)[0].startswith("401")  # anonymous is read-only at most
    wrong = {**ok, "HTTP_AUTHORIZATION": basic("x", "gl_wrong")}
    assert _call(anon, wrong)[0].startswith("401")  # a bad token is never anonymous
    hook = {"REQUEST_METHOD": "POST", "PATH_INFO": "/hooks/deploy"}
    assert _call(strict, hook)[0] == "200 OK"  # webhooks carry their own secrets


def test_scopes_decide_what_a_token_may_do(tmp_path):
    store = auth.TokenStore(tmp_path)
    reader = store.add("reader", scopes="read")
    pusher = store.add("pusher", scopes="push,approve", email="ada@example.com")
    assert store.principal(pusher) == auth.Principal(
        "pusher", frozenset({"push", "approve"}), "ada@example.com")

    def inner(environ, start_response):
        start_response("200 OK", [])
        return [b"ok"]

    app = auth.AuthFilter(inner, store)
    push = {"REQUEST_METHOD": "POST", "PATH_INFO": "/config.git/git-receive-pack",
            "HTTP_AUTHORIZATION": basic("x", reader)}
    status, _, body = _call(app, push)
    assert status.startswith("403") and b"lacks the push scope" in body
    trigger = {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/jobs/x/trigger",
               "HTTP_AUTHORIZATION": basic("x", reader)}
    assert _call(app, trigger)[0].startswith("403")
    assert _call(app, {**push, "HTTP_AUTHORIZATION": basic("x", pusher)})[0] == "200 OK"
    with pytest.raises(auth.TokenError, match="unknown scope"):
        store.add("bad", scopes="read,root")


def test_a_legacy_scrypt_token_keeps_its_old_scopes(tmp_path):
    legacy = "gl_" + "A" * 32
    (tmp_path / "tokens.yml").write_text(
        f"old:\n  hash: {auth.hash_token(legacy, b'salt')}\n  created: x\n")
    store = auth.TokenStore(tmp_path)
    assert store.principal(legacy) == auth.Principal("old", frozenset(auth.DEFAULT_SCOPES))
    assert store.principal("gl_" + "B" * 32) is None
    assert store.legacy() == ("old",)

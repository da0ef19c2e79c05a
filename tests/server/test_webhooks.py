"""Webhook decisions and the pollers' pure rules, as tables."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from controller.core import model, remotes, sources
from controller.reactor import repopoller
from controller.secrets import Secret
from controller.server import webhooks
from controller.store import remote

BODY = b'{"ref": "refs/heads/main"}'


def sig(key: str, body: bytes = BODY) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(("headers", "ok"), [
    ({"authorization": "Bearer k"}, True),
    ({"authorization": "Bearer x"}, False),
    ({"x-gitline-token": "k"}, True),
    ({"x-hub-signature-256": "sha256=" + sig("k")}, True),
    ({"x-hub-signature-256": "sha256=" + sig("x")}, False),
    ({}, False),
])
def test_resource_hook_keys(headers, ok):
    assert webhooks.verify_resource_hook(headers, BODY, "k") is ok


def test_a_resource_without_a_key_accepts_nothing():
    assert not webhooks.verify_resource_hook({"x-gitline-token": ""}, BODY, "")


@pytest.mark.parametrize(("headers", "provider", "ok"), [
    ({"x-github-event": "push", "x-hub-signature-256": "sha256=" + sig("k")}, "github", True),
    ({"x-github-event": "push"}, "github", False),
    ({"x-gitea-event": "push", "x-github-event": "push", "x-gitea-signature": sig("k")},
     "gitea", True),
    ({"x-gitea-event": "push", "x-gitea-signature": sig("x")}, "gitea", False),
    ({"x-gitlab-event": "Push Hook", "x-gitlab-token": "k"}, "gitlab", True),
    ({"x-gitlab-event": "Push Hook", "x-gitlab-token": "x"}, "gitlab", False),
    ({"x-other": "1"}, "", False),
])
def test_git_hook_signatures(headers, provider, ok):
    assert webhooks.git_provider(headers) == provider
    assert webhooks.verify_git_hook(headers, BODY, "k") is ok


@pytest.mark.parametrize(("a", "b"), [
    ("https://github.com/Org/Repo.git", "git@github.com:org/repo.git"),
    ("https://user:pw@gitea.local:3000/org/repo", "ssh://git@gitea.local:2222/org/repo.git"),
    ("git://127.0.0.1:9418/lib.git", "git://127.0.0.1/lib"),
])
def test_urls_of_the_same_repository_match(a, b):
    push = sources.Push("github", "refs/heads/main", "", (a,))
    assert sources.push_matches(push, b)


def test_sanitize_url_drops_credentials():
    assert remotes.sanitize_url("https://bob:tok@host/x.git") == "https://***@host/x.git"


def test_parse_push_of_each_provider():
    gh = webhooks.parse_push({"x-github-event": "push"}, {
        "ref": "refs/heads/main", "after": "abc",
        "repository": {"clone_url": "https://h/o/r.git", "ssh_url": "git@h:o/r.git"}})
    assert gh.urls == ("https://h/o/r.git", "git@h:o/r.git") and gh.after == "abc"
    gl = webhooks.parse_push({"x-gitlab-event": "Push Hook"}, {
        "ref": "refs/heads/main", "checkout_sha": "def",
        "project": {"git_http_url": "https://h/o/r.git"}})
    assert gl.provider == "gitlab" and gl.after == "def"
    with pytest.raises(webhooks.PayloadError):
        webhooks.parse_push({}, [1, 2])


@pytest.mark.parametrize(("local", "remote", "l_in_r", "r_in_l", "decision"), [
    ("a", "a", True, True, "same"),
    (None, "b", False, False, "fast-forward"),
    ("a", "b", True, False, "fast-forward"),
    ("a", "b", False, True, "local-ahead"),
    ("a", "b", False, False, "rewrite"),
])
def test_decide_follow(local, remote, l_in_r, r_in_l, decision):
    assert sources.decide_follow(local, remote, l_in_r, r_in_l) == decision


REFS = {"refs/heads/main": "1", "refs/heads/master": "2", "refs/heads/feature/a": "3",
        "refs/heads/feature/b": "4", "refs/heads/wip": "5", "refs/tags/v1.0": "6",
        "refs/tags/nightly": "7"}


@pytest.mark.parametrize(("definition", "refs"), [
    ({}, ["refs/heads/main"]),
    ({"branch": "wip"}, ["refs/heads/wip"]),
    ({"branch": "gone"}, []),
    ({"branches": {"only": ["feature/*"]}}, ["refs/heads/feature/a", "refs/heads/feature/b"]),
    ({"branches": {"except": ["feature/*", "master"]}}, ["refs/heads/main", "refs/heads/wip"]),
    ({"branches": {"only": "feature/*", "except": "feature/b"}}, ["refs/heads/feature/a"]),
    ({"branch": "main", "tags": True}, ["refs/heads/main", "refs/tags/nightly",
                                         "refs/tags/v1.0"]),
    ({"branch": "main", "tags": {"only": ["v*"]}}, ["refs/heads/main", "refs/tags/v1.0"]),
])
def test_watched_refs(definition, refs):
    assert sorted(sources.watched_refs(definition, REFS)) == refs


def _repo(definition, integration="", tracks=None):
    return model.Resource("lib", "gitRepo", definition, model.Location("x"),
                          integration=integration, tracks_path=tracks)


@pytest.mark.parametrize(("definition", "integration", "secrets", "url"), [
    ({"sourceName": "org/lib"}, "", {}, "https://github.com/org/lib.git"),
    ({"sourceName": "org/lib"}, "gl", {"gl": {"url": "https://gitlab.example/"}},
     "https://gitlab.example/org/lib.git"),
    ({"sourceName": "git@h:org/lib.git"}, "", {}, "git@h:org/lib.git"),
    ({"sourceName": "org/lib", "url": "file:///srv/lib.git"}, "", {}, "file:///srv/lib.git"),
])
def test_repo_url(definition, integration, secrets, url):
    assert repopoller.repo_url(_repo(definition, integration), secrets) == url


def test_a_gitrepo_of_the_config_repository_is_not_polled():
    assert repopoller.repo_url(_repo({"sourceName": "."}, tracks=""), {}) is None


def test_credentials_go_to_git_through_the_environment(tmp_path):
    env = remote.git_auth_env("https://h/x.git", Secret(fields={"username": "u", "password": "p"}),
                              tmp_path)
    assert env["GIT_CONFIG_KEY_0"] == "http.extraHeader"
    assert env["GIT_CONFIG_VALUE_0"] == "Authorization: Basic dTpw"
    ssh = remote.git_auth_env("git@h:x.git", Secret(fields={"sshKey": "KEY"}), tmp_path / "keys")
    key = ssh["GIT_SSH_COMMAND"].split()[2]
    assert (tmp_path / "keys").exists() and oct(__import__("os").stat(key).st_mode)[-3:] == "600"
    assert remote.git_auth_env("https://h/x.git", None, tmp_path) == {}

"""The listener's request decisions: body limits, Host names, origins, log escaping."""

from __future__ import annotations

import gzip
import io

import pytest

from controller.server import requestcheck as rc

LIMITS = rc.BodyLimits(request=1000, fetch=100, payload=10, anonymous_read=False)


@pytest.mark.parametrize("method,path,query,creds,limit", [
    ("GET", "/api/status", "", True, 0),
    ("POST", "/config.git/git-receive-pack", "", True, 1000),
    ("POST", "/config.git/git-receive-pack", "", False, rc.UNAUTHENTICATED_BODY),
    ("POST", "/config.git/git-upload-pack", "", True, 100),
    ("POST", "/config.git/git-upload-pack", "", False, rc.UNAUTHENTICATED_BODY),
    ("POST", "/hooks/x", "", False, 10),
    ("POST", "/api/jobs/x/trigger", "", True, 10),
])
def test_body_limit_follows_what_the_request_is(method, path, query, creds, limit):
    assert rc.body_limit(method, path, query, creds, LIMITS) == limit


def test_anonymous_fetches_get_the_fetch_limit_when_anonymous_read_is_on():
    limits = rc.BodyLimits(fetch=100, anonymous_read=True)
    assert rc.body_limit("POST", "/config.git/git-upload-pack", "", False, limits) == 100


def test_printable_escapes_every_control_character():
    assert rc.printable("a\nb\r\x1b[31m\u2028c") == "a\\x0ab\\x0d\\x1b[31m\\u2028c"


def test_allowed_hosts_default_to_loopback_and_the_listen_host_with_anonymous_read():
    assert rc.allowed_hosts("", "0.0.0.0", False) == frozenset()
    assert rc.allowed_hosts("", "10.0.0.5", True) == {"localhost", "127.0.0.1", "::1",
                                                      "10.0.0.5"}
    assert rc.allowed_hosts("CI.example.org, x", "127.0.0.1", True) == {"ci.example.org", "x"}
    assert rc.host_name("[::1]:8080") == "::1" and rc.host_name("Example:80") == "example"


def test_inflate_stops_at_the_limit():
    body = gzip.compress(b"0" * 10_000_000)
    with pytest.raises(rc.BodyTooLarge):
        rc.inflate(io.BytesIO(body), 1_000_000)
    out, size = rc.inflate(io.BytesIO(gzip.compress(b"hello")), 10)
    assert size == 5 and out.read() == b"hello"

"""Browser-borne requests against a real `gitline serve`: CSRF and DNS rebinding.

A page on another site can make the user's browser POST `text/plain` to Gitline with the
basic-auth credentials the browser remembers, and, through DNS rebinding, read from a
server with anonymous_read under its own name.
"""

from __future__ import annotations

import base64
import json

from tests.harness.http import request, serve, token
from tests.harness.lines import PAINT_LINE


def _basic(tok: str) -> str:
    return "Basic " + base64.b64encode(f"alice:{tok}".encode()).decode()


def test_cross_origin_and_non_json_api_posts_fail(home):
    home.write("shippable.yml", PAINT_LINE.format(color="red"))
    home.push("line")
    tok = token(home)
    port = serve(home)
    path = "/api/jobs/paint/trigger"
    body = json.dumps({"params": {"REASON": "csrf"}}).encode()
    here = f"127.0.0.1:{port}"
    commits = home.git("rev-list", "--count", "main")
    attempts = [  # what a form or fetch() on evil.example can send without a preflight
        ({"Content-Type": "text/plain", "Origin": "https://evil.example"}, 403),
        ({"Content-Type": "text/plain"}, 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
        ({"Content-Type": "application/json", "Origin": "https://evil.example"}, 403),
        ({"Content-Type": "application/json", "Origin": "null"}, 403),
        ({"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403),
    ]
    for headers, wanted in attempts:
        status, _, answer = request(port, "POST", path, body,
                                    {"Authorization": _basic(tok), **headers})
        assert status == wanted, (headers, status, answer)
        assert json.loads(answer)["error"]
    # a cross-origin push through the browser's remembered credentials fails too
    status, _, _ = request(port, "POST", "/config.git/git-receive-pack", b"0000",
                           {"Authorization": _basic(tok), "Content-Type": "text/plain"})
    assert status == 415
    assert home.git("rev-list", "--count", "main") == commits  # no trigger commit
    # the real client's call works: JSON, same origin or none
    for extra in ({}, {"Origin": f"http://{here}", "Sec-Fetch-Site": "same-origin"}):
        status, _, answer = request(port, "POST", path, body,
                                    {"Authorization": f"Bearer {tok}",
                                     "Content-Type": "application/json", **extra})
        assert status == 202, answer
        assert home.wait_runs("paint", 2, timeout=60)[-1].endswith("succeeded")


def test_dns_rebinding_is_refused_when_anonymous_read_is_on(home):
    port = serve(home, anonymous_read="true")
    status, _, answer = request(port, "GET", "/api/status",
                                headers={"Host": f"rebind.evil.example:{port}"})
    assert status == 421 and b"allowed_hosts" in answer
    status, _, answer = request(port, "GET", "/config.git/info/refs?service=git-upload-pack",
                                headers={"Host": "rebind.evil.example"})
    assert status == 421
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        status, _, _ = request(port, "GET", "/api/status", headers={"Host": host})
        assert status == 200, host


def test_allowed_hosts_names_the_public_name(home):
    port = serve(home, anonymous_read="true", allowed_hosts="ci.example.org")
    status, _, _ = request(port, "GET", "/api/status", headers={"Host": "ci.example.org"})
    assert status == 200
    status, _, _ = request(port, "GET", "/api/status", headers={"Host": f"127.0.0.1:{port}"})
    assert status == 421

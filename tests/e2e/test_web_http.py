"""The web view over plain HTTP (no browser): who may read and act, CSRF, and that names,
log lines and parameters from users are escaped (no XSS)."""

from __future__ import annotations

import html
import re
import socket

import pytest

from tests.harness.commands import gitline
from tests.harness.home import Home
from tests.harness.http import serve_base as serve
from tests.harness.lines import params_and_job
from tests.harness.wait import wait_for
from tests.harness.web import WebClient

JOB = "ship it (eu)"
JOB_URL = "/jobs/ship%20it%20%28eu%29"
WORKFLOW = params_and_job(JOB, """['echo "<script>alert(1)</script>"', 'echo "N=$N"']""")


def add_token(home: Home, name: str, scopes: str) -> str:
    return gitline("token", "add", home.path, name, "--scope", scopes).stdout.strip()


@pytest.fixture
def line(home: Home):
    toks = {"ada": add_token(home, "ada", "read,trigger,approve"),
            "reader": add_token(home, "reader", "read")}
    base = serve(home)
    home.write("shippable.yml", WORKFLOW)
    home.push("line")
    home.wait_runs(JOB, 1, timeout=60)
    return base, toks


def head(home: Home) -> str:
    return home.git("rev-parse", "main").strip()


def test_signed_out_browsers_are_sent_to_login_and_cannot_act(home, line):
    base, _ = line
    visitor = WebClient(base)
    page = visitor.get("/")
    assert (page.status, page.headers["Location"]) == (303, "/login?next=/")
    assert visitor.get(JOB_URL).status == 303
    tip_refused = visitor.get("/web/tip")
    assert tip_refused.status == 401
    state = home.git("rev-parse", "state").strip()
    for shown in (tip_refused, visitor.get("/login")):  # no state commit named signed out
        assert state not in shown.body and state[:12] not in shown.body
    assert visitor.get(JOB_URL + "/runs/1/log/stream").status == 401
    before = head(home)
    refused = visitor.post(JOB_URL + "/trigger", {"csrf": visitor.csrf(), "params": ""})
    assert refused.status == 403 and "sign in to act" in refused.body
    assert head(home) == before
    # the API, git and health are as they were: tokens in headers, no cookies
    assert visitor.get("/api/status").status == 401
    assert visitor.get("/healthz").status == 200


def test_sign_in_gives_a_strict_http_only_session_and_pages_are_escaped(home, line):
    base, toks = line
    ada = WebClient(base)
    signed = ada.sign_in(toks["ada"])
    cookie = signed.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert toks["ada"] not in cookie
    page = ada.get("/")
    assert page.status == 200 and JOB_URL in page.body
    assert "script-src 'nonce-" in page.headers["Content-Security-Policy"]
    run = ada.get(JOB_URL + "/runs/1")
    assert run.status == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in run.body
    assert "<script>alert" not in run.body
    assert f" on local@{socket.gethostname()} · cause:" in run.body  # who ran it
    # the state commit that recorded it, one click away
    sha = re.search(r'href="/commits/([0-9a-f]{40})"><code>[0-9a-f]{12}</code></a></p>',
                    run.body).group(1)
    commit = ada.get(f"/commits/{sha}")
    assert commit.status == 200
    assert f"{JOB}: run 1 succeeded" in html.unescape(commit.body)
    assert "Gitline-Run: 1" in commit.body and "jobs/" in commit.body
    assert ada.get("/commits/" + "0" * 40).status == 404
    assert ada.get("/commits/not-a-sha").status == 404
    assert WebClient(base).get(f"/commits/{sha}").status == 303  # signed out: to /login
    job = ada.get(JOB_URL)
    assert "ship it (eu)" in job.body and 'id="trigger"' in job.body
    # a hostile parameter value is shown as text on the job's page
    csrf = ada.csrf(JOB_URL)
    sent = ada.post(JOB_URL + "/trigger", {"csrf": csrf,
                                          "params": "N=<img src=x onerror=alert(2)>"})
    assert (sent.status, sent.headers["Location"]) == (303, JOB_URL)
    home.wait_runs(JOB, 2, timeout=60)
    job = ada.get(JOB_URL)
    assert "N=&lt;img src=x onerror=alert(2)&gt;" in job.body
    assert "<img src=x" not in job.body
    # made as the API makes it: a commit of triggers/<job> by the signed-in token's name
    assert home.git("log", "-1", "--format=%an|%s", "main").strip() == \
        f"ada|trigger {JOB} (web, ada)"
    # a bad parameter line is refused with the words escaped
    ada.post(JOB_URL + "/trigger", {"csrf": csrf, "params": "<b>bold</b>"})
    said = ada.get(JOB_URL).body
    assert "&#39;&lt;b&gt;bold&lt;/b&gt;&#39;: write NAME=value" in said


def test_posts_without_the_csrf_token_are_refused(home, line):
    base, toks = line
    ada = WebClient(base)
    ada.sign_in(toks["ada"])
    before = head(home)
    for form in ({"params": ""}, {"params": "", "csrf": "forged"}):
        refused = ada.post(JOB_URL + "/trigger", form)
        assert refused.status == 403 and "CSRF" in refused.body
    assert ada.post("/logout", {}).status == 403
    assert head(home) == before
    # another browser's token does not work in this session
    other = WebClient(base)
    assert ada.post(JOB_URL + "/trigger", {"csrf": other.csrf()}).status == 403
    assert head(home) == before


def test_a_token_acts_only_with_its_scopes_and_login_checks_tokens(home, line):
    base, toks = line
    reader = WebClient(base)
    reader.sign_in(toks["reader"])
    job = reader.get(JOB_URL)
    assert job.status == 200 and 'id="trigger"' not in job.body
    before = head(home)
    refused = reader.post(JOB_URL + "/trigger", {"csrf": reader.csrf(JOB_URL)})
    assert refused.status == 403 and "reader lacks the trigger scope" in refused.body
    assert head(home) == before
    # a wrong token signs nobody in; a redirect never leaves the site
    stranger = WebClient(base)
    bad = stranger.post("/login", {"csrf": stranger.csrf(), "token": "gl_0_nope",
                                   "next": "/config"})
    assert bad.status == 303 and bad.headers["Location"].startswith("/login")
    assert "That token is not valid" in stranger.get("/login").body
    assert stranger.get("/").status == 303
    away = stranger.post("/login", {"csrf": stranger.csrf(), "token": toks["reader"],
                                    "next": "//evil.example/"})
    assert away.headers["Location"] == "/"
    # signing out ends the session
    assert reader.post("/logout", {"csrf": reader.csrf("/")}).status == 303
    assert reader.get("/").status == 303
    # removing a token signs its sessions out at once
    stranger_page = stranger.get("/config")
    assert stranger_page.status == 200 and re.search(r"<code>[0-9a-f]{40}</code>",
                                                     stranger_page.body)
    gitline("token", "remove", home.path, "reader")
    assert stranger.get("/config").status == 303


def test_anonymous_read_shows_pages_without_signing_in_but_no_forms(home: Home):
    with (home.path / "gitline.yml").open("a") as f:
        f.write("\nanonymous_read: true\n")
    base = serve(home)
    home.write("shippable.yml", WORKFLOW)
    home.push("line")
    home.wait_runs(JOB, 1, timeout=60)
    visitor = WebClient(base)
    assert visitor.get("/").status == 200
    job = visitor.get(JOB_URL)
    assert job.status == 200 and 'id="trigger"' not in job.body and "Sign in" in job.body
    wait_for(lambda: "succeeded" in visitor.get(JOB_URL + "/runs/1").body, 10, "run page")
    refused = visitor.post(JOB_URL + "/trigger", {"csrf": visitor.csrf()})  # the login form's
    assert refused.status == 403 and "sign in" in refused.body


def events(client: WebClient, path: str, until: str = "end",
           token: str = "") -> list[tuple[float, str, dict]]:
    """(seconds since opening, event, data) of a Server-Sent Events stream, to `until`;
    with `token`, asked as an API client (Bearer), else as the signed-in browser."""
    import json
    import time
    import urllib.request

    began = time.monotonic()
    got: list[tuple[float, str, dict]] = []
    headers = {"Authorization": "Bearer " + token} if token else {}
    with client.opener.open(urllib.request.Request(client.base + path, headers=headers),
                            timeout=30) as resp:
        assert resp.headers["Content-Type"] == "text/event-stream"
        kind = ""
        for raw in resp:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                got.append((time.monotonic() - began, kind, json.loads(line[6:])))
                if kind == until:
                    break
    return got


def test_a_running_log_streams_line_by_line_and_resumes_by_offset(home):
    tok = add_token(home, "ada", "read")
    base = serve(home)
    home.write("shippable.yml", params_and_job(
        "printer", """['for i in 1 2 3 4 5; do echo "tick $i <i>"; sleep 1; done']"""))
    home.push("printer")
    wait_for(lambda: "printer: run 1 started" in home.subjects(), 60, "the run to start")
    ada = WebClient(base)
    ada.sign_in(tok)
    got = events(ada, "/jobs/printer/runs/1/log/stream")
    text = "".join(d["text"] for _, k, d in got if k == "log")
    assert all(f"tick {i} <i>" in text for i in range(1, 6)), text
    # lines came as they were printed, not all at the end
    first = next(t for t, k, d in got if k == "log" and "tick 1" in d["text"])
    last = next(t for t, k, d in got if k == "log" and "tick 5" in d["text"])
    assert last - first >= 2.5, got
    assert got[-1][1:] == ("end", {"status": "succeeded"})
    # a reconnect from an offset gets only what follows it
    middle = next(d["offset"] for _, k, d in got if k == "log" and "tick 2" in d["text"])
    rest = events(ada, f"/jobs/printer/runs/1/log/stream?offset={middle}")
    resumed = "".join(d["text"] for _, k, d in rest if k == "log")
    assert "tick 1" not in resumed and "tick 2" not in resumed and "tick 5 <i>" in resumed
    assert rest[-1][1:] == ("end", {"status": "succeeded"})


def test_the_api_follows_a_running_log_with_a_token(home):
    tok = add_token(home, "robot", "read")
    base = serve(home)
    home.write("shippable.yml", params_and_job(
        "printer", """['for i in 1 2 3 4; do echo "tick $i"; sleep 1; done']"""))
    home.push("printer")
    wait_for(lambda: "printer: run 1 started" in home.subjects(), 60, "the run to start")
    api = WebClient(base)  # no session: the token alone
    got = events(api, "/api/jobs/printer/runs/1/log?follow=1", token=tok)
    first = next(t for t, k, d in got if k == "log" and "tick 1" in d["text"])
    last = next(t for t, k, d in got if k == "log" and "tick 4" in d["text"])
    assert last - first >= 1.5, got  # as printed, not at the end
    assert got[-1][1:] == ("end", {"status": "succeeded"})
    # without a token, refused; a job that does not exist is a 404; a bad offset a 400
    assert api.get("/api/jobs/printer/runs/1/log?follow=1").status == 401
    import urllib.error
    import urllib.request
    for path, want in (("/api/jobs/nope/runs/1/log?follow=1", 404),
                       ("/api/jobs/printer/runs/1/log?follow=1&offset=x", 400),
                       ("/api/jobs/printer/log?follow=1", 400)):
        req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + tok})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
        assert err.value.code == want, path


def test_config_and_resource_pages_show_problems_pushes_and_who_took_what(home, line):
    base, toks = line
    ada = WebClient(base)
    ada.sign_in(toks["ada"])
    resource = ada.get("/resources/go")
    assert resource.status == 200
    assert f'href="{JOB_URL}/runs/1">{JOB} run 1</a>' in resource.body  # who took version 1
    assert ada.get("/resources/nope").status == 404
    assert ada.get("/jobs/nope").status == 404
    assert ada.get(JOB_URL + "/runs/99").status == 404
    home.write("shippable.yml", WORKFLOW + "  - name: <bad>\n    type: runSh\n")
    bad = home.push("a <bad> job")
    wait_for(lambda: home.status()["config"]["processed"] == bad, 30, "the push to be read")
    config = ada.get("/config")
    assert re.search(r"shippable\.yml:1[0-9]:[0-9]+: [^<]*&lt;bad&gt;", config.body), \
        config.body
    assert "<bad>" not in config.body
    assert re.search(r"The config has [0-9]+\s+problem", ada.get("/").body)
    assert f"<code>{bad[:10]}</code></a></td><td>Ada Lovelace &lt;ada@example.com&gt;</td>" \
        "<td>a &lt;bad&gt; job</td>" in config.body

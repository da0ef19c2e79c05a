"""The web view in-process: the line's DOT and SVG (dashed switch-off edges, pins,
inconsistent objects with their reason on hover, 100 jobs), and the page without `dot`."""

from __future__ import annotations

import io
import os
import shutil
import time
from typing import Any

from controller.core import loader, model
from controller.server.web import linegraph
from controller.server.web.data import WebData
from controller.server.web.webapp import WebApp
from tests.harness.absent import missing

LINE = """\
resources:
  - {name: src, type: gitRepo, versionTemplate: {sourceName: ".", path: app}}
  - {name: img, type: image}
jobs:
  - name: build
    type: runSh
    steps:
      - IN: src
      - TASK: {script: [make]}
      - OUT: img
  - name: deploy
    type: runSh
    steps:
      - IN: build
      - IN: img
        switch: off
        versionName: "42"
      - TASK: {script: [ship]}
  - name: broken
    type: runSh
    steps:
      - IN: build
      - TASK: {script: [x]}
      - OUT: "<nowhere>"
"""


def workflow(text: str = LINE) -> model.Workflow:
    return loader.load_workflow([("shippable.yml", text)])


def needs_dot() -> None:
    if not shutil.which("dot"):
        missing("Graphviz dot is not installed (apt-get install graphviz)")


def test_dot_text_dashes_switch_off_marks_pins_and_colours_jobs() -> None:
    wf = workflow()
    assert "broken" in wf.inconsistent
    drawn = linegraph.to_dot(wf, {"build": "succeeded", "deploy": "pending_approval",
                                  "broken": "inconsistent"})
    ids = {v: k for k, v in drawn.names.items()}
    edge = next(line for line in drawn.dot.splitlines()
                if line.strip().startswith(f"{ids['img']} -> {ids['deploy']}"))
    assert 'style="dashed"' in edge and 'label="pinned 42"' in edge
    assert 'fillcolor="#f9a825"' in drawn.dot  # pending approval
    assert drawn.titles[ids["broken"]].startswith("broken: inconsistent: output")


def test_svg_has_links_and_the_reason_of_an_inconsistent_job_as_its_title() -> None:
    needs_dot()
    wf = workflow()
    svg = linegraph.render_svg(linegraph.to_dot(wf, {"broken": "inconsistent"}))
    assert svg.startswith("<svg")
    assert 'xlink:href="/jobs/deploy"' in svg and 'xlink:href="/resources/img"' in svg
    assert "<title>broken: inconsistent: output &#x27;&lt;nowhere&gt;&#x27;" in svg
    assert "<title>img \u2192 deploy</title>" in svg
    assert "<nowhere>" not in svg


def test_a_line_of_100_jobs_is_drawn_at_full_size_and_cached() -> None:
    needs_dot()
    jobs = "".join(f"""
  - name: job_{n:03d}
    type: runSh
    steps:
      - IN: {"src" if n == 0 else f"job_{(n - 1) // 2:03d}"}
      - TASK: {{script: [echo {n}]}}""" for n in range(100))
    wf = workflow("resources:\n  - {name: src, type: gitRepo, versionTemplate: "
                  "{sourceName: \".\", path: app}}\njobs:" + jobs + "\n")
    assert len(wf.jobs) == 100 and not wf.problems
    cache = linegraph.SvgCache()
    began = time.monotonic()
    svg = cache.svg("abc", wf, {})
    assert time.monotonic() - began < 30
    assert all(f">job_{n:03d}</text>" in svg for n in range(100))
    assert 'font-size="11.00"' in svg  # not shrunk to fit: the page scrolls instead
    assert cache.svg("abc", wf, {}) is svg  # the same commit and states: no second dot


def fake_data(wf: model.Workflow) -> WebData:
    status: dict[str, Any] = {
        "config": {"processed": "a" * 40, "good": "a" * 40, "problems": []},
        "resources": {n: {"version": 1} for n in wf.resources},
        "jobs": {n: {"lastRun": None, "active": [], "waiting": "<b>no input</b>"}
                 for n in wf.jobs}}

    def missing(*_: Any) -> Any:
        raise LookupError("none")

    return WebData(status=lambda: status, tip=lambda: "b" * 40, workflow=lambda: wf,
                   runs=lambda j, n: [],
                   run=lambda j, n: None, run_status=lambda j, n: None, versions=missing,
                   log=lambda j, n: None, live_log=missing, pushes=lambda n: [],
                   commit=lambda sha: None,
                   actions=None)  # type: ignore[arg-type]  # no asks here


def get(app: WebApp, path: str) -> tuple[str, dict[str, str], str]:
    said: dict[str, Any] = {}

    def start(status: str, headers: list[tuple[str, str]]) -> None:
        said.update(status=status, headers=dict(headers))

    body = b"".join(app({"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "",
                         "wsgi.input": io.BytesIO()}, start))
    return said["status"], said["headers"], body.decode()


def not_found(environ: Any, start: Any) -> list[bytes]:
    start("404 Not Found", [])
    return [b"fallback"]


def test_without_dot_the_line_is_a_table_of_jobs(monkeypatch) -> None:
    monkeypatch.setattr(linegraph, "dot_available", lambda: False)
    app = WebApp(fake_data(workflow()), not_found, principal=lambda t: None,
                 anonymous_read=True)
    status, headers, body = get(app, "/")
    assert status == "200 OK"
    assert "dot` is not installed" in body and "<svg" not in body
    assert '<a href="/jobs/broken">broken</a>' in body
    assert "&lt;b&gt;no input&lt;/b&gt;" in body and "<b>no input</b>" not in body
    assert "inconsistent" in body
    # paths that are not pages go on to git, the API and webhooks
    assert get(app, "/api/status")[2] == "fallback"
    assert get(app, "/config.git/info/refs")[2] == "fallback"
    assert get(app, "/hooks/git")[2] == "fallback"


def test_a_line_too_big_to_draw_is_listed_without_running_dot(monkeypatch, tmp_path) -> None:
    """dot takes minutes on thousands of nodes: a page load must not wait for it (5,000
    jobs held a listener thread and a core for 30 s on every load, then timed out)."""
    ran = tmp_path / "ran"
    fake = tmp_path / "dot"
    fake.write_text(f"#!/bin/sh\necho run >> {ran}\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    wf = workflow()
    monkeypatch.setattr(linegraph, "MAX_DRAWN", len(wf.jobs) + len(wf.resources) - 1)
    app = WebApp(fake_data(wf), not_found, principal=lambda t: None, anonymous_read=True)
    status, _, body = get(app, "/")
    assert status == "200 OK" and "<svg" not in body and not ran.exists()
    assert f"The line has {len(wf.jobs)} jobs and {len(wf.resources)} resources" in body
    assert '<a href="/jobs/broken">broken</a>' in body  # listed instead
    # drawn when small enough; a dot that fails is not run again for the same line
    monkeypatch.setattr(linegraph, "MAX_DRAWN", 1000)
    for _ in range(3):
        status, _, body = get(app, "/")
        assert status == "200 OK" and "could not draw the line" in body
    assert ran.read_text() == "run\n"


def test_the_line_says_when_the_newest_push_does_not_load(monkeypatch) -> None:
    monkeypatch.setattr(linegraph, "dot_available", lambda: False)
    data = fake_data(workflow())
    status = data.status()
    status["config"].update(processed="c" * 40, problems=["shippable.yml:3:1: <oops>"])
    app = WebApp(data, not_found, principal=lambda t: None, anonymous_read=True)
    body = get(app, "/")[2]
    assert "The newest pushed config does not load" in body and "1 problem," in body
    config = get(app, "/config")[2]
    assert "shippable.yml:3:1: &lt;oops&gt;" in config

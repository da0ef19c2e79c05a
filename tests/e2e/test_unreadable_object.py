"""A job whose `type:` is misspelt, pushed to a running line with the stock git client: it
stays in the workflow, inconsistent at its file:line:col (status, API, web page, the push's
answer), never runs; the job that takes it waits; its sibling runs. Fixed, it runs and so
does what takes it; with `reject_invalid: true` the same typo is refused at the push."""

from __future__ import annotations

import html
import json
import urllib.request

from tests.e2e.test_push_answers import push, remote, tip
from tests.harness.commands import gitline
from tests.harness.home import Home
from tests.harness.http import serve_base
from tests.harness.web import WebClient

LINE = """\
resources:
  - name: cfg
    type: params
    versionTemplate:
      params: {{COLOR: {color}}}
jobs:
  - name: sibling
    type: runSh
    steps:
      - IN: cfg
      - TASK:
          script: ['echo "sibling $COLOR"']
"""
ADDED = """\
  - name: paint
    {type_key}: runSh
    steps:
      - IN: cfg
      - TASK:
          script: ['echo "painting $COLOR"']
  - name: varnish
    type: runSh
    steps:
      - IN: paint
      - TASK:
          script: ['echo varnish']
"""
PAINT_AT = "shippable.yml:13:5"  # paint's `- name:` (LINE has 12 lines)
WHY = f"job 'paint' has no 'type:' ({PAINT_AT})"


def write(home: Home, color: str, type_key: str) -> None:
    home.write("shippable.yml", LINE.format(color=color) + ADDED.format(type_key=type_key))


def api_status(base: str, tok: str) -> dict:
    req = urllib.request.Request(base + "/api/status",
                                 headers={"Authorization": "Bearer " + tok})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def test_a_misspelt_type_waits_inconsistent_at_its_line_and_runs_once_fixed(home: Home):
    tok = gitline("token", "add", home.path, "ada", "--scope", "read").stdout.strip()
    base = serve_base(home)
    home.write("shippable.yml", LINE.format(color="blue"))
    home.push("the line")
    assert home.wait_runs("sibling", 1, timeout=60) == ["run 1 succeeded"]

    # the typo, pushed with a change that runs its sibling: answered at its line
    write(home, "red", "tpye")
    lines = remote(push(home, "paint, with a typo"))
    assert f"  {PAINT_AT}: error: job 'paint' has no 'type:'" in lines
    assert ("  shippable.yml:22:9: error: unresolved input 'paint' of job 'varnish': "
            f"{WHY}") in lines
    assert "gitline: what the errors touch waits (inconsistent); the rest runs" in lines
    assert home.wait_runs("sibling", 2, timeout=60)[-1] == "run 2 succeeded"
    home.wait_idle(60)
    st = home.status()
    assert st["config"]["good"] == tip(home)  # the push is the running workflow
    assert f"{PAINT_AT}: error: job 'paint' has no 'type:'" in st["config"]["problems"]
    assert st["jobs"]["paint"]["waiting"] == f"inconsistent: {WHY}"
    assert st["jobs"]["varnish"]["waiting"] == \
        "inconsistent: input 'paint' is not loaded (shippable.yml:22)"
    assert home.runs("paint") == [] and home.runs("varnish") == []
    assert "sibling red" in home.show("jobs/sibling/log.txt")
    # the same in `gitline status`, the API and the job's web page
    text = gitline("status", home.path).stdout
    assert f"not running: inconsistent: {WHY}" in text
    assert api_status(base, tok)["jobs"]["paint"]["waiting"] == f"inconsistent: {WHY}"
    web = WebClient(base)
    web.sign_in(tok)
    page = web.get("/jobs/paint")
    assert page.status == 200 and WHY in html.unescape(page.body)

    # fixed: it runs, and so does the job that takes it
    write(home, "red", "type")
    lines = remote(push(home, "paint, fixed"))
    assert lines[0].endswith("0 errors, 0 warnings"), lines
    assert home.wait_runs("paint", 1, timeout=60) == ["run 1 succeeded"]
    assert home.wait_runs("varnish", 1, timeout=60) == ["run 1 succeeded"]
    assert "painting red" in home.show("jobs/paint/log.txt")
    home.wait_idle(60)
    st = home.status()
    assert st["jobs"]["paint"]["waiting"] == "up to date with run 1 (succeeded)"
    assert home.runs("sibling") == ["run 1 succeeded", "run 2 succeeded"]

    # with reject_invalid: true the typo is refused, named at its line
    with (home.path / "gitline.yml").open("a") as f:
        f.write("reject_invalid: true\n")
    before = tip(home)
    write(home, "green", "tpye")
    done = push(home, "the typo again", check=False)
    lines = remote(done)
    assert f"  {PAINT_AT}: error: job 'paint' has no 'type:'" in lines
    assert lines[-1].startswith("gitline: push refused: the workflow has errors")
    assert tip(home) == before

"""Bad names in API paths and request paths in the log, against a real `gitline serve`.

Before: a name the store cannot use got a 500 with a traceback in the log, and
`GET /hooks/%0a<text>` wrote a forged line into the log.
"""

from __future__ import annotations

import json

from tests.harness.http import request, serve, token
from tests.harness.lines import PAINT_LINE

BAD_PATHS = [
    ("GET", "/api/jobs/%0aX/runs"),
    ("GET", "/api/jobs/%00/log"),
    ("GET", "/api/jobs/a%20b/runs/1/log"),
    ("GET", "/api/jobs/%2e%2e/runs"),
    ("GET", "/api/jobs/..%2f..%2fetc/runs"),
    ("GET", "/api/resources/%0d%0aY/versions"),
    ("GET", "/api/resources/%ff%fe/versions"),
    ("GET", "/api/status%0a"),
    ("POST", "/api/jobs/%0a/trigger"),
    ("POST", "/hooks/%0aZ"),
    ("POST", "/hooks/.."),
]


def test_bad_names_in_api_paths_get_a_json_400_or_404(home):
    home.write("shippable.yml", PAINT_LINE.format(color="red"))
    home.push("line")
    tok = token(home)
    port = serve(home)
    auth = {"Authorization": f"Bearer {tok}", "Content-Type": "application/json"}
    for method, path in BAD_PATHS:
        status, headers, body = request(port, method, path, b"{}" if method == "POST" else None,
                                        auth)
        assert status in (400, 404), (path, status, body)
        assert headers["content-type"] == "application/json", path
        assert json.loads(body)["error"], path
    status, _, body = request(port, "GET", "/api/jobs/paint/runs", headers=auth)
    assert status == 200 and json.loads(body)["job"] == "paint"
    log = home.server_log()
    assert "Traceback" not in log and "internal error" not in log


def test_request_paths_never_forge_a_line_of_the_log(home):
    tok = token(home)
    port = serve(home, "-v")  # debug logging: every request is a log line
    forged = "gitline: alice pushed main 1234567"
    for method, path in [("GET", "/hooks/%0a" + forged.replace(" ", "%20")),
                         ("POST", "/hooks/x%0d%0a" + forged.replace(" ", "%20")),
                         ("GET", "/config.git/%0a" + forged.replace(" ", "%20")),
                         ("GET", "/api/jobs/%0a" + forged.replace(" ", "%20") + "/runs")]:
        status, _, _ = request(port, method, path, headers={"Authorization": f"Bearer {tok}"})
        assert status in (400, 404, 405)
    request(port, "GET", "/api/status", headers={"Authorization": f"Bearer {tok}"})
    lines = home.server_log().splitlines()
    assert not [line for line in lines if line.startswith(forged)]
    assert any("\\x0a" + forged in line for line in lines)  # logged, escaped

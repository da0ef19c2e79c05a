"""Signed webhook deliveries and big payloads, against a real `gitline serve`.

Before: a captured signed delivery, sent again, made a second version (and ran the jobs
again); a 200 KB payload failed the job with `Argument list too long`, because the payload
reached the job only as an environment variable.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from tests.harness.http import request, serve, token
from tests.harness.wait import wait_for

KEY = "s3cret-hook-key"
LINE = """\
resources:
  - name: release_hook
    type: webhook
    integration: release_hook_key
jobs:
  - name: deploy
    type: runSh
    steps:
      - IN: release_hook
      - TASK:
          script:
            - test -f "$RELEASE_HOOK_PAYLOAD_FILE"
            - echo "payload bytes $(wc -c < "$RELEASE_HOOK_PAYLOAD_FILE")"
            - python3 -c "import json,sys; print('tag', json.load(open(sys.argv[1]))['tag'])"
              "$RELEASE_HOOK_PAYLOAD_FILE"
"""


def _signed(body: bytes) -> dict[str, str]:
    sig = hmac.new(KEY.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={sig}", "Content-Type": "application/json",
            "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}


def _versions(port: int, tok: str) -> list[int]:
    status, _, body = request(port, "GET", "/api/resources/release_hook/versions",
                              headers={"Authorization": f"Bearer {tok}"})
    assert status == 200
    return [v["number"] for v in json.loads(body)["versions"]]


def test_a_replayed_signed_delivery_makes_no_second_version_even_after_a_restart(home):
    secrets = home.path / "secrets.yml"
    secrets.write_text(f"release_hook_key: {KEY}\n")
    secrets.chmod(0o600)
    home.write("shippable.yml", LINE)
    home.push("line")
    tok = token(home)
    port = serve(home)
    body = json.dumps({"tag": "v1.0", "sha": "abc"}).encode()
    status, _, answer = request(port, "POST", "/hooks/release_hook", body, _signed(body))
    assert status == 202 and json.loads(answer)["version"] == 1
    assert home.wait_runs("deploy", 1, timeout=60) == ["run 1 succeeded"]

    status, _, answer = request(port, "POST", "/hooks/release_hook", body, _signed(body))
    assert status == 409 and "replay" in json.loads(answer)["error"]
    home.stop()
    port = serve(home)
    headers = {**_signed(body), "X-GitHub-Delivery": "another-id-the-attacker-made-up"}
    status, _, answer = request(port, "POST", "/hooks/release_hook", body, headers)
    assert status == 409, answer
    assert _versions(port, tok) == [1]

    # a new delivery is a new version; so is a resend with the key (not a signed delivery)
    body2 = json.dumps({"tag": "v1.1"}).encode()
    status, _, answer = request(port, "POST", "/hooks/release_hook", body2, _signed(body2))
    assert status == 202 and json.loads(answer)["version"] == 2
    assert home.wait_runs("deploy", 2, timeout=60)[-1] == "run 2 succeeded"
    assert home.runs("deploy") == ["run 1 succeeded", "run 2 succeeded"]


def test_a_200_kb_payload_reaches_the_job_through_a_file(home):
    secrets = home.path / "secrets.yml"
    secrets.write_text(f"release_hook_key: {KEY}\n")
    secrets.chmod(0o600)
    home.write("shippable.yml", LINE)
    head = home.push("line")
    tok = token(home)
    port = serve(home)
    # the hook's resource exists once the controller has read the push
    wait_for(lambda: home.status()["config"]["processed"] == head, 30, "the push read")
    body = json.dumps({"tag": "v2.0", "notes": "x" * 200_000}).encode()
    status, _, _ = request(port, "POST", "/hooks/release_hook", body, _signed(body))
    assert status == 202
    assert home.wait_runs("deploy", 1, timeout=60) == ["run 1 succeeded"]
    status, _, log = request(port, "GET", "/api/jobs/deploy/log",
                             headers={"Authorization": f"Bearer {tok}"})
    assert status == 200
    assert b"tag v2.0" in log and b"payload bytes 2000" in log


def test_a_replayed_signed_push_hook_is_refused(home):
    secrets = home.path / "secrets.yml"
    secrets.write_text(f"git_webhook: {KEY}\n")
    secrets.chmod(0o600)
    port = serve(home, webhook_secret="git_webhook")
    body = json.dumps({"ref": "refs/heads/main", "after": "1" * 40,
                       "repository": {"clone_url": "https://github.com/acme/x.git"}}).encode()
    headers = {**_signed(body), "X-GitHub-Event": "push"}
    status, _, answer = request(port, "POST", "/hooks/git", body, headers)
    assert status == 202, answer
    status, _, answer = request(port, "POST", "/hooks/git", body, headers)
    assert status == 409 and "replay" in json.loads(answer)["error"]

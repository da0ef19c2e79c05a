"""A followed source of a subscription (issue #14): `sources: {infra: {upstream: URL}}`
is fetched into HOME/repos/infra.git on its interval and at once on a signed push webhook,
as the HOME's own upstream is, and its workflow files load with config.git's."""

from __future__ import annotations

from tests.e2e import test_upstream
from tests.e2e.test_subscription import INFRA, MAIN, SHIPIT
from tests.e2e.test_upstream import (
    GIT_HOOK_KEY,
    api,
    bare,
    clone_push,
    configure,
    post,
    push_payload,
    sign,
)
from tests.harness.commands import gitline, run
from tests.harness.http import serve_base
from tests.harness.wait import wait_for

daemon = test_upstream.daemon  # the git daemon fixture, serving the followed upstream


def test_a_followed_source_is_fetched_on_a_webhook_and_reconciled(home, daemon, tmp_path):
    base, git_url = daemon
    bare(base, "infra.git")
    url = f"{git_url}/infra.git"
    dev = tmp_path / "dev"
    clone_push(url, dev, {"shippable.yml": INFRA.format(region="eu")}, "eu")
    configure(home, f"sources:\n  shipit: {{}}\n  infra: {{upstream: '{url}', "
                    "poll_seconds: 600}\nwebhook_secret: githook\n", {"githook": GIT_HOOK_KEY})
    tok = gitline("token", "add", home.path, "ops").stdout.strip()
    http = serve_base(home, "--poll", "300")
    shipit = tmp_path / "shipit"
    run("git", "clone", "-q", home.path / "repos" / "shipit.git", shipit)
    clone_push(str(home.path / "repos" / "shipit.git"), shipit,
               {"shippable.yml": SHIPIT, "version.txt": "1"}, "shipit")
    home.write("shippable.yml", MAIN)
    home.push("main")
    assert home.wait_runs("deploy", 1, timeout=60) == ["run 1 succeeded"]
    assert "deploying to eu" in home.show("jobs/deploy/log.txt")
    # a direct push to the followed source's copy is refused: push upstream
    run("git", "commit", "-q", "--allow-empty", "-m", "around the upstream", cwd=dev)
    refused = run("git", "push", str(home.path / "repos" / "infra.git"), "HEAD:main",
                  cwd=dev, check=False)
    assert refused.returncode != 0 and "follows its upstream" in refused.stderr
    run("git", "reset", "-q", "--hard", "HEAD~1", cwd=dev)

    sha = clone_push(url, dev, {"shippable.yml": INFRA.format(region="us")}, "us")
    body = push_payload(url, sha)
    status, reply = post(http + "/hooks/git", body, {
        "X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(GIT_HOOK_KEY, body)})
    assert (status, reply) == (202, {"fetching": ["source infra"]})
    assert home.wait_runs("deploy", 2, timeout=60)[-1] == "run 2 succeeded"
    assert "deploying to us" in home.show("jobs/deploy/log.txt")
    wait_for(lambda: api(http, tok, "/api/status")["config"]["sources"].get("infra") == sha,
             30, "infra's commit in status")

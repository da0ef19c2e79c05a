"""An approval counts for who authenticated, never for a commit's author field (issue #9).

Against a real `gitline serve --listen`, with the real git client: a token holder who sets
GIT_AUTHOR_EMAIL=ada@example.com is refused with the reason; a token bound to Ada with
the approve scope counts; a commit signed by Ada's SSH key (HOME/allowed_signers) counts
even pushed by someone else; a key not listed does not.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.harness.commands import GIT_ENV, gitline
from tests.harness.http import serve_base as serve
from tests.harness.http import token, url
from tests.harness.identity import GATED, commit, git, pending
from tests.harness.wait import wait_for

ADA = {k: v for k, v in GIT_ENV.items() if k.startswith(("GIT_AUTHOR", "GIT_COMMITTER"))}


def _gated(home, tmp_path, name: str, tok: str, base: str) -> Path:
    work = tmp_path / f"work-{name}"
    git("clone", "-q", url(base, name, tok), work)
    commit(work, "shippable.yml", GATED, "gated deploy")
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    pending(home)
    return work


def test_a_forged_author_is_refused_and_a_token_bound_to_the_approver_counts(home, tmp_path):
    mallory = token(home, "mallory", "--scope", "read,push,approve",
                    "--email", "mallory@example.com")
    pusher = token(home, "pusher", "--scope", "read,push")  # no approve scope
    ada = token(home, "ada", "--scope", "read,push,approve", "--email", "ada@example.com")
    base = serve(home)
    work = _gated(home, tmp_path, "mallory", mallory, base)

    # Mallory writes Ada into the author field: the author field proves nothing
    commit(work, "approvals/deploy", "approve\n", "approve as Ada", env=ADA)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    wait_for(lambda: any("approve by mallory <mallory@example.com> (token) refused" in s
                         for s in home.subjects()), 30, "the refusal")
    assert "mallory@example.com" in home.show("jobs/deploy/active/1.yml")
    errors = home.status()["config"]["triggerErrors"]
    assert any("is not an approver" in str(e) for e in errors), errors

    # a token without the approve scope: refused with that reason
    other = tmp_path / "work-pusher"
    git("clone", "-q", url(base, "pusher", pusher), other)
    commit(other, "approvals/deploy", "approve: me too\n", "approve again", env=ADA)
    git("push", "-q", "origin", "HEAD:main", cwd=other)
    wait_for(lambda: "lacks the approve scope" in home.show("jobs/deploy/active/1.yml"), 30,
             "the scope refusal")
    assert home.runs("deploy") == []

    # Ada's own token, bound to her email, with the approve scope: counts
    mine = tmp_path / "work-ada"
    git("clone", "-q", url(base, "ada", ada), mine)
    commit(mine, "approvals/deploy", "approve: ship it\n", "approve")
    git("push", "-q", "origin", "HEAD:main", cwd=mine)
    assert home.wait_runs("deploy", 1) == ["run 1 succeeded"]
    assert "approved by ada <ada@example.com> (token)" in home.show("jobs/deploy/run.yml")


def _key(tmp_path: Path, name: str) -> tuple[Path, str]:
    key = tmp_path / f"{name}_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
                   check=True, capture_output=True)
    return key, key.with_suffix(".pub").read_text().strip()


def test_an_ssh_signed_approval_counts_and_an_unlisted_key_does_not(home, tmp_path):
    ada_key, ada_pub = _key(tmp_path, "ada")
    eve_key, _ = _key(tmp_path, "eve")
    (home.path / "allowed_signers").write_text(f"ada@example.com {ada_pub}\n")
    pusher = token(home, "pusher", "--scope", "read,push")  # transports, cannot approve
    base = serve(home)
    work = _gated(home, tmp_path, "pusher", pusher, base)

    def signed(key: Path, message: str) -> None:
        commit(work, "approvals/deploy", f"approve: {message}\n", message, "-c",
               "gpg.format=ssh", "-c", f"user.signingkey={key}", env=ADA)
        git("-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", "commit", "-q",
            "--amend", "--no-edit", "-S", cwd=work, env=ADA)
        git("push", "-q", "origin", "HEAD:main", cwd=work)

    signed(eve_key, "signed by eve")
    wait_for(lambda: "signed by a key not listed" in home.show("jobs/deploy/active/1.yml"), 30,
             "the refusal of an unlisted key")
    assert home.runs("deploy") == []

    signed(ada_key, "signed by ada")
    assert home.wait_runs("deploy", 1) == ["run 1 succeeded"]
    assert "approved by ada@example.com (ssh signature)" in home.show("jobs/deploy/run.yml")


def test_a_local_push_with_a_forged_author_is_refused(home):
    home.start()
    home.write("shippable.yml", GATED)
    home.push("gated")
    pending(home)
    home.write("approvals/deploy", "approve\n")
    home.push("approve as Ada")  # the harness's GIT_ENV is Ada Lovelace <ada@example.com>
    wait_for(lambda: "not authenticated" in home.show("jobs/deploy/active/1.yml"), 30,
             "the refusal")
    assert "not authenticated" in "\n".join(map(str, home.status()["config"]["triggerErrors"]))
    assert home.runs("deploy") == []


def test_gitline_approve_counts_for_the_unix_user_and_a_forged_rejection_does_not(home):
    import os
    import pwd

    me = pwd.getpwuid(os.getuid()).pw_name
    home.start()  # no local_users mapping: this unix user is not ada@example.com
    home.write("shippable.yml", GATED)
    home.push("gated")
    pending(home)
    home.write("approvals/deploy", "reject: forged\n")
    home.push("reject as Ada")
    wait_for(lambda: "deploy: run 1 reject by Ada Lovelace <ada@example.com> (unauthenticated)"
             " refused" in home.subjects(), 30, "the forged rejection refused")
    gitline("approve", home.path, "deploy")
    wait_for(lambda: f"{me} (local user) is not an approver"
             in home.show("jobs/deploy/active/1.yml"), 30, "the unmapped user refused")
    assert home.runs("deploy") == []
    assert home.status()["jobs"]["deploy"]["active"][0]["status"] == "pending_approval"


def test_an_old_approval_pushed_again_does_not_decide_a_newer_run():
    from controller.core import approvals, model

    gate = model.Approval(approvers=("ada@example.com",))
    ada = approvals.Identity("ada@example.com", "ada@example.com", "ssh signature", 1000.0)
    request = approvals.ApprovalRequest("deploy", "abc", "Ada <ada@example.com>",
                                        "approvals/deploy", identity=ada)
    assert approvals.why_refused(gate, request, queued_at=900.0) == ""
    assert "made before this run was queued" in approvals.why_refused(gate, request,
                                                                    queued_at=1000.0 + 3600)

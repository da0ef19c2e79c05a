"""Issue #9: a run that cannot be built (secrets.yml readable by others) waits with the
reason in `gitline status`, and starts by itself once the cause is fixed, no restart."""

from __future__ import annotations

from tests.harness.lines import params_and_job
from tests.harness.wait import wait_for

LINE = params_and_job("build", "['echo built']")


def test_a_run_waits_for_a_safe_secrets_file_and_then_runs(home):
    secrets = home.path / "secrets.yml"
    secrets.write_text("k: v\n")
    secrets.chmod(0o644)
    home.start()
    home.write("shippable.yml", LINE)
    home.push("a job while secrets.yml is unsafe")
    def waiting() -> str:
        return str(home.status()["jobs"].get("build", {}).get("waiting"))
    wait_for(lambda: "chmod 600" in waiting(), 30, "the reason in status")
    assert "run 1 waits: " in waiting() and home.runs("build") == []
    secrets.chmod(0o600)
    assert home.wait_runs("build", 1, timeout=60) == ["run 1 succeeded"]
    assert "waits: " in home.server_log() and "readable by others" in home.server_log()

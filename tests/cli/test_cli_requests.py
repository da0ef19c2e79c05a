"""cancel and replay against a real `gitline serve`: they say what the controller did."""

from __future__ import annotations

from controller import homelock
from controller.reactor import requestfiles
from tests.harness.commands import cli
from tests.harness.home import Home
from tests.harness.wait import wait_for


def test_replay_and_cancel_report_what_the_controller_did(sample_home: Home):
    h = sample_home
    h.start()
    h.wait_runs("build_app", 1, timeout=60)
    done = cli("replay", h.path, "build_app", "1", "--wait", "30")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "queued build_app run 2, a replay of run 1"
    h.wait_idle(60)  # a trigger is refused while an input job (deploy_staging) is queued
    assert cli("trigger", h.path, "deploy_prod").returncode == 0

    def pending() -> bool:
        active = h.status()["jobs"]["deploy_prod"]["active"]
        return any(a["status"] == "pending_approval" for a in active)
    wait_for(pending, 30, "deploy_prod pending approval")
    text = cli("status", h.path).stdout
    block = text.split("deploy_prod", 1)[1].split("deploy_staging", 1)[0]
    assert block.count("pending approval") == 1 and "pending_approval" not in block
    done = cli("cancel", h.path, "deploy_prod", "--wait", "30")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "cancelled deploy_prod run 1"
    done = cli("cancel", h.path, "deploy_prod", "--wait", "30")
    assert done.stdout.strip() == "deploy_prod had no queued or running run to cancel"


def test_refused_requests_and_triggers_are_listed_in_status_in_words(sample_home: Home):
    h = sample_home
    h.start()
    h.wait_runs("build_app", 1, timeout=60)
    path = requestfiles.write_request(h.path, "replay", job="build_app", run=42, by="Bo <bo@x>")
    wait_for(lambda: requestfiles.read_result(path), 30, "the controller's answer")
    h.write("triggers/deplyo_prod", "\n")
    sha = h.push("typo")
    wait_for(lambda: h.status()["config"]["processed"] == sha, 30, "the push processed")
    text = cli("status", h.path).stdout
    assert "refused: replay of build_app run 42 by Bo <bo@x> at " in text
    assert ": build_app has no run 42 to replay" in text
    assert f"refused: triggers/deplyo_prod in {sha[:7]} by Ada Lovelace <ada@example.com>: " \
        "no job named 'deplyo_prod'" in text
    assert "{'job'" not in text


def test_without_a_controller_the_request_says_it_waits(sample_home: Home):
    (sample_home.path / homelock.LOCK_FILE).write_text("")  # a lock nobody holds
    done = cli("replay", sample_home.path, "build_app", "1", "--wait", "0")
    # build_app has never run: the CLI refuses before asking
    assert done.returncode == 2 and "no run 1" in done.stderr
    done = cli("cancel", sample_home.path, "build_app")
    assert done.returncode == 0
    assert "no controller is running" in done.stdout
    assert len(list((sample_home.path / "requests").glob("*.yml"))) == 1
    assert "controller: not running" in cli("status", sample_home.path).stdout

"""A pushed typo in a key is a warning a user sees in `gitline status` and on the state
branch; the workflow still runs, as written (the misspelt key is not guessed)."""

from __future__ import annotations

from tests.harness.commands import gitline
from tests.harness.home import Home
from tests.harness.lines import params_and_job
from tests.harness.wait import wait_for

WORKFLOW = params_and_job("deploy_prod", "[echo deployed]").replace(
    "    type: runSh\n", "    type: runSh\n    requiresAproval: true\n    flags: [prod]\n")
WARNING = ("shippable.yml:8:5: warning: unknown key 'requiresAproval' of job 'deploy_prod'; "
           "did you mean 'requiresApproval'?")
INFO = ("shippable.yml:9:5: info: 'flags' of job 'deploy_prod' is not applied here: "
        "Gitline has no dashboard to filter (said once)")


def test_a_misspelt_key_is_warned_in_status_and_on_the_state_branch(home: Home) -> None:
    home.start()
    home.write("shippable.yml", WORKFLOW)
    home.push("deploy with a typo")
    # not gated: `requiresAproval` is not `requiresApproval`, which is why it is warned of
    assert home.wait_runs("deploy_prod", 1) == ["run 1 succeeded"]
    wait_for(lambda: home.status()["config"]["problems"], what="the warning recorded")
    assert home.status()["config"]["problems"] == [WARNING, INFO]
    recorded = home.show("controller/config.yml")
    assert "unknown key 'requiresAproval'" in recorded and "'flags' of job" in recorded
    text = gitline("status", home.path).stdout
    assert f"  {WARNING}" in text and f"  {INFO}" in text
    # warnings and infos are no errors: the config commit says so
    assert any(s.startswith("config: processed") and s.endswith("(0 errors)")
               for s in home.subjects())

"""`gitline replay JOB RUN` gives the run exactly RUN's inputs, files of state inputs too."""

from __future__ import annotations

from tests.harness.commands import gitline

LINE = """\
resources:
  - name: cfg
    type: params
    versionTemplate: {params: {ROUND: "ROUND_N"}}
  - name: hist
    type: state
jobs:
  - name: grow
    type: runSh
    steps:
      - IN: cfg
      - IN: hist
      - TASK:
          script:
            - shipctl copy_file_from_resource_state hist log.txt log.txt || true
            - touch log.txt
            - 'v=$(grep -o ''"versionNumber": *[0-9]*'' "$JOB_PATH/IN/hist/version.json" | head -1)'
            - 'echo "saw hist ${v##* }: [$(tr "\\n" " " < log.txt)]"'
            - echo "round $ROUND run $BUILD_NUMBER" >> log.txt
            - shipctl copy_file_to_resource_state log.txt hist
            - echo "round $ROUND" > "$JOB_STATE/mark.txt"
      - OUT: hist
  - name: reader
    type: runSh
    steps:
      - IN: grow
      - TASK:
          script:
            - 'echo "saw grow state: [$(cat "$GROW_STATE/mark.txt" 2>/dev/null)]"'
"""


def saw(home, job: str, run: int) -> str:
    out = gitline("logs", home.path, job, str(run)).stdout
    return next(line for line in out.splitlines() if line.startswith("saw "))


def test_replay_of_run_1_sees_the_state_files_of_run_1(home):
    home.start()
    home.write("shippable.yml", LINE.replace("ROUND_N", "1"))
    home.push("round 1")
    assert home.wait_runs("grow", 1) == ["run 1 succeeded"]
    home.wait_idle()
    home.write("shippable.yml", LINE.replace("ROUND_N", "2"))
    home.push("round 2")
    assert home.wait_runs("grow", 2) == ["run 1 succeeded", "run 2 succeeded"]
    home.wait_idle()
    first, second = saw(home, "grow", 1), saw(home, "grow", 2)
    assert second.endswith("[round 1 run 1 ]"), second
    assert "round 2 run 2" in home.show("resources/hist/files/log.txt")

    gitline("replay", home.path, "grow", "1")
    assert home.wait_runs("grow", 3)[-1] == "run 3 succeeded"
    home.wait_idle()
    assert saw(home, "grow", 3) == first  # the files of hist as run 1 saw them: none yet

    # an input job's JOB_STATE, too: reader run 1 read grow run 1's
    assert saw(home, "reader", 1) == "saw grow state: [round 1]"
    assert saw(home, "reader", 2) == "saw grow state: [round 2]"
    runs = len(home.runs("reader"))
    gitline("replay", home.path, "reader", "1")
    assert home.wait_runs("reader", runs + 1)[-1] == f"run {runs + 1} succeeded"
    assert saw(home, "reader", runs + 1) == "saw grow state: [round 1]"


def test_replay_of_run_2_sees_version_1_files_not_the_newest(home):
    home.start()
    for n in (1, 2, 3):
        home.write("shippable.yml", LINE.replace("ROUND_N", str(n)))
        home.push(f"round {n}")
        assert home.wait_runs("grow", n)[-1] == f"run {n} succeeded"
        home.wait_idle()
    second = saw(home, "grow", 2)
    assert second.endswith("[round 1 run 1 ]"), second
    gitline("replay", home.path, "grow", "2")
    assert home.wait_runs("grow", 4)[-1] == "run 4 succeeded"
    home.wait_idle()
    assert saw(home, "grow", 4) == second
    # and its parameters: ROUND is run 2's
    assert home.show("resources/hist/files/log.txt").splitlines() == [
        "round 1 run 1", "round 2 run 4"]

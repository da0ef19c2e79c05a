"""libyaml (the fast path) and the pure parser read workflows identically."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.core import loader, yamlread

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "shippable" / "repos"

TEXT = """\
resources:
  - name: p
    type: params
    versionTemplate:
      params: {A: on, B: yes, C: 0o10, D: 1:20, E: ~, F: "x"}
jobs:
  - name: j
    type: runSh
    steps:
      - IN: p
        switch: off
      - TASK:
          script: [cd a && make, echo "x: y"]
"""


def both(files):
    fast = loader.load_workflow(files)
    saved, yamlread._CLoader = yamlread._CLoader, None
    try:
        return fast, loader.load_workflow(files)
    finally:
        yamlread._CLoader = saved


@pytest.mark.skipif(yamlread._CLoader is None, reason="ruamel.yaml.clib is not installed")
def test_fast_path_keeps_yaml_1_2_meanings():
    fast, pure = both([("shippable.yml", TEXT)])
    assert fast == pure
    assert fast.resources["p"].definition["params"]["A"] == "on"  # 1.2: not a boolean
    assert fast.jobs["j"].inputs[0].switch is False
    assert fast.jobs["j"].tasks[0].script == ("cd a && make", 'echo "x: y"')


@pytest.mark.skipif(yamlread._CLoader is None or not CORPUS.is_dir(),
                    reason="needs ruamel.yaml.clib and the corpus")
def test_fast_path_reads_every_corpus_folder_like_the_pure_parser():
    for folder in sorted(CORPUS.iterdir()):
        files = [(p.relative_to(folder).as_posix(), p.read_bytes())
                 for p in sorted(folder.rglob("*"))
                 if p.is_file() and loader.is_workflow_file(p.relative_to(folder).as_posix())]
        fast, pure = both(files)
        assert fast == pure, folder.name

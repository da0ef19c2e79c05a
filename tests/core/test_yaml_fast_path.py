"""libyaml (the fast path) and the pure parser read workflows identically."""

from __future__ import annotations

import pytest

from controller.core import loader, yamlcompose
from tests.harness.corpus import SHIPPABLE

CORPUS = SHIPPABLE / "repos"

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
    saved, yamlcompose.LIBYAML_LOADER = yamlcompose.LIBYAML_LOADER, None
    try:
        return fast, loader.load_workflow(files)
    finally:
        yamlcompose.LIBYAML_LOADER = saved


@pytest.mark.skipif(yamlcompose.LIBYAML_LOADER is None, reason="ruamel.yaml.clib is not installed")
def test_fast_path_keeps_yaml_1_2_meanings():
    fast, pure = both([("shippable.yml", TEXT)])
    assert fast == pure
    assert fast.resources["p"].definition["params"]["A"] == "on"  # 1.2: not a boolean
    assert fast.jobs["j"].inputs[0].switch is False
    assert fast.jobs["j"].tasks[0].script == ("cd a && make", 'echo "x: y"')


@pytest.mark.skipif(yamlcompose.LIBYAML_LOADER is None or not CORPUS.is_dir(),
                    reason="needs ruamel.yaml.clib and the corpus")
def test_fast_path_reads_every_corpus_folder_like_the_pure_parser():
    for folder in sorted(CORPUS.iterdir()):
        files = [(p.relative_to(folder).as_posix(), p.read_bytes())
                 for p in sorted(folder.rglob("*"))
                 if p.is_file() and loader.is_workflow_file(p.relative_to(folder).as_posix())]
        fast, pure = both(files)
        assert fast == pure, folder.name


TABS = """\
resources:
  - name:\tp
    type:\tparams\t# a comment after a tab
    versionTemplate: {params:\t{A: "1"}}
jobs:
  - name:\tj
    type:\trunSh
    steps:
      - IN:\tp
      - TASK: {script: ["echo a\tb"]}
"""


@pytest.mark.parametrize("anchor", ["", "x: &x 1\n"], ids=["no anchors", "anchors"])
def test_tabs_as_separation_whitespace_read_as_libyaml_reads_them(anchor: str):
    """#17: Shippable's template examples write `- name:<TAB>job`; libyaml takes it, and
    the pure path (files with anchors) must too."""
    fast, pure = both([("shippable.yml", anchor + TABS)])
    assert fast == pure
    assert not fast.problems
    assert fast.resources["p"].type == "params"
    assert fast.jobs["j"].tasks[0].script == ("echo a\tb",)  # a tab inside a value stays


def test_tabs_with_an_anchor_from_the_templates_file():
    templates = ("shippable.templates.yml", "tpl: &steps\n  - IN:\tp\n  - TASK: [echo]\n")
    text = TABS[:TABS.index("    steps:")] + "    steps:\t*steps\n"
    wf = loader.load_workflow([templates, ("shippable.yml", text)])
    assert not wf.problems, [str(p) for p in wf.problems]
    assert [i.name for i in wf.jobs["j"].inputs] == ["p"]


def test_a_tab_as_indentation_is_an_error_at_its_line_on_both_paths():
    text = "x: &x 1\njobs:\n  - name: j\n\ttype: runSh\n"
    for wf in both([("shippable.yml", text)]) + both([("shippable.yml", text[8:])]):
        assert wf.fatal
        assert [str(p.location) for p in wf.problems][0].startswith("shippable.yml:")
    fast, _ = both([("shippable.yml", text)])
    assert fast.problems[0].location.line == 4
    _, pure = both([("shippable.yml", text[8:])])
    assert pure.problems[0].location.line == 3

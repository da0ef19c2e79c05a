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


# --- libyaml's events straight into maps (yamlevents): the same data as the node paths ---

ODD = [
    "a: !!str 3\nb: !custom x\n",  # explicit tags: said by the exact path
    "<<: {a: 1}\nb: 2\n",  # a merge key without an anchor
    "'<<': 1\n",  # a quoted '<<' is a plain key
    "a: 1\na: 2\n",  # a duplicate key
    "? [a, b]\n: 1\n",  # a key that is not a plain value
    "a: 1\n---\nb: 2\n",  # two documents
    "",  # no document
    "---\n",  # an empty document
    "- 1\n- 0x1F\n- 1.5e3\n- .inf\n- null\n- ~\n- True\n- yes\n- 2001-12-14\n- '1'\n",
    "a: {b: [c, {d: e}]}\nf: |\n  text\ng: >\n  folded\n",
    "a: [unclosed\n",  # a syntax error: the exact path's message
    "x: *nowhere\n",  # an alias without an anchor
]


def three_ways(text):
    from controller.core import yamlevents

    files = [("shippable.yml", text)]
    events = loader.load_workflow(files)
    saved = yamlevents.read
    yamlevents.read = lambda text: (False, None)
    try:
        nodes, pure = both(files)
    finally:
        yamlevents.read = saved
    return events, nodes, pure


@pytest.mark.skipif(yamlcompose.LIBYAML_LOADER is None, reason="ruamel.yaml.clib is not installed")
@pytest.mark.parametrize("text", ODD)
def test_events_read_what_the_node_paths_read(text: str):
    from controller.core import yamlread

    events, nodes, pure = three_ways(text)
    assert events == nodes == pure
    via_events = yamlread.parse("shippable.yml", text)
    saved, yamlcompose.LIBYAML_LOADER = yamlcompose.LIBYAML_LOADER, None
    try:
        via_pure = yamlread.parse("shippable.yml", text)
    finally:
        yamlcompose.LIBYAML_LOADER = saved
    assert via_events.data == via_pure.data
    assert via_events.problems == via_pure.problems
    assert _positions(via_events.data) == _positions(via_pure.data)


def _positions(value):
    """Every position a YMap/YList remembers, in order."""
    if isinstance(value, dict):
        return [value.pos, dict(value.key_pos), sorted(value.anchored),
                [_positions(v) for v in value.values()]]
    if isinstance(value, list):
        return [value.pos, list(value.item_pos), [_positions(v) for v in value]]
    return value


@pytest.mark.skipif(yamlcompose.LIBYAML_LOADER is None or not CORPUS.is_dir(),
                    reason="needs ruamel.yaml.clib and the corpus")
def test_events_give_every_corpus_file_the_same_data_and_positions():
    from controller.core import yamlevents, yamlguards, yamlread

    read = 0
    for path in sorted(CORPUS.rglob("*")):
        if not path.is_file() or not loader.is_workflow_file(path.name):
            continue
        text, problem = yamlguards.decode(path.name, path.read_bytes())
        if text is None or problem is not None:
            continue
        fast, data = yamlevents.read(text)
        if not fast:
            continue
        read += 1
        saved = yamlevents.read
        yamlevents.read = lambda text: (False, None)
        try:
            exact = yamlread.parse(path.name, text)
        finally:
            yamlevents.read = saved
        assert not exact.failed and not exact.problems, path
        assert data == exact.data, path
        assert _positions(data) == _positions(exact.data), path
    assert read > 10  # most files take the fast path

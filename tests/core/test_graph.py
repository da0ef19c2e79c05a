"""Graph questions and rendering on a small loaded workflow."""

from __future__ import annotations

import textwrap

from controller.core import graph, loader

TEXT = textwrap.dedent(
    """\
    resources:
      - {name: repo, type: gitRepo}
      - {name: img, type: image}
      - {name: params, type: params}
      - {name: st, type: state}
    jobs:
      - name: build
        type: runSh
        steps:
          - IN: repo
          - IN: params
            switch: off
          - OUT: img
      - name: test
        type: runSh
        steps:
          - IN: img
          - IN: st
          - OUT: st
      - name: deploy
        type: deploy
        steps:
          - IN: test
          - IN: ghost
      - name: audit
        type: runSh
        steps:
          - IN: params
            switch: off
    """
)


def workflow():
    return loader.load_text("shippable.yml", TEXT)


def test_edges_in_step_order() -> None:
    assert graph.edges(workflow()) == [
        graph.Edge("repo", "build", "in", True),
        graph.Edge("params", "build", "in", False),
        graph.Edge("build", "img", "out", True),
        graph.Edge("img", "test", "in", True),
        graph.Edge("st", "test", "in", True),
        graph.Edge("test", "st", "out", True),
        graph.Edge("test", "deploy", "in", True),
        graph.Edge("ghost", "deploy", "in", True),
        graph.Edge("params", "audit", "in", False),
    ]


def test_downstream_and_upstream() -> None:
    wf = workflow()
    assert graph.downstream(wf, "repo") == {"build", "test", "deploy"}
    assert graph.downstream(wf, "params") == {"build", "test", "deploy", "audit"}
    assert graph.downstream(wf, "params", triggering_only=True) == set()
    assert graph.downstream(wf, "deploy") == set()
    assert graph.upstream(wf, "deploy") == {"test", "img", "st", "build", "repo", "params", "ghost"}
    assert graph.unresolved(wf) == ["ghost"]


def test_state_self_loop_is_not_a_cycle() -> None:
    wf = workflow()
    assert graph.job_cycles(wf) == []
    assert set(wf.inconsistent) == {"deploy"}


def test_cycle_via_job_inputs() -> None:
    text = "jobs:\n" + "".join(
        f"  - name: {a}\n    type: runSh\n    steps:\n      - IN: {b}\n"
        for a, b in [("a", "c"), ("b", "a"), ("c", "b"), ("d", "a")]
    )
    wf = loader.load_text("shippable.yml", text)
    assert graph.job_cycles(wf) == [["a", "b", "c"]]
    assert set(wf.inconsistent) == {"a", "b", "c", "d"}


def test_render_dot() -> None:
    dot = graph.render_dot(workflow())
    assert dot.startswith("digraph workflow {")
    assert '"repo" [shape=ellipse, label="repo\\ngitRepo"];' in dot
    assert '"build" [shape=box, style="filled", label="build\\nrunSh", fillcolor="#e8f0ff"];' in dot
    assert '"params" -> "build" [style=dotted];' in dot
    assert '"repo" -> "build";' in dot
    assert '"build" -> "img";' in dot
    # test takes st IN and writes it OUT: one two-way arrow, not two
    assert '"st" -> "test" [dir=both];' in dot and '"test" -> "st"' not in dot
    assert 'style="filled,dashed"' in dot  # deploy: not runnable here
    assert "color=red, fontcolor=red" in dot  # deploy: inconsistent
    assert '"ghost" [shape=ellipse, style=dashed, color=red, label="ghost\\nunresolved"];' in dot


def test_render_mermaid() -> None:
    text = graph.render_mermaid(workflow())
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    assert '  n0(["repo"]):::resource' in lines
    assert '  n4["build"]:::job' in lines
    assert '  n6["deploy"]:::inconsistent' in lines
    assert '  n8(["ghost (unresolved)"]):::unresolved' in lines
    assert "  n2 -.-> n4" in lines  # params -> build, switch off
    assert "  n0 --> n4" in lines
    assert "  n3 <--> n5" in lines and "  n5 --> n3" not in lines  # st <-> test


def test_names_are_quoted_safely() -> None:
    text = 'jobs:\n  - name: j\n    type: runSh\n    steps:\n      - IN: "a\\"b]<c>"\n'
    wf = loader.load_text("shippable.yml", text)
    assert '"a\\"b]<c>" -> "j";' in graph.render_dot(wf)
    assert '(["a#34;b]#60;c#62; (unresolved)"])' in graph.render_mermaid(wf)

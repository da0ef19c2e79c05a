"""The shape of a workflow: edges, cycles, upstream/downstream, DOT and Mermaid text.

Owns: every question about how resources and jobs connect. Pure: takes a
`model.Workflow`, returns data or text; never reads files or the clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from controller.core import model


@dataclass(frozen=True)
class Edge:
    """IN: src (resource or job) -> dst job. OUT: src job -> dst resource."""

    src: str
    dst: str
    kind: Literal["in", "out"]
    switch: bool = True


def edges(workflow: model.Workflow) -> list[Edge]:
    """Every IN and OUT edge, in job order then step order."""
    out: list[Edge] = []
    for job in workflow.jobs.values():
        out += [Edge(i.name, job.name, "in", i.switch) for i in job.inputs]
        out += [Edge(job.name, o.name, "out") for o in job.outputs]
    return out


def drawn_edges(workflow: model.Workflow) -> list[tuple[Edge, bool]]:
    """The edges as a picture shows them: (edge, both ways). A resource that a job takes
    IN and writes OUT (a state resource, a terraform state) is one two-way arrow."""
    all_edges = edges(workflow)
    ins = {(e.src, e.dst) for e in all_edges if e.kind == "in"}
    outs = {(e.src, e.dst) for e in all_edges if e.kind == "out"}
    drawn: list[tuple[Edge, bool]] = []
    for edge in all_edges:
        if edge.kind == "in":
            drawn.append((edge, (edge.dst, edge.src) in outs))
        elif (edge.dst, edge.src) not in ins:
            drawn.append((edge, False))
    return drawn


def unresolved(workflow: model.Workflow) -> list[str]:
    """Names used by an edge that no resource or job defines, sorted."""
    known = workflow.resources.keys() | workflow.jobs.keys()
    return sorted({n for e in edges(workflow) for n in (e.src, e.dst)} - known)


def starts(workflow: model.Workflow) -> dict[str, set[str]]:
    """job -> jobs it can start (through a job input or an output resource, switch on)."""
    producers: dict[str, set[str]] = {}
    for job in workflow.jobs.values():
        for output in job.outputs:
            producers.setdefault(output.name, set()).add(job.name)
    out: dict[str, set[str]] = {name: set() for name in workflow.jobs}
    for job in workflow.jobs.values():
        for inp in job.inputs:
            if not inp.switch:
                continue
            resource = workflow.resources.get(inp.name)
            if resource is not None and resource.type not in model.NEVER_TRIGGERS:
                sources = producers.get(inp.name, set())
            elif inp.name in workflow.jobs:
                sources = {inp.name}
            else:  # never triggers, or unresolved (its type is unknown)
                continue
            for src in sources - {job.name}:
                out[src].add(job.name)
    return out


def job_cycles(workflow: model.Workflow) -> list[list[str]]:
    """Each group of jobs that can start one another in a loop, as one cycle path."""
    edges_of = starts(workflow)
    cycles = []
    for component in _strong_components(edges_of):
        if len(component) > 1:
            cycles.append(_cycle_path(sorted(component), edges_of, component))
    return sorted(cycles)


def _strong_components(adj: dict[str, set[str]]) -> Iterator[set[str]]:
    """Tarjan's algorithm, iterative so a long chain cannot exhaust the stack."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    for root in sorted(adj):
        if root in index:
            continue
        work = [(root, iter(sorted(adj[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(adj[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                yield component


def _cycle_path(order: list[str], adj: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest loop from the first job of the component back to itself."""
    start = order[0]
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(adj[node] & component):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return path[::-1]
                if child not in parents:
                    parents[child] = node
                    nxt.append(child)
        frontier = nxt
    return order


def downstream(workflow: model.Workflow, name: str, *, triggering_only: bool = False) -> set[str]:
    """Jobs reachable from `name` (a resource or a job) along IN and OUT edges."""
    after: dict[str, set[str]] = {}
    for edge in edges(workflow):
        if edge.kind == "in" and triggering_only and not edge.switch:
            continue
        after.setdefault(edge.src, set()).add(edge.dst)
    seen: set[str] = set()
    todo = [name]
    while todo:
        for nxt in after.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return {n for n in seen if n in workflow.jobs and n != name}


def upstream(workflow: model.Workflow, name: str) -> set[str]:
    """Resources and jobs from which `name` can be reached."""
    before: dict[str, set[str]] = {}
    for edge in edges(workflow):
        before.setdefault(edge.dst, set()).add(edge.src)
    seen: set[str] = set()
    todo = [name]
    while todo:
        for prev in before.get(todo.pop(), ()):
            if prev not in seen:
                seen.add(prev)
                todo.append(prev)
    return seen - {name}


# --- rendering -------------------------------------------------------------------------


NL = "\n"


def _dot_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def render_dot(workflow: model.Workflow) -> str:
    """Graphviz text: resources as ellipses, jobs as boxes; red = inconsistent."""
    lines = ["digraph workflow {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for res in workflow.resources.values():
        attrs = f"shape=ellipse, label={_dot_quote(res.name + NL + res.type)}"
        lines.append(f"  {_dot_quote(res.name)} [{attrs}];")
    for job in workflow.jobs.values():
        style = "filled" + (",dashed" if job.not_runnable else "")
        attrs = f'shape=box, style="{style}", label={_dot_quote(job.name + NL + job.type)}'
        if job.name in workflow.inconsistent:
            attrs += ', color=red, fontcolor=red, fillcolor="#ffe0e0"'
        else:
            attrs += ', fillcolor="#e8f0ff"'
        lines.append(f"  {_dot_quote(job.name)} [{attrs}];")
    for name in unresolved(workflow):
        label = _dot_quote(f"{name}\nunresolved")
        lines.append(
            f"  {_dot_quote(name)} [shape=ellipse, style=dashed, color=red, label={label}];"
        )
    for edge, both in drawn_edges(workflow):
        edge_attrs = ([] if edge.switch else ["style=dotted"]) + (["dir=both"] if both else [])
        style = f" [{', '.join(edge_attrs)}]" if edge_attrs else ""
        lines.append(f"  {_dot_quote(edge.src)} -> {_dot_quote(edge.dst)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_label(text: str) -> str:
    safe = "".join(f"#{ord(c)};" if c in '"#<>&`' else c for c in text)
    return f'"{safe}"'


def render_mermaid(workflow: model.Workflow) -> str:
    """Mermaid flowchart: resources rounded, jobs square; classes mark bad objects."""
    ids: dict[str, str] = {}

    def node_id(name: str) -> str:
        return ids.setdefault(name, f"n{len(ids)}")

    lines = ["flowchart LR"]
    for res in workflow.resources.values():
        lines.append(f"  {node_id(res.name)}([{_mermaid_label(res.name)}]):::resource")
    for job in workflow.jobs.values():
        cls = "inconsistent" if job.name in workflow.inconsistent else "job"
        lines.append(f"  {node_id(job.name)}[{_mermaid_label(job.name)}]:::{cls}")
    for name in unresolved(workflow):
        lines.append(f"  {node_id(name)}([{_mermaid_label(name + ' (unresolved)')}]):::unresolved")
    for edge, both in drawn_edges(workflow):
        arrow = ("<" if both else "") + ("-->" if edge.switch else "-.->")
        lines.append(f"  {node_id(edge.src)} {arrow} {node_id(edge.dst)}")
    lines += [
        "  classDef resource fill:#f4f4f4,stroke:#666;",
        "  classDef job fill:#e8f0ff,stroke:#336;",
        "  classDef inconsistent fill:#ffe0e0,stroke:#c00,color:#c00;",
        "  classDef unresolved stroke:#c00,stroke-dasharray:5 5;",
    ]
    return "\n".join(lines) + "\n"

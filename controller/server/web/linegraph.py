"""The line as a picture: DOT text from the workflow and each job's state, laid out by
Graphviz `dot` into SVG on the server (the page needs nothing from the internet).

Node ids are `n0`, `n1`...: names (which may hold spaces, quotes or brackets) appear only
in labels, escaped for DOT, and Graphviz escapes them again for SVG. The SVG of a
workflow commit and a set of states is cached: a page load is a dict lookup.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from controller.core import graph, model

# state -> (fill, font colour): what the legend shows too
COLOURS: dict[str, tuple[str, str]] = {
    "succeeded": ("#2e7d32", "white"),
    "failed": ("#c62828", "white"),
    "timed_out": ("#c62828", "white"),
    "interrupted": ("#c62828", "white"),
    "running": ("#1565c0", "white"),
    "queued": ("#90caf9", "black"),
    "pending_approval": ("#f9a825", "black"),
    "cancelled": ("#9e9e9e", "black"),
    "inconsistent": ("#ff1744", "white"),
    "not_runnable": ("#eeeeee", "#616161"),
    "never_run": ("#ffffff", "black"),
}
LEGEND = ("succeeded", "failed", "running", "queued", "pending_approval", "cancelled",
          "inconsistent", "not_runnable", "never_run")
DOT_SECONDS = 10.0
# dot's layout grows faster than the graph: ~1 s at 1,000 nodes with a shared input, ~8 s
# at 2,000, over a minute at 4,000. Past this the page lists the line instead of drawing it
# (a page load must never hold a listener thread and a core for a minute).
MAX_DRAWN = 1000
_CACHE_SIZE = 32


def job_state(name: str, job: model.Job, status: Mapping[str, object],
              inconsistent: Mapping[str, str]) -> str:
    """A job's colour: inconsistent or not runnable here first, else its newest run."""
    if name in inconsistent:
        return "inconsistent"
    if job.not_runnable:
        return "not_runnable"
    info = status if isinstance(status, dict) else {}
    active = info.get("active") or []
    newest = active[-1] if active else info.get("lastRun")
    return str(newest["status"]) if isinstance(newest, dict) else "never_run"


def _q(text: str) -> str:
    """A DOT quoted string: backslashes would be escapes (\\N, \\l), quotes would end it."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


@dataclass(frozen=True)
class Drawn:
    dot: str
    titles: dict[str, str]  # node id -> hover text (name, state, why inconsistent)
    names: dict[str, str]  # node id -> name (edge titles)


def to_dot(wf: model.Workflow, states: Mapping[str, str]) -> Drawn:
    """DOT of the workflow: resources as ellipses, jobs as boxes coloured by `states`."""
    ids: dict[str, str] = {}
    titles: dict[str, str] = {}
    lines = ["digraph line {", "  rankdir=LR; nodesep=0.25; ranksep=0.6;",
             '  node [fontname="Helvetica", fontsize=11, style="filled", penwidth=1.2];',
             '  edge [color="#546e7a", arrowsize=0.7];']
    for name, res in wf.resources.items():
        nid = ids[name] = f"n{len(ids)}"
        bad = wf.inconsistent.get(name)
        fill, font = COLOURS["inconsistent"] if bad else ("#f5f5f5", "black")
        titles[nid] = f"{name} ({res.type})" + (f": inconsistent: {bad}" if bad else "")
        lines.append(f'  {nid} [label={_q(name)}, shape=ellipse, fillcolor="{fill}", '
                     f'fontcolor="{font}", URL={_q("/resources/" + quote(name, safe=""))}, '
                     f'tooltip={_q(titles[nid])}, target="_top"];')
    for name, job in wf.jobs.items():
        nid = ids[name] = f"n{len(ids)}"
        state = states.get(name, "never_run")
        fill, font = COLOURS.get(state, COLOURS["never_run"])
        why = wf.inconsistent.get(name) or (job.not_runnable if state == "not_runnable" else "")
        titles[nid] = f"{name}: {state.replace('_', ' ')}" + (f": {why}" if why else "")
        border = ', color="#b71c1c", penwidth=2.5' if state == "inconsistent" else (
            ', style="filled,dashed"' if state == "not_runnable" else "")
        lines.append(f'  {nid} [label={_q(name)}, shape=box, fillcolor="{fill}", '
                     f'fontcolor="{font}"{border}, '
                     f'URL={_q("/jobs/" + quote(name, safe=""))}, tooltip={_q(titles[nid])}, '
                     'target="_top", class="job"];')
    pins = {(job.name, i.name): i for job in wf.jobs.values() for i in job.inputs if i.pinned}
    for edge, both in graph.drawn_edges(wf):
        src, dst = ids.get(edge.src), ids.get(edge.dst)
        if src is None or dst is None:
            continue  # an unresolved name: the config page lists it as a problem
        attrs = []
        if not edge.switch:
            attrs.append('style="dashed"')
        if both:
            attrs.append('dir="both"')
        pin = pins.get((edge.dst, edge.src)) if edge.kind == "in" else None
        if pin is not None:
            label = f"pinned {pin.version_name or pin.version_number}"
            attrs += [f"label={_q(label)}", 'fontsize=9', 'color="#6a1b9a"', "penwidth=2"]
        lines.append(f"  {src} -> {dst}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    lines.append("}")
    return Drawn("\n".join(lines) + "\n", titles, {v: k for k, v in ids.items()})


def dot_available() -> bool:
    return shutil.which("dot") is not None


def too_big(wf: model.Workflow) -> str:
    """Why `wf` is not drawn ("" when it is): more nodes than dot lays out in time."""
    nodes = len(wf.resources) + len(wf.jobs)
    if nodes <= MAX_DRAWN:
        return ""
    return (f"The line has {len(wf.jobs):,} jobs and {len(wf.resources):,} resources, more "
            f"than the {MAX_DRAWN:,} objects drawn as a graph (its layout would take minutes),"
            " so it is listed instead.")


def render_svg(drawn: Drawn) -> str:
    """The SVG element (no XML prolog), node titles replaced by their hover text."""
    done = subprocess.run(["dot", "-Tsvg"], input=drawn.dot.encode(), capture_output=True,
                          timeout=DOT_SECONDS, check=True)
    svg = done.stdout.decode("utf-8", "replace")
    svg = svg[svg.find("<svg"):]

    def title(m: re.Match[str]) -> str:
        text = drawn.titles.get(m[1])
        return f"<title>{html.escape(text)}</title>" if text is not None else m[0]

    def edge(m: re.Match[str]) -> str:
        src, dst = drawn.names.get(m[1], m[1]), drawn.names.get(m[2], m[2])
        return f"<title>{html.escape(src)} \u2192 {html.escape(dst)}</title>"

    svg = re.sub(r"<title>(n[0-9]+)&#45;&gt;(n[0-9]+)</title>", edge, svg)
    return re.sub(r"<title>(n[0-9]+)</title>", title, svg)


class SvgCache:
    """Rendered SVGs by (workflow commit, states): `dot` runs once per change of colour,
    one at a time (pages loaded together wait for the one drawing), and a drawing that
    failed is not tried again for the same key: its error is raised again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._drawing = threading.Lock()
        self._svgs: OrderedDict[tuple[str, tuple[tuple[str, str], ...]],
                                str | Exception] = OrderedDict()

    def _kept(self, key: tuple[str, tuple[tuple[str, str], ...]]) -> str | Exception | None:
        with self._lock:
            if key in self._svgs:
                self._svgs.move_to_end(key)
                return self._svgs[key]
        return None

    def svg(self, commit: str, wf: model.Workflow, states: Mapping[str, str]) -> str:
        key = (commit, tuple(sorted(states.items())))
        with self._drawing:
            kept = self._kept(key)
            if kept is None:
                try:
                    kept = render_svg(to_dot(wf, states))
                except (OSError, subprocess.SubprocessError) as err:
                    kept = err
                with self._lock:
                    self._svgs[key] = kept
                    while len(self._svgs) > _CACHE_SIZE:
                        self._svgs.popitem(last=False)
        if isinstance(kept, Exception):
            raise kept
        return kept

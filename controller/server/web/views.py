"""What each page shows, as template values, from the WebData reads (no HTTP here)."""

from __future__ import annotations

import json
import logging
import subprocess
from datetime import datetime
from typing import Any
from urllib.parse import quote

from controller.core import model
from controller.server.web import linegraph
from controller.server.web.data import Json, WebData

log = logging.getLogger("gitline.web")

ACTIVE = ("queued", "running", "pending_approval")


def job_url(name: str) -> str:
    return "/jobs/" + quote(name, safe="")


def resource_url(name: str) -> str:
    return "/resources/" + quote(name, safe="")


def duration(started: str, finished: str) -> str:
    """"1m 05s" between two ISO times; "" when either is missing."""
    try:
        a = datetime.fromisoformat(started.replace("Z", "+00:00"))
        b = datetime.fromisoformat(finished.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return ""
    secs = max(0, int((b - a).total_seconds()))
    return f"{secs // 60}m {secs % 60:02d}s" if secs >= 60 else f"{secs}s"


def states(wf: model.Workflow, status: Json) -> dict[str, str]:
    jobs = status.get("jobs", {})
    return {n: linegraph.job_state(n, j, jobs.get(n) or {}, wf.inconsistent)
            for n, j in wf.jobs.items()}


def line(data: WebData, svgs: linegraph.SvgCache) -> dict[str, Any]:
    status, wf = data.status(), data.workflow()
    colours = states(wf, status)
    svg, why = "", "Graphviz `dot` is not installed on the controller's host (install the " \
        "graphviz package), so the line cannot be drawn."
    if linegraph.too_big(wf):
        why = linegraph.too_big(wf)
    elif linegraph.dot_available():
        try:
            svg = svgs.svg(status.get("config", {}).get("good", ""), wf, colours)
        except (OSError, subprocess.SubprocessError) as err:  # a broken dot: still a page
            log.warning("gitline: dot could not draw the line: %s", err)
            why = f"Graphviz `dot` could not draw the line ({err})."
    jobs = [{"name": n, "url": job_url(n), "state": colours[n],
             "why_bad": wf.inconsistent.get(n, "") or wf.jobs[n].not_runnable,
             "last": (status["jobs"].get(n) or {}).get("lastRun"),
             "waiting": (status["jobs"].get(n) or {}).get("waiting")} for n in wf.jobs]
    resources = [{"name": n, "url": resource_url(n), "type": r.type,
                  "version": (status["resources"].get(n) or {}).get("version"),
                  "inconsistent": wf.inconsistent.get(n, "")} for n, r in wf.resources.items()]
    cfg = status.get("config", {})
    stale = bool(cfg.get("processed")) and cfg.get("processed") != cfg.get("good")
    return {"title": "The line", "svg": svg, "no_graph": why, "jobs": jobs, "stale": stale,
            "problems": len(cfg.get("problems") or []),
            "resources": resources, "legend": linegraph.LEGEND}


def _inputs(run: Json) -> list[str]:
    """"app_build version 3 (1.0-3)" / "build_app run 2": exact input versions."""
    out = []
    for i in run.get("inputVersions") or []:
        kind = "run" if i.get("kind") == "job" else "version"
        name = f" ({i['versionName']})" if i.get("versionName") else ""
        out.append(f"{i['name']} {kind} {i['number']}{name}")
    if not out:
        out = [f"{k} {v}" for k, v in (run.get("inputs") or {}).items()]
    return out


def _run_row(run: Json) -> Json:
    return {**run, "inputs": _inputs(run), "active": run.get("status") in ACTIVE,
            "duration": duration(run.get("startedAt") or "", run.get("finishedAt") or ""),
            "commit": run.get("commit") or ""}


def job(data: WebData, name: str) -> dict[str, Any]:
    status, wf = data.status(), data.workflow()
    runs = data.runs(name, 50)  # LookupError for an unknown job
    info = status.get("jobs", {}).get(name) or {}
    definition = wf.jobs.get(name)
    state = linegraph.job_state(name, definition, info, wf.inconsistent) \
        if definition else "never_run"
    shown = None
    if definition is not None:
        shown = {
            "inputs": [{"name": i.name, "url": (job_url if i.name in wf.jobs else
                                                resource_url)(i.name),
                        "switch": i.switch,
                        "pin": (i.version_name or str(i.version_number)) if i.pinned else ""}
                       for i in definition.inputs],
            "outputs": [{"name": o.name, "url": resource_url(o.name)}
                        for o in definition.outputs]}
    active = info.get("active") or []
    return {"title": f"Job {name}", "name": name, "url": job_url(name), "state": state,
            "why_bad": wf.inconsistent.get(name, "") or (
                definition.not_runnable if definition else "no longer in the workflow"),
            "waiting": info.get("waiting"), "job": shown,
            "runs": [_run_row(r) for r in runs],
            "active": bool(active),
            "pending": any(r.get("status") == "pending_approval" for r in active),
            "approvable": definition is not None and definition.approval is not None}


def run(data: WebData, name: str, number: int) -> dict[str, Any] | None:
    detail = data.run(name, number)
    if detail is None:
        return None
    row = _run_row(detail.run)
    live = row["active"]
    return {"title": f"{name} run {number}", "name": name, "url": job_url(name),
            "number": number, "run": row, "inputs": row["inputs"],
            "duration": row["duration"], "outputs": detail.outputs,
            "state_files": detail.state_files, "live": live,
            "notices": detail.notices, "notices_hint": detail.notices_hint,
            "log": None if live else data.log(name, number)}


def resource(data: WebData, name: str) -> dict[str, Any]:
    wf = data.workflow()
    versions = data.versions(name, 50)  # LookupError for an unknown resource
    res = wf.resources.get(name)
    takers = [j.name for j in wf.jobs.values() if any(i.name == name for i in j.inputs)]
    taken: dict[int, list[tuple[str, int]]] = {}  # version number -> (job, run) that took it
    for taker in takers:
        for r in data.runs(taker, 50):
            for i in r.get("inputVersions") or []:
                if i.get("name") == name and i.get("kind") == "resource":
                    taken.setdefault(int(i["number"]), []).append((taker, int(r["number"])))
    rows = []
    for v in versions:
        made = str(v.get("createdBy") or "")
        job_name, _, number = made.rpartition(" run ")
        rows.append({**v, "commit": v.get("commit") or "",
                     "run_url": f"{job_url(job_name)}/runs/{number}"
                     if job_name in wf.jobs and number.isdigit() else "",
                     "values_text": json.dumps(v.get("values") or {}, sort_keys=True)[:300],
                     "taken": [{"text": f"{j} run {n}", "url": f"{job_url(j)}/runs/{n}"}
                               for j, n in taken.get(int(v.get("number") or 0), [])]})
    return {"title": f"Resource {name}", "name": name,
            "type": res.type if res else "(no longer in the workflow)",
            "inconsistent": wf.inconsistent.get(name, ""), "versions": rows,
            "takers": takers,
            "makers": [j.name for j in wf.jobs.values() if any(o.name == name
                                                               for o in j.outputs)]}


def config(data: WebData) -> dict[str, Any]:
    status = data.status()
    cfg = status.get("config", {})
    return {"title": "The config", "cfg": cfg, "problems": cfg.get("problems") or [],
            "refused": cfg.get("refused") or [], "waiting": cfg.get("waitingTriggers") or [],
            "pushes": data.pushes(20)}

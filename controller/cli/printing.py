"""Text output shared by the local commands and their `--server` forms (the same JSON
shapes come from the service layer here and from the API there)."""

from __future__ import annotations

from typing import Any

import click


def print_status(report: dict[str, Any]) -> None:
    """Status as text: config, resources, jobs (from the JSON shape: local or remote)."""
    from controller.core.model import shown as shown_name

    cfg = report["config"]
    click.echo(f"config: processed {cfg['processed'][:7] or '-'}, running {cfg['good'][:7] or '-'}")
    if not cfg["processed"]:  # a source pushed first waits for it too (docs/subscriptions.md)
        click.echo("  nothing processed yet: the workflow, of every source, runs from the "
                   "first push to config.git")
    for p in cfg["problems"]:
        click.echo(f"  {p}")
    for line in cfg["refused"]:
        click.echo(f"  refused: {line}")
    for line in cfg["waitingTriggers"]:
        click.echo(f"  waits: {line}")
    if cfg.get("sources"):  # the other repositories of the subscription
        click.echo("sources:")
        good = cfg.get("goodSources") or {}
        for name, commit in sorted(cfg["sources"].items()):
            kept = "" if good.get(name, commit) == commit else \
                f", running {good[name][:7]} (the last good one)"
            click.echo(f"  {name:<24} processed {commit[:7]}{kept}")
    click.echo("resources:")
    for name, r in report["resources"].items():
        ver = f"v{r['version']}" if r["version"] else "no version"
        vname = f" ({r['versionName'][:12]})" if r["versionName"] else ""
        bad = f"  INCONSISTENT: {r['inconsistent']}" if r["inconsistent"] else ""
        click.echo(f"  {shown_name(name):<24} {r['type']:<12} {ver}{vname}{bad}")
    click.echo("jobs:")
    for name, j in report["jobs"].items():
        last = j["lastRun"]
        shown = (f"run {last['number']} {words(last['status'])}{on_worker(last)} ({last['cause']})"
                 if last else "never run")
        click.echo(f"  {shown_name(name):<24} {shown}")
        for row in (last or {}).get("ci") or ():
            click.echo(f"  {'':<24} {ci_line(row)}")
        for a in j["active"]:
            if last and a["number"] == last["number"]:
                continue  # the line above said it
            note = f" ({a['message']})" if a.get("message") else ""
            click.echo(f"  {'':<24} run {a['number']} {words(a['status'])}{on_worker(a)}{note}")
        if j["waiting"]:
            click.echo(f"  {'':<24} not running: {j['waiting']}")


def ci_line(row: dict[str, Any]) -> str:
    """One CI row of a run: `CI row 1: PY=3.12 failed: 3 passed, 1 failed, 0 skipped`."""
    which = f"CI row {row['row']}" if row.get("row") else "CI"
    note = f" ({row['note']})" if row.get("note") else ""
    return f"{which} {words(row['status'])}: {row['summary']}{note}"


def words(status: str) -> str:
    """A run status as words (`pending approval`)."""
    return status.replace("_", " ")


def on_worker(run: dict[str, Any]) -> str:
    """" (attempt N) on WORKER" for a running run: its attempt after the first (a retry,
    or a worker lost under it) and the worker it names (status), else ""."""
    if run["status"] != "running":
        return ""
    attempt = run.get("attempt") or 1
    return (f" (attempt {attempt})" if attempt > 1 else "") + \
        (f" on {run['worker']}" if run.get("worker") else "")

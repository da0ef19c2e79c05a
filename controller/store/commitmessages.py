"""Commit messages of the state branch: a one-line subject, then `Gitline-*` trailers.

The subject is for people (`git log --oneline state`); the trailers are what Gitline
reads back: `Gitline-Resource`/`Gitline-Job` name the object a commit wrote,
`Gitline-Previous` the previous commit of that object (history_index.py). No pygit2
here: the one-shot CLI reads trailers too.
"""

from __future__ import annotations

from controller.core import model


def one_line(text: str) -> str:
    """`text` with every run of whitespace, newlines included, made one space."""
    return " ".join(str(text).split())


def format_message(subject: str, trailers: list[tuple[str, str]]) -> str:
    """The message: `subject`, a blank line, `Gitline-<key>: <value>` for each non-empty
    value."""
    lines = [f"Gitline-{key}: {one_line(value)}" for key, value in trailers if value != ""]
    return one_line(subject) + "\n\n" + "\n".join(lines) + "\n"


def parse_trailers(message: str) -> dict[str, str]:
    """`Gitline-Job: x` lines of the last paragraph -> {"Job": "x"}."""
    paragraphs = message.strip().split("\n\n")
    if len(paragraphs) < 2:
        return {}
    found: dict[str, str] = {}
    for line in paragraphs[-1].splitlines():
        key, sep, value = line.partition(": ")
        if sep and key.startswith("Gitline-"):
            found[key[len("Gitline-") :]] = value.strip()
    return found


def version_subject(version: model.Version) -> str:
    named = f" ({version.name})" if version.name else ""
    source = f" from {version.created_by}" if version.created_by else ""
    return f"{version.resource}: version {version.number}{named}{source}"


def run_subject(run: model.Run) -> str:
    if run.status == "queued":
        what = f"queued ({run.cause})"
    elif run.status == "running":
        what = "started"
    elif run.status == "failed" and run.exit_code is not None:
        what = f"failed (exit {run.exit_code})"
    else:
        what = run.status.replace("_", " ")
    return f"{run.job}: run {run.number} {what}"


def version_message(version: model.Version, subject: str = "") -> str:
    """What an appended version's commit says (Gitline-Previous is added on writing)."""
    return format_message(
        subject or version_subject(version),
        [
            ("Resource", version.resource),
            ("Version", str(version.number)),
            ("Cause", version.created_by),
            ("Config", version.config_commit),
        ],
    )


def run_message(run: model.Run, subject: str = "") -> str:
    """What a recorded run's commit says (Gitline-Previous is added on writing)."""
    return format_message(
        subject or run_subject(run),
        [
            ("Job", run.job),
            ("Run", str(run.number)),
            ("Status", run.status),
            ("Cause", str(run.cause)),
            ("Config", run.config_commit),
            ("Worker", run.worker),
            ("Attempt", str(run.attempt) if run.attempt > 1 else ""),
        ],
    )

"""Commit messages of the state branch: a one-line subject, then `Gitline-*` trailers.

The subject is for people (`git log --oneline state`); the trailers are what Gitline
reads back: `Gitline-Resource`/`Gitline-Job` name the object a commit wrote,
`Gitline-Previous` the previous commit of that object (history_index.py). No pygit2
here: the one-shot CLI reads trailers too.

A commit that records several runs at once (a burst: the runs queued by one pass, the
starts or ends reported together) has one group of trailers per run, each opened by its
`Gitline-Job` line, and a middle paragraph with each run's own subject line
(`batch_message`); `trailer_groups` and `trailers_of` read them back. A commit of one
object has one group, as before.
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


NAME_KEYS = ("Resource", "Job")  # the trailers that name the object a group is about


def trailer_groups(message: str) -> list[dict[str, str]]:
    """The `Gitline-*` trailers of the last paragraph, one dict per object written:
    a `Gitline-Job`/`Gitline-Resource` line opens a new group once the current one has
    one ({"Job": "x", "Run": "3", ...})."""
    paragraphs = message.strip().split("\n\n")
    if len(paragraphs) < 2:
        return []
    groups: list[dict[str, str]] = []
    for line in paragraphs[-1].splitlines():
        key, sep, value = line.partition(": ")
        if not (sep and key.startswith("Gitline-")):
            continue
        key = key[len("Gitline-") :]
        if not groups or key in NAME_KEYS and any(k in groups[-1] for k in NAME_KEYS):
            groups.append({})
        groups[-1][key] = value.strip()
    return groups


def parse_trailers(message: str) -> dict[str, str]:
    """`Gitline-Job: x` lines of the last paragraph -> {"Job": "x"} (the first group)."""
    groups = trailer_groups(message)
    return groups[0] if groups else {}


def trailers_of(message: str, name: str) -> dict[str, str] | None:
    """The trailer group of the resource or job `name`, None if the commit has none."""
    for group in trailer_groups(message):
        if group.get("Resource") == name or group.get("Job") == name:
            return group
    return None


def record_subject(message: str, name: str) -> str:
    """What a commit says about `name`: its subject, or in a commit of several runs the
    line of the middle paragraph that is `name`'s own subject."""
    subject, _, rest = message.partition("\n")
    paragraphs = rest.strip().split("\n\n")
    if len(paragraphs) >= 2:
        for line in paragraphs[0].splitlines():
            if line.startswith(f"{name}: "):
                return line
    return subject


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


def run_trailers(run: model.Run) -> list[tuple[str, str]]:
    return [
        ("Job", run.job),
        ("Run", str(run.number)),
        ("Status", run.status),
        ("Cause", str(run.cause)),
        ("Config", run.config_commit),
        ("Worker", run.worker),
        ("Attempt", str(run.attempt) if run.attempt > 1 else ""),
    ]


def run_message(run: model.Run, subject: str = "") -> str:
    """What a recorded run's commit says (Gitline-Previous is added on writing)."""
    return format_message(subject or run_subject(run), run_trailers(run))


BATCH_SUBJECT_NAMES = 5  # jobs a batch's subject names before "and N more"


def batch_subject(runs: list[model.Run]) -> str:
    """`3 runs started: a 1, b 4, c 2` (the status word when they share one)."""
    statuses = {r.status for r in runs}
    what = statuses.pop().replace("_", " ") if len(statuses) == 1 else "recorded"
    if what == "running":
        what = "started"
    named = ", ".join(f"{r.job} {r.number}" for r in runs[:BATCH_SUBJECT_NAMES])
    more = len(runs) - BATCH_SUBJECT_NAMES
    return f"{len(runs)} runs {what}: {named}" + (f" and {more} more" if more > 0 else "")


def batch_message(runs: list[model.Run], subjects: list[str],
                  previous: list[str]) -> str:
    """One commit recording several runs: a summary subject, each run's own subject
    line, then each run's trailers with its `Gitline-Previous`."""
    lines = [one_line(s) for s in subjects]
    trailers = [
        f"Gitline-{key}: {one_line(value)}"
        for run, prev in zip(runs, previous, strict=True)
        for key, value in [*run_trailers(run), ("Previous", prev)] if value != ""
    ]
    return (batch_subject(runs) + "\n\n" + "\n".join(lines) + "\n\n"
            + "\n".join(trailers) + "\n")

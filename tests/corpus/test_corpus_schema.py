"""The JSON Schema of `gitline schema` on every real file of ../shared/corpus: every file is
valid except the defects listed here, each one explained, and the loader's unknown-key
warnings on the corpus are exactly the ones listed."""

# ruff: noqa: E501  (exact problem messages read best on one line)

from __future__ import annotations

import jsonschema
import pytest

from controller.core import loader, schema, yamlread
from tests.harness.corpus import SHIPPABLE

CORPUS = SHIPPABLE
REPOS = CORPUS / "repos"

pytestmark = pytest.mark.skipif(
    not REPOS.is_dir(),
    reason=f"the Shippable corpus is not at {CORPUS} (it lives outside the repository)",
)

# folder, file, where in the document: each a real defect of the file, which the loader
# reports too (with a message of its own), so the schema rightly rejects it.
EXPECTED = {
    # 'deploymentMethod' is a misspelling of 'deployMethod' (the loader: "...; ignored")
    ("DaRizat__tv-message", "shippable.jobs.yml", "jobs/3/steps/4"),
    ("DaRizat__tv-message", "shippable.jobs.yml", "jobs/4/steps/4"),
    ("GoodwayGroup__appgen-hello-world", "shippable.jobs.yml", "jobs/3/steps/4"),
    ("GoodwayGroup__appgen-hello-world", "shippable.jobs.yml", "jobs/4/steps/4"),
    # `runtime:` left empty with `options:` beside it (the loader reads it as runtime.options)
    ("JP-L__jdemo@c784809", "shippable.yml", "jobs/2/steps/1/TASK/runtime"),
    # unquoted `: ` makes a script line a mapping (the loader reads it back and warns)
    ("JP-L__jdemo@c784809", "shippable.yml", "jobs/5/steps/1/TASK/script/0"),
    ("Riturajcse__sample_pipelines@76362ec", "shippable.jobs.yml", "jobs/0/steps/0/TASK/script/0"),
    ("Riturajcse__sample_pipelines@76362ec", "shippable.jobs.yml", "jobs/0/steps/1/TASK/script/0"),
    # 2016: `steps:` a mapping holding GET and TASK at once (the loader: "should be a list")
    ("Riturajcse__sample_pipelines@b3b2f0c", "shippable.jobs.yml", "jobs/11/steps"),
    # a job-level `notify: [{on_success: slack}]` is no Assembly Line syntax: Shippable ignored it
    ("devops-recipes__e2eShippableDemo", "shippable.jobs.yml", "jobs/5"),
}

# The loader's unknown-key warnings on the whole corpus: the notify: above, nothing else.
UNKNOWN_KEYS = [
    "shippable.jobs.yml:85:5: warning: unknown key 'notify' of job 'e2eshipdemo-release-ecs-prod'; it is ignored",
]


def corpus_files() -> list[tuple[str, list[tuple[str, bytes]]]]:
    if not REPOS.is_dir():
        return []
    return [(folder.name, [(p.relative_to(folder).as_posix(), p.read_bytes())
                           for p in sorted(folder.rglob("*"))
                           if p.is_file() and loader.is_workflow_file(p.name)])
            for folder in sorted(REPOS.iterdir())]


def defects(error: jsonschema.ValidationError) -> set[str]:
    """Where the defects are. An anyOf (a step is one of four shapes) fails at its parent,
    with the reason of each branch inside: keep the innermost places."""
    leaves, pending = [], [error]
    while pending:
        sub = pending.pop()
        if sub.context:
            pending += sub.context
        else:
            leaves.append(tuple(sub.absolute_path))
    return {"/".join(map(str, p)) for p in leaves
            if not any(len(q) > len(p) and q[:len(p)] == p for q in leaves)}


def test_every_corpus_file_is_valid_but_for_its_listed_defects() -> None:
    validator = jsonschema.Draft202012Validator(schema.build_schema())
    found: set[tuple[str, str, str]] = set()
    checked = 0
    for folder, files in corpus_files():
        for parsed in yamlread.read_files(files):  # anchors across files, as the loader
            checked += 1
            for error in validator.iter_errors(parsed.data):
                found |= {(folder, parsed.path, where) for where in defects(error)}
    assert checked == 80
    assert found == EXPECTED


def test_the_loader_warns_of_no_other_unknown_key_in_the_corpus() -> None:
    warned = [str(p) for _, files in corpus_files() for p in loader.load_workflow(files).problems
              if "unknown key" in p.message]
    assert warned == UNKNOWN_KEYS

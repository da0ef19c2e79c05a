"""Safe YAML reading for workflow files: (path, text) pairs in, plain data with positions out.

Owns: one file parsed into a `Parsed` (its data, problems and anchors), anchors shared
across the files of one repository (`read_files` retries a file whose alias is undefined
with the anchors of the other files, nearest and `shippable.templates.yml` first), the
lone parses a long-lived process keeps of the files that depend on others (the loader
keeps the others as loaded objects: core/fileload), and what is said about
`externalReferences:`. The steps are modules of their own: `yamlguards` (size, UTF-8,
nesting), `yamlevents` (the fast path: libyaml's events straight into data),
`yamlcompose` (text to nodes: libyaml or the pure parser), `yamlconvert` (nodes to data:
aliases, merge keys, duplicate keys, tags), `yamldata` (the positioned data). Pure: it
never touches files or the clock.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field, replace
from typing import Any

from ruamel.yaml.error import MarkedYAMLError, YAMLError

from controller.core import model, yamlcompose, yamlconvert, yamlevents, yamlguards
from controller.core.yamlcompose import Anchors
from controller.core.yamldata import Pos, Rejected, YList, YMap, problem_at
from controller.core.yamlguards import MAX_DEPTH, decode

TEMPLATE_FILE = "shippable.templates.yml"


@dataclass
class Parsed:
    """The outcome of reading one file."""

    path: str
    data: Any = None
    problems: list[model.Problem] = field(default_factory=list)
    anchors: Anchors = field(default_factory=dict)
    failed: bool = False  # the YAML did not parse at all
    undefined_alias: str = ""  # set when it failed only for want of an anchor
    alone: bool = True  # read without anchors of other files


def parse(path: str, text: str, anchors: Anchors | None = None, *,
          lenient: bool = False) -> Parsed:
    """Read one YAML document. `anchors` pre-defines anchors from other files; `lenient`
    reads an undefined alias as an `UndefinedAlias` value instead of failing the file."""
    out = Parsed(path)
    deep = yamlguards.too_deep(text)
    if deep is not None:  # refused before any composer sees it: see too_deep
        out.failed = True
        out.problems.append(problem_at(path, deep, f"YAML nested deeper than {MAX_DEPTH} levels"))
        return out
    if not anchors and not lenient:
        fast, data = yamlevents.read(text)
        if fast:
            out.data = data
            return out
    try:
        root, out.anchors = yamlcompose.compose(text, anchors or {}, lenient=lenient)
        out.data = yamlconvert.to_data(path, root, out.problems) if root is not None else None
    except MarkedYAMLError as err:
        out.failed = True
        mark = err.problem_mark or err.context_mark
        pos = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = str(err.problem or err.context or "invalid YAML")
        if "undefined alias" in problem:
            out.undefined_alias = problem
        out.problems.append(problem_at(path, pos, f"YAML does not parse: {problem}"))
    except Rejected as err:
        out.failed = True
        out.problems.append(problem_at(path, err.pos, str(err)))
    except RecursionError:
        out.failed = True
        out.problems.append(problem_at(path, (0, 0), "YAML is nested too deeply"))
    except (YAMLError, ValueError, TypeError) as err:
        out.failed = True
        out.problems.append(problem_at(path, (0, 0), f"YAML does not parse: {err}"))
    return out


# --- reading files ---------------------------------------------------------------------


# (path, text) -> that file parsed on its own: valid whatever the other files hold
ParseCache = dict[tuple[str, str], Parsed]


def read_files(files: list[tuple[str, str | bytes]],
               cache: ParseCache | None = None) -> list[Parsed]:
    """Parse every file; retry those missing an anchor with anchors from the others.

    With `cache`, a file parsed alone before (same path, same text) is not parsed again,
    and the cache is left holding this call's files only (a long-lived process answering
    pushes that change one file of many parses one)."""
    texts: dict[str, str] = {}
    parsed: list[Parsed] = []
    kept: ParseCache = {}
    for path, content in files:
        text, problem = decode(path, content)
        if problem is not None or text is None:
            parsed.append(Parsed(path, problems=[problem] if problem else [], failed=True))
            continue
        texts[path] = text
        alone = cache.get((path, text)) if cache is not None else None
        kept[(path, text)] = alone or parse(path, text)
        # its own problems list: the notes below are said per load, never kept in the cache
        parsed.append(replace(kept[(path, text)], problems=list(kept[(path, text)].problems)))
    for index, result in enumerate(parsed):
        if result.undefined_alias:
            seed = _anchor_seed(result.path, parsed)
            retry = parse(result.path, texts[result.path], seed)
            if retry.failed and retry.undefined_alias:  # still missing: lose only its objects
                retry = parse(result.path, texts[result.path], seed, lenient=True)
            if not retry.failed:
                retry.alone = False
                parsed[index] = retry  # depends on the others: the cache keeps the lone parse
    _say_external_references(parsed)
    if cache is not None:
        cache.clear()
        cache.update(kept)
    return parsed


# Shippable fetched `externalReferences:` (raw URLs of template files) of a templates file.
# Gitline reads workflow files from the config repository only: the network is off here.
EXTERNAL_REFERENCES = "externalReferences"
_UNDEFINED = re.compile(r"(?:YAML does not parse: found )?undefined alias '([^']*)'.*")


def _say_external_references(parsed: list[Parsed]) -> None:
    """Each external reference is an error at its line, and an alias no file defines says
    it may be one of theirs, instead of a bare "undefined alias"."""
    refs: list[tuple[Parsed, Pos, str]] = []
    for result in parsed:
        data = result.data
        if posixpath.basename(result.path) != TEMPLATE_FILE or not isinstance(data, YMap):
            continue
        urls = data.get(EXTERNAL_REFERENCES)
        urls = urls if isinstance(urls, YList) else YList(data.at(EXTERNAL_REFERENCES))
        refs += [(result, urls.at(i), str(url)) for i, url in enumerate(urls)]
    if not refs:
        return
    where = ", ".join(f"{r.path}:{pos[0]}" for r, pos, _ in refs)
    for result, pos, url in refs:
        result.problems.append(problem_at(result.path, pos, f"{EXTERNAL_REFERENCES}: {url} is "
                               "not fetched: the network is off here; the anchors it defines "
                               "are undefined (copy them into this file)"))
    for result in parsed:
        for index, problem in enumerate(result.problems):
            found = _UNDEFINED.fullmatch(problem.message)
            if found:
                message = (f"alias '{found[1]}' is defined by no file here: externalReferences "
                           f"({where}) are not fetched, the network is off here")
                result.problems[index] = problem_at(result.path, (problem.location.line,
                                                                problem.location.col), message)


def _anchor_seed(path: str, parsed: list[Parsed]) -> Anchors:
    """Anchors other files define, the nearest (and templates files) taking precedence."""
    here = posixpath.dirname(path)

    def rank(other: Parsed) -> tuple[bool, int, bool]:
        there = posixpath.dirname(other.path)
        above = there == "" or here == there or here.startswith(there + "/")
        depth = len(there.split("/")) if there else 0
        return above, depth, posixpath.basename(other.path) == TEMPLATE_FILE

    seed: Anchors = {}
    for other in sorted((p for p in parsed if p.path != path and not p.failed), key=rank):
        seed.update(other.anchors)
    return seed

"""Safe YAML reading for workflow files: text in, plain data with positions out.

Owns: decoding, size/alias-bomb/nesting guards, anchors shared across the files of one
repository (`read_files` retries a file whose alias is undefined with the anchors of the
other files, nearest and `shippable.templates.yml` first),
merge keys (`<<`), duplicate keys (last wins, reported), and explicit tags (never
executed: reported and dropped). Pure: it never touches files or the clock.

It composes ruamel.yaml *nodes* and converts them itself, so no constructor ever runs
and every mapping and sequence keeps 1-based line/column positions (`YMap`, `YList`).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field, replace
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.scanner import RoundTripScanner

from controller.core import model

TEMPLATE_FILE = "shippable.templates.yml"
MAX_BYTES = 5 * 1024 * 1024
MAX_NODES = 100_000  # after alias expansion: stops "billion laughs"
MAX_DEPTH = 64

_STD = "tag:yaml.org,2002:"
_TRUE = {"true", "yes", "on", "y"}
Pos = tuple[int, int]


class YMap(dict):  # type: ignore[type-arg]
    """A mapping that remembers where it and each of its keys were written."""

    def __init__(self, pos: Pos) -> None:
        super().__init__()
        self.pos = pos
        self.key_pos: dict[str, Pos] = {}
        self.anchored: set[str] = set()  # keys whose value carries an anchor (&x)

    def at(self, key: str) -> Pos:
        return self.key_pos.get(key, self.pos)


class YList(list):  # type: ignore[type-arg]
    """A sequence that remembers where it and each of its items were written."""

    def __init__(self, pos: Pos) -> None:
        super().__init__()
        self.pos = pos
        self.item_pos: list[Pos] = []

    def at(self, index: int) -> Pos:
        return self.item_pos[index] if 0 <= index < len(self.item_pos) else self.pos


def pos_of(value: Any, default: Pos = (0, 0)) -> Pos:
    """The position of a YMap/YList, or `default` for a scalar."""
    return getattr(value, "pos", default)


@dataclass
class Parsed:
    """The outcome of reading one file."""

    path: str
    data: Any = None
    problems: list[model.Problem] = field(default_factory=list)
    anchors: dict[str, Node] = field(default_factory=dict)
    failed: bool = False  # the YAML did not parse at all
    undefined_alias: str = ""  # set when it failed only for want of an anchor


@dataclass(frozen=True)
class UndefinedAlias:
    """Where a file used `*name` that no file anchors: the object holding it is not loaded,
    the rest of the file is."""

    name: str
    pos: Pos


_UNDEFINED_TAG = "tag:gitline,2026:undefined-alias"


def undefined_in(value: Any) -> UndefinedAlias | None:
    """The first undefined alias inside `value` (read from a lenient parse), if any."""
    if isinstance(value, UndefinedAlias):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for item in items:
        found = undefined_in(item)
        if found is not None:
            return found
    return None


class _Abort(Exception):
    """A guard tripped: the file is rejected with this message at this position."""

    def __init__(self, message: str, pos: Pos) -> None:
        super().__init__(message)
        self.pos = pos


def _mark(node: Node) -> Pos:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def decode(path: str, content: str | bytes) -> tuple[str | None, model.Problem | None]:
    """Bytes or text -> text, or a Problem (too big, not UTF-8)."""
    size = len(content.encode("utf-8", "replace") if isinstance(content, str) else content)
    if size > MAX_BYTES:
        return None, _problem(path, (0, 0), f"file is {size} bytes; the limit is {MAX_BYTES}")
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError as err:
            msg = f"{path} is not UTF-8 text (byte {err.start}): not loaded"
            return None, _problem(path, (0, 0), msg)
    return content.removeprefix("\ufeff"), None


def _problem(
    path: str, pos: Pos, message: str, severity: model.Severity = "error"
) -> model.Problem:
    return model.Problem(model.Location(path, pos[0], pos[1]), message, severity)


def parse(path: str, text: str, anchors: dict[str, Node] | None = None, *,
          lenient: bool = False) -> Parsed:
    """Read one YAML document. `anchors` pre-defines anchors from other files; `lenient`
    reads an undefined alias as an `UndefinedAlias` value instead of failing the file."""
    out = Parsed(path)
    deep = _too_deep(text)
    if deep is not None:  # refused before any composer sees it: see _too_deep
        out.failed = True
        out.problems.append(_problem(path, deep, f"YAML nested deeper than {MAX_DEPTH} levels"))
        return out
    try:
        root, out.anchors = (_compose_pure(text, anchors or {}, lenient=True) if lenient
                             else _compose(text, anchors or {}))
        out.data = _Converter(path, out.problems).convert(root, 0) if root is not None else None
    except MarkedYAMLError as err:
        out.failed = True
        mark = err.problem_mark or err.context_mark
        pos = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = str(err.problem or err.context or "invalid YAML")
        if "undefined alias" in problem:
            out.undefined_alias = problem
        out.problems.append(_problem(path, pos, f"YAML does not parse: {problem}"))
    except _Abort as err:
        out.failed = True
        out.problems.append(_problem(path, err.pos, str(err)))
    except RecursionError:
        out.failed = True
        out.problems.append(_problem(path, (0, 0), "YAML is nested too deeply"))
    except (YAMLError, ValueError, TypeError) as err:
        out.failed = True
        out.problems.append(_problem(path, (0, 0), f"YAML does not parse: {err}"))
    return out


# A line whose indentation and block indicators (`- `, `? `, `: `) reach this column may
# open more than MAX_DEPTH block collections: each level needs at least one more column.
_DEEP_LINE = re.compile(rf"^[ \t?:-]{{{MAX_DEPTH - 4},}}", re.M)


def _too_deep(text: str) -> Pos | None:
    """Where `text` nests deeper than MAX_DEPTH, or None; decided before composing.

    Both composers recurse once per level: libyaml's crashes the process (SIGSEGV) near
    50,000 levels of `- - - ... x`, and the pure scanner is quadratic in flow depth. Flow
    depth is counted in the text; a text that might nest deep in block style (a line
    indented or `- `-prefixed past MAX_DEPTH columns) is checked on parse events, which
    keep no recursion, stopping at the first event too deep.
    """
    flow = _flow_depth(text)
    if flow is not None:
        return flow
    return _event_depth(text) if _DEEP_LINE.search(text) else None


def _flow_depth(text: str) -> Pos | None:
    """Where [ and { outside quotes first nest past MAX_DEPTH (quotes end at a line end)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return None
    depth = 0
    line, start = 1, 0
    quote = ""
    for index, char in enumerate(text):
        if char == "\n":
            quote = ""
            line, start = line + 1, index + 1
        elif quote:
            quote = "" if char == quote else quote
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return (line, index - start + 1)
        elif char in "]}":
            depth = max(0, depth - 1)
        elif char in "'\"":
            quote = char
    return None


def _event_depth(text: str) -> Pos | None:
    """Where parse events first open more than MAX_DEPTH collections (None: not that deep,
    or a syntax error the composer reports itself, before it gets any deeper)."""
    parser = _CParser(text) if _CParser is not None else None
    events = (iter(parser.get_event, None) if parser is not None
              else YAML(typ="safe", pure=True).parse(text))
    depth = 0
    try:
        for event in events:
            if isinstance(event, (SequenceStartEvent, MappingStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    return (mark.line + 1, mark.column + 1)
            elif isinstance(event, (SequenceEndEvent, MappingEndEvent)):
                depth -= 1
            elif isinstance(event, StreamEndEvent):
                break
    except (YAMLError, ValueError, TypeError):
        return None
    finally:
        if parser is not None:
            parser.dispose()
    return None


def _compose(text: str, seed: dict[str, Node]) -> tuple[Node | None, dict[str, Node]]:
    """Compose the single document of `text` into nodes; nothing is constructed.

    Files without anchors go through libyaml (ruamel.yaml.clib, ~20x faster) when it is
    installed; anchors shared across files, and every error message, come from the pure
    parser, so both paths give the same nodes, tags (YAML 1.2) and messages.
    """
    if not seed and _CLoader is not None and not _ANCHOR.search(text):
        try:
            return _CLoader(text).get_single_node(), {}
        except Exception:  # noqa: BLE001 - redo it in pure Python for the exact message
            pass
    return _compose_pure(text, seed)


def _c_parser() -> Any:
    """libyaml's CParser class, or None (the extension is untyped: Any)."""
    try:
        from ruamel.yaml.clib._ruamel_yaml import CParser  # type: ignore[import-not-found]
    except ImportError:
        return None
    return CParser


def _c_loader() -> type | None:
    CParser = _c_parser()
    if CParser is None:
        return None
    from ruamel.yaml.resolver import BaseResolver, implicit_resolvers

    class Resolver12(BaseResolver):
        """YAML 1.2 implicit types, as the round-trip loader resolves them."""

    for versions, tag, regexp, first in implicit_resolvers:
        if (1, 2) in versions:
            Resolver12.add_implicit_resolver_base(tag, regexp, first)

    class CLoader(CParser, Resolver12):  # type: ignore[misc, valid-type]  # a class from a variable
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Resolver12.__init__(self)

    return CLoader


_CParser = _c_parser()
_CLoader = _c_loader()
_ANCHOR = re.compile(r"(?:^|[\s\[{,])&[^\s&,\[\]{}]", re.M)  # `&name`, not shell `&&`


class _LibyamlTabs(RoundTripScanner):
    """Tabs as separation whitespace where libyaml takes them (`- name:<TAB>job`, as in
    Shippable's own templates): wherever a simple key cannot start (after a key's `:`,
    after a plain scalar, in flow context). Indentation stays spaces only, as in libyaml,
    so both composers read the same files the same way."""

    def scan_to_next_token(self) -> Any:
        if not self.allow_simple_key or self.flow_level:
            while self.reader.peek() in " \t":
                self.reader.forward()
        return super().scan_to_next_token()


def _compose_pure(text: str, seed: dict[str, Node], *,
                  lenient: bool = False) -> tuple[Node | None, dict[str, Node]]:
    yaml = YAML(typ="rt", pure=True)
    yaml.Scanner = _LibyamlTabs
    yaml.doc_infos.append(_doc_info(yaml))
    yaml.tags = {}
    constructor, parser = yaml.get_constructor_parser(text)
    composer = constructor.composer
    if lenient:
        _tolerate_undefined_aliases(composer)
    try:
        parser.get_event()  # stream start
        if parser.check_event(StreamEndEvent):
            return None, {}
        parser.get_event()  # document start
        composer.anchors = dict(seed)
        root = composer.compose_node(None, None)
        parser.get_event()  # document end
        if not parser.check_event(StreamEndEvent):
            raise _Abort("more than one YAML document ('---') in one file", _mark(root))
        own = {k: v for k, v in composer.anchors.items() if seed.get(k) is not v}
        return root, own
    finally:
        parser.dispose()


def _tolerate_undefined_aliases(composer: Any) -> None:
    """Make `*name` without an anchor a marked placeholder node instead of an error (the
    composer's own recursion goes through the instance attribute set here)."""
    compose = composer.compose_node

    def compose_node(parent: Any, index: Any) -> Any:
        if composer.parser.check_event(AliasEvent):
            event = composer.parser.peek_event()
            if event.anchor not in composer.anchors:
                composer.parser.get_event()
                return ScalarNode(_UNDEFINED_TAG, event.anchor, event.start_mark,
                                  event.end_mark)
        return compose(parent, index)

    composer.compose_node = compose_node


def _doc_info(yaml: YAML) -> Any:
    from ruamel.yaml.docinfo import DocInfo, version

    return DocInfo(requested_version=version(yaml.version))


class _Converter:
    """Nodes -> YMap/YList/scalars, counting every node an alias expands to."""

    def __init__(self, path: str, problems: list[model.Problem]) -> None:
        self.path = path
        self.problems = problems
        self.count = 0
        self.active: set[int] = set()

    def warn(self, pos: Pos, message: str, severity: model.Severity = "warning") -> None:
        problem = _problem(self.path, pos, message, severity)
        if problem not in self.problems:  # an alias repeats its node's problems
            self.problems.append(problem)

    def convert(self, node: Node, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _Abort(f"more than {MAX_NODES} YAML nodes after expanding aliases", _mark(node))
        if depth > MAX_DEPTH:
            raise _Abort(f"YAML nested deeper than {MAX_DEPTH} levels", _mark(node))
        if isinstance(node, ScalarNode) and str(node.tag) == _UNDEFINED_TAG:
            self.warn(_mark(node), f"undefined alias '{node.value}' (no file anchors "
                      f"&{node.value})", "error")
            return UndefinedAlias(str(node.value), _mark(node))
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if id(node) in self.active:
            raise _Abort("an alias refers to a node that contains it (recursive)", _mark(node))
        if not self.tag_ok(node, ("seq", "map", "omap", "set")):
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return self.sequence(node, depth)
            assert isinstance(node, MappingNode)  # scalars were handled above
            return self.mapping(node, depth)
        finally:
            self.active.discard(id(node))

    def tag_ok(self, node: Node, allowed: tuple[str, ...]) -> bool:
        tag = str(node.tag)
        if tag.startswith(_STD) and tag[len(_STD) :] in allowed:
            return True
        shown = tag.replace(_STD, "!!")
        self.warn(_mark(node), f"YAML tag '{shown}' is not supported; value ignored", "error")
        return False

    def scalar(self, node: ScalarNode) -> Any:
        std = ("str", "int", "float", "bool", "null", "timestamp", "merge", "binary")
        if not self.tag_ok(node, std):
            return None
        kind, text = str(node.tag)[len(_STD) :], str(node.value)
        if kind == "null":
            return None
        if kind == "bool":
            return text.lower() in _TRUE
        if kind == "int":
            return _number(text, int)
        if kind == "float":
            return _number(text, float)
        return text

    def sequence(self, node: SequenceNode, depth: int) -> YList:
        out = YList(_mark(node))
        for item in node.value:
            out.append(self.convert(item, depth + 1))
            out.item_pos.append(_mark(item))
        return out

    def mapping(self, node: MappingNode, depth: int) -> Any:
        out = YMap(_mark(node))
        merges: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if str(key_node.tag) == _STD + "merge":
                merges.append((key_node, value_node))
                continue
            key = self.key(key_node)
            if key in out:
                self.duplicate(out, key, _mark(key_node))
            out[key] = self.convert(value_node, depth + 1)
            out.key_pos[key] = _mark(key_node)
            if getattr(value_node, "anchor", None):
                out.anchored.add(key)
        for key_node, value_node in merges:
            whole = self.merge(out, key_node, value_node, depth, only=len(node.value) == 1)
            if whole is not None:
                return whole
        return out

    def key(self, node: Node) -> str:
        self.count += 1
        if isinstance(node, ScalarNode):
            return str(node.value)
        self.warn(_mark(node), "a mapping key that is not a plain value; used as text")
        return str(self.convert(node, MAX_DEPTH))

    def duplicate(self, out: YMap, key: str, pos: Pos) -> None:
        first, lost = out.key_pos[key][0], out[key]
        names = (
            [i["name"] for i in lost if isinstance(i, dict) and "name" in i]
            if isinstance(lost, list)
            else []
        )
        detail = f" (its entries {', '.join(map(str, names))} are ignored)" if names else ""
        self.warn(
            pos,
            f"duplicate key '{key}': the value at line {first} is ignored "
            f"(the last one wins){detail}",
        )

    def merge(self, out: YMap, key_node: Node, value: Node, depth: int, *, only: bool) -> Any:
        """Apply `<<: *x`. Returns a list when the whole mapping is an aliased list."""
        pos = _mark(key_node)
        anchor = getattr(value, "anchor", None)
        if (
            isinstance(value, SequenceNode)
            and anchor
            and (len(value.value) > 1 or not _all_maps(value))
        ):
            return self.merge_list(out, value, pos, depth, only=only)
        sources = value.value if isinstance(value, SequenceNode) else [value]
        for src in sources:
            merged = self.convert(src, depth + 1)
            if not isinstance(merged, dict):
                self.warn(pos, "merge key '<<' needs a mapping or a list of mappings", "error")
                continue
            for k, v in merged.items():
                if k not in out:
                    out[k] = v
                    out.key_pos[k] = merged.at(k) if isinstance(merged, YMap) else pos
        return None

    def merge_list(
        self, out: YMap, value: SequenceNode, pos: Pos, depth: int, *, only: bool
    ) -> Any:
        """`<<: *a_list` is not YAML merging; make the evident sense of it, and say so."""
        items = self.convert(value, depth + 1)
        where = f"merge key '<<' of the list &{value.anchor}"
        if only:
            self.warn(pos, f"{where}: the mapping is read as that list")
            return items
        empty = [k for k, v in out.items() if v is None]
        if len(empty) == 1:
            out[empty[0]] = items
            self.warn(pos, f"{where} beside the empty key '{empty[0]}': read as its value")
        else:
            self.warn(pos, f"{where}: a list cannot be merged into a mapping; ignored")
        return None


def _all_maps(node: SequenceNode) -> bool:
    return all(isinstance(i, MappingNode) for i in node.value)


def _number(text: str, kind: type) -> Any:
    clean = text.replace("_", "")
    if kind is float and clean.lower().lstrip("+-") in (".inf", ".nan"):
        return float(clean.lower().replace(".", ""))
    for attempt in (
        ((lambda: int(clean, 0)), (lambda: int(clean, 10)))
        if kind is int
        else ((lambda: float(clean)),)
    ):
        try:
            return attempt()
        except ValueError:
            continue
    return text


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
        result.problems.append(_problem(result.path, pos, f"{EXTERNAL_REFERENCES}: {url} is "
                               "not fetched: the network is off here; the anchors it defines "
                               "are undefined (copy them into this file)"))
    for result in parsed:
        for index, problem in enumerate(result.problems):
            found = _UNDEFINED.fullmatch(problem.message)
            if found:
                message = (f"alias '{found[1]}' is defined by no file here: externalReferences "
                           f"({where}) are not fetched, the network is off here")
                result.problems[index] = _problem(result.path, (problem.location.line,
                                                                problem.location.col), message)


def _anchor_seed(path: str, parsed: list[Parsed]) -> dict[str, Any]:
    """Anchors other files define, the nearest (and templates files) taking precedence."""
    here = posixpath.dirname(path)

    def rank(other: Parsed) -> tuple[bool, int, bool]:
        there = posixpath.dirname(other.path)
        above = there == "" or here == there or here.startswith(there + "/")
        depth = len(there.split("/")) if there else 0
        return above, depth, posixpath.basename(other.path) == TEMPLATE_FILE

    seed: dict[str, Any] = {}
    for other in sorted((p for p in parsed if p.path != path and not p.failed), key=rank):
        seed.update(other.anchors)
    return seed

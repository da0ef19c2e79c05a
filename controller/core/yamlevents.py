"""The fast path of YAML reading: libyaml's events straight into YMap/YList/scalars.

Owns: reading the common shape of a workflow file (mappings with plain keys, sequences,
untagged scalars; no anchor, alias, merge key, explicit tag or duplicate key) without
composing ruamel nodes first: ~3x less work and no node tree to throw away. Only plain
scalars go through the YAML 1.2 implicit resolver (memoised per value: a workflow repeats
`runSh`, `true`, `IN`...). Anything outside that shape, and any error, returns None and
the file is read by the exact path (`yamlcompose` + `yamlconvert`), which gives every
warning and message; a test checks the corpus reads identically either way. Pure.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.events import (
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from controller.core import yamlcompose, yamlconvert
from controller.core.yamldata import YList, YMap
from controller.core.yamlguards import MAX_DEPTH

_STD = "tag:yaml.org,2002:"


class _Unusual(Exception):
    """The file leaves the common shape: read it by the exact path."""


def _resolver() -> Any:
    loader = yamlcompose.LIBYAML_LOADER
    if loader is None:
        return None
    return getattr(loader, "resolver_class")()  # noqa: B009 - set on a class made at run time


_RESOLVER: Any = _resolver()
# the first characters the implicit resolvers are filed under (resolve() looks there only)
_FIRST: frozenset[str | None] = frozenset(
    getattr(_RESOLVER, "yaml_implicit_resolvers", {None: []}))
_KINDS = frozenset({"str", "int", "float", "bool", "null", "timestamp"})
_PLAIN: dict[str, Any] = {}  # plain scalar text -> its value (a process-wide memo)
_MEMO_MAX = 50_000


def read(text: str) -> tuple[bool, Any]:
    """(True, data) when the fast path read `text`, else (False, None)."""
    parser_class = yamlcompose.LIBYAML_PARSER
    if parser_class is None or _RESOLVER is None or yamlcompose.LIBYAML_LOADER is None:
        return False, None
    parser = parser_class(text)
    try:
        return True, _Builder(parser).document()
    except Exception:  # noqa: BLE001 - _Unusual, or a syntax error: the exact path says it
        return False, None
    finally:
        parser.dispose()


def _plain(value: str) -> Any:
    """The value of a plain scalar under YAML 1.2's implicit tags, as yamlconvert reads it."""
    if value and value[0] not in _FIRST and None not in _FIRST:  # no implicit tag starts so
        return value
    known = _PLAIN.get(value, _PLAIN)
    if known is not _PLAIN:
        return known
    from ruamel.yaml.nodes import ScalarNode

    kind = str(_RESOLVER.resolve(ScalarNode, value, (True, False)))[len(_STD):]
    if kind not in _KINDS:  # `<<`, or a tag yamlconvert warns about
        raise _Unusual
    out: Any = value
    if kind == "null":
        out = None
    elif kind == "bool":
        out = value.lower() in yamlconvert._TRUE
    elif kind == "int":
        out = yamlconvert._number(value, int)
    elif kind == "float":
        out = yamlconvert._number(value, float)
    if len(_PLAIN) < _MEMO_MAX:
        _PLAIN[value] = out
    return out


class _Builder:
    def __init__(self, parser: Any) -> None:
        self.next = parser.get_event
        self.count = 0

    def document(self) -> Any:
        first = self.next()  # stream start
        event = self.next()
        if type(event) is StreamEndEvent:
            return None
        root = self.node(self.next(), 0)
        self.next()  # document end
        if type(self.next()) is not StreamEndEvent:
            raise _Unusual  # more than one document: the exact path rejects it
        del first
        return root

    def node(self, event: Any, depth: int) -> Any:
        self.count += 1
        if self.count > yamlconvert.MAX_NODES or depth > MAX_DEPTH:
            raise _Unusual
        kind = type(event)
        if event.anchor is not None:  # also an AliasEvent's name: the exact path
            raise _Unusual
        if kind is ScalarEvent:
            if event.tag is not None:
                raise _Unusual
            return _plain(event.value) if event.implicit[0] else event.value
        if event.tag is not None:
            raise _Unusual
        mark = event.start_mark
        if kind is SequenceStartEvent:
            return self.sequence(YList((mark.line + 1, mark.column + 1)), depth)
        if kind is MappingStartEvent:
            return self.mapping(YMap((mark.line + 1, mark.column + 1)), depth)
        raise _Unusual

    def sequence(self, out: YList, depth: int) -> YList:
        while True:
            event = self.next()
            if type(event) is SequenceEndEvent:
                return out
            mark = event.start_mark
            out.append(self.node(event, depth + 1))
            out.item_pos.append((mark.line + 1, mark.column + 1))

    def mapping(self, out: YMap, depth: int) -> YMap:
        while True:
            event = self.next()
            if type(event) is MappingEndEvent:
                return out
            # plain keys only, no `<<`, no tag, no anchor, said once
            if (type(event) is not ScalarEvent or event.tag is not None
                    or event.anchor is not None
                    or (event.value == "<<" and event.implicit[0])):
                raise _Unusual
            key = event.value
            if key in out:
                raise _Unusual
            self.count += 1
            mark = event.start_mark
            out[key] = self.node(self.next(), depth + 1)
            out.key_pos[key] = (mark.line + 1, mark.column + 1)

"""YAML text -> ruamel.yaml nodes, never constructed: the fast path and the exact one.

Owns: the single document of a file composed into nodes, through libyaml
(ruamel.yaml.clib, ~20x faster) when it is installed and the file defines no anchor, else
through ruamel's pure parser, which also gives every error message. Both read the same
files the same way: YAML 1.2 tags, tabs as separation where libyaml takes them. Anchors
may be seeded from other files, and a lenient compose leaves a marked placeholder where
an alias has no anchor. Pure: text in, nodes out.
"""

from __future__ import annotations

import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.events import AliasEvent, StreamEndEvent
from ruamel.yaml.nodes import Node, ScalarNode
from ruamel.yaml.scanner import RoundTripScanner

from controller.core.yamldata import UNDEFINED_ALIAS_TAG, Pos, Rejected

Anchors = dict[str, Node]


def node_pos(node: Node) -> Pos:
    """Where `node` starts, 1-based."""
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def compose(text: str, seed: Anchors, *, lenient: bool = False) -> tuple[Node | None, Anchors]:
    """The root node of `text` (None for an empty stream) and the anchors it defines.

    `seed` pre-defines anchors of other files; `lenient` reads an alias without an anchor
    as a placeholder node (tag UNDEFINED_ALIAS_TAG) instead of failing. Files without
    anchors go through libyaml when it is installed; anchors shared across files, and
    every error message, come from the pure parser, so both paths give the same nodes.
    Raises ruamel's errors and `Rejected`, which the caller turns into problems.
    """
    if lenient:
        return _compose_pure(text, seed, lenient=True)
    if not seed and LIBYAML_LOADER is not None and not _ANCHOR.search(text):
        try:
            return LIBYAML_LOADER(text).get_single_node(), {}
        except Exception:  # noqa: BLE001 - redo it in pure Python for the exact message
            pass
    return _compose_pure(text, seed)


def _libyaml_parser() -> Any:
    """libyaml's CParser class, or None (the extension is untyped: Any)."""
    try:
        from ruamel.yaml.clib._ruamel_yaml import CParser  # type: ignore[import-not-found]
    except ImportError:
        return None
    return CParser


def _libyaml_loader() -> type | None:
    CParser = _libyaml_parser()
    if CParser is None:
        return None
    from ruamel.yaml.resolver import BaseResolver, implicit_resolvers

    class Resolver12(BaseResolver):
        """YAML 1.2 implicit types, as the round-trip loader resolves them."""

    for versions, tag, regexp, first in implicit_resolvers:
        if (1, 2) in versions:
            Resolver12.add_implicit_resolver_base(tag, regexp, first)

    class CLoader(CParser, Resolver12):  # type: ignore[misc, valid-type]  # a class from a variable
        resolver_class = Resolver12  # yamlevents resolves plain scalars with it

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Resolver12.__init__(self)

    return CLoader


# libyaml's parser and a node loader on it with YAML 1.2 tags; None without the extension
# (tests set LIBYAML_LOADER to None to read through the pure parser).
LIBYAML_PARSER: Any = _libyaml_parser()
LIBYAML_LOADER: type | None = _libyaml_loader()
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


def _compose_pure(text: str, seed: Anchors, *,
                  lenient: bool = False) -> tuple[Node | None, Anchors]:
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
            raise Rejected("more than one YAML document ('---') in one file", node_pos(root))
        own = {k: v for k, v in composer.anchors.items() if seed.get(k) is not v}
        return root, own
    finally:
        parser.dispose()


def _tolerate_undefined_aliases(composer: Any) -> None:
    """Make `*name` without an anchor a marked placeholder node instead of an error (the
    composer's own recursion goes through the instance attribute set here)."""
    compose_node = composer.compose_node

    def compose_or_mark(parent: Any, index: Any) -> Any:
        if composer.parser.check_event(AliasEvent):
            event = composer.parser.peek_event()
            if event.anchor not in composer.anchors:
                composer.parser.get_event()
                return ScalarNode(UNDEFINED_ALIAS_TAG, event.anchor, event.start_mark,
                                  event.end_mark)
        return compose_node(parent, index)

    composer.compose_node = compose_or_mark


def _doc_info(yaml: YAML) -> Any:
    from ruamel.yaml.docinfo import DocInfo, version

    return DocInfo(requested_version=version(yaml.version))

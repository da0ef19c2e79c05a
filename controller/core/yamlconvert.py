"""Composed YAML nodes -> YMap/YList/scalars, with every problem of the values said.

Owns: YAML 1.2 scalars (numbers, booleans, null; other standard tags kept as text), the
limit on nodes after alias expansion ("billion laughs") and on depth, recursive aliases,
merge keys (`<<`, and the evident sense of `<<: *a_list`), duplicate keys (the last wins,
reported), non-plain keys, explicit tags (never executed: reported and dropped), and the
`UndefinedAlias` a lenient compose marks. No constructor ever runs. Pure.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from controller.core import model
from controller.core.yamlcompose import node_pos
from controller.core.yamldata import (
    UNDEFINED_ALIAS_TAG,
    Pos,
    Rejected,
    UndefinedAlias,
    YList,
    YMap,
    problem_at,
)
from controller.core.yamlguards import MAX_DEPTH

MAX_NODES = 100_000  # after alias expansion: stops "billion laughs"

_STD = "tag:yaml.org,2002:"
_TRUE = {"true", "yes", "on", "y"}


def to_data(path: str, root: Node, problems: list[model.Problem]) -> Any:
    """The plain data of `root`; what is wrong in it goes to `problems` (at file:line:col).
    Raises `Rejected` when a limit trips or an alias contains itself."""
    return _Converter(path, problems).convert(root, 0)


class _Converter:
    """Nodes -> YMap/YList/scalars, counting every node an alias expands to."""

    def __init__(self, path: str, problems: list[model.Problem]) -> None:
        self.path = path
        self.problems = problems
        self.count = 0
        self.active: set[int] = set()

    def warn(self, pos: Pos, message: str, severity: model.Severity = "warning") -> None:
        problem = problem_at(self.path, pos, message, severity)
        if problem not in self.problems:  # an alias repeats its node's problems
            self.problems.append(problem)

    def convert(self, node: Node, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise Rejected(f"more than {MAX_NODES} YAML nodes after expanding aliases",
                           node_pos(node))
        if depth > MAX_DEPTH:
            raise Rejected(f"YAML nested deeper than {MAX_DEPTH} levels", node_pos(node))
        if isinstance(node, ScalarNode) and str(node.tag) == UNDEFINED_ALIAS_TAG:
            self.warn(node_pos(node), f"undefined alias '{node.value}' (no file anchors "
                      f"&{node.value})", "error")
            return UndefinedAlias(str(node.value), node_pos(node))
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if id(node) in self.active:
            raise Rejected("an alias refers to a node that contains it (recursive)",
                           node_pos(node))
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
        self.warn(node_pos(node), f"YAML tag '{shown}' is not supported; value ignored", "error")
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
        out = YList(node_pos(node))
        for item in node.value:
            out.append(self.convert(item, depth + 1))
            out.item_pos.append(node_pos(item))
        return out

    def mapping(self, node: MappingNode, depth: int) -> Any:
        out = YMap(node_pos(node))
        merges: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if str(key_node.tag) == _STD + "merge":
                merges.append((key_node, value_node))
                continue
            key = self.key(key_node)
            if key in out:
                self.duplicate(out, key, node_pos(key_node))
            out[key] = self.convert(value_node, depth + 1)
            out.key_pos[key] = node_pos(key_node)
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
        self.warn(node_pos(node), "a mapping key that is not a plain value; used as text")
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
        pos = node_pos(key_node)
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

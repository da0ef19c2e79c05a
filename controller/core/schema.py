"""The JSON Schema (draft 2020-12) of workflow files, generated from `vocabulary`.

Owns: turning the table of known keys into `$defs` (one per shape), with descriptions,
enums, and `additionalProperties: false` where the model is closed. Jobs and resource
definitions are chosen by `type` with if/then, so each job type and resource type gets its
own closed set of keys. Pure: returns a dict; `gitline schema` prints it.
"""

from __future__ import annotations

from typing import Any

from controller.core import vocabulary
from controller.core.vocabulary import Key, Shape

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_JSON_TYPES = {"string", "integer", "number", "boolean", "array", "object"}


def build_schema() -> dict[str, Any]:
    """The whole schema: top-level sections, then one definition per shape."""
    defs = {_ref_name(s.name): _shape_schema(s) for s in vocabulary.SHAPES.values()}
    defs["step"] = _step_schema()
    defs["jobEntry"] = _by_type("job", vocabulary.JOB_TYPES, lambda t: f"{t} job")
    defs["resourceEntry"] = _resource_entry()
    defs["triggerEntry"] = {
        "if": {"not": {"required": ["type"]}},
        "then": _shape_schema(vocabulary.SHAPES["resource"], optional=("type",)),
        "else": {"$ref": "#/$defs/resourceEntry"},
    }
    sections = {
        "resources": _list_of("resourceEntry", "Resources: what jobs read and write."),
        "jobs": _list_of("jobEntry", "Jobs: what runs, with its inputs and outputs."),
        "triggers": _list_of("triggerEntry", "Old syntax: trigger resources (type: trigger "
                             "when left out)."),
        **{k: {"description": f"'{k}': {vocabulary.CI_WHY}; not validated."}
           for k in vocabulary.CI_KEYS},
    }
    return {
        "$schema": DIALECT,
        "title": "Gitline workflow (Shippable Assembly Lines)",
        "description": "shippable.yml, *shippable.yml, shippable.{resources,jobs,triggers,"
                       "templates}.yml. Other top-level keys may hold YAML anchors "
                       "(templates), so the top level is open.",
        "type": "object",
        # A JFrog Pipelines file (pipelines: without jobs:) is not loaded: not checked.
        "if": {"required": ["pipelines"], "not": {"required": ["jobs"]}},
        "then": {"description": "JFrog Pipelines format: not an Assembly Line"},
        "else": {"properties": sections},
        "$defs": defs,
    }


def _ref_name(shape: str) -> str:
    """'IN step' -> 'IN_step': $defs names that read well in a JSON pointer."""
    return shape.replace(" ", "_")


def _ref(shape: str) -> dict[str, Any]:
    return {"$ref": f"#/$defs/{_ref_name(shape)}"}


def _list_of(entry: str, about: str) -> dict[str, Any]:
    return {"description": about, "type": ["array", "null"], "items": {"$ref": f"#/$defs/{entry}"}}


def _shape_schema(shape: Shape, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "object",
        "description": shape.about,
        "properties": {k.name: _key_schema(k) for k in shape.keys},
    }
    required = [k.name for k in shape.keys if k.required and k.name not in optional]
    if required:
        out["required"] = required
    if shape.closed:
        out["additionalProperties"] = False
    return out


def _key_schema(key: Key) -> dict[str, Any]:
    about = key.about
    if key.not_applied:
        about += f" Not applied by Gitline: {key.not_applied}."
    if key.alias_of:
        about += f" Accepted; write '{key.alias_of}'."
    out: dict[str, Any] = {"description": about}
    if key.enum:
        out["enum"] = list(key.enum)
        return out
    choices = [_type_schema(t, key) for t in key.types]
    out.update(choices[0] if len(choices) == 1 else {"anyOf": choices})
    if key.alias_of:
        out["deprecated"] = True
    return out


def _type_schema(kind: str, key: Key) -> dict[str, Any]:
    if kind == "object" and key.shape:
        if key.shape == "step":
            return {"$ref": "#/$defs/step"}
        return _ref(key.shape)
    if kind == "array":
        items = [_item_schema(t, key) for t in key.items] if key.items else [{}]
        return {"type": "array", "items": items[0] if len(items) == 1 else {"anyOf": items}}
    return _item_schema(kind, key)


def _item_schema(kind: str, key: Key) -> dict[str, Any]:
    if kind == vocabulary.SCALAR:
        return {"type": ["string", "number", "boolean", "null"]}
    if kind == vocabulary.ANY or kind not in _JSON_TYPES:
        return {}
    if kind == "object" and key.shape:
        return _type_schema("object", key)
    return {"type": kind}


def _step_schema() -> dict[str, Any]:
    """A step is an IN, GET, OUT or TASK step (each closed); which one is by its key."""
    kinds = ("IN", "GET", "OUT", "TASK")
    return {
        "description": "One step: IN (input), OUT (output) or TASK (the work).",
        "type": "object",
        "anyOf": [_ref(f"{k} step") for k in kinds],
    }


def _by_type(what: str, types: tuple[str, ...], shape_of: Any) -> dict[str, Any]:
    """An object whose keys depend on its `type`: one if/then per known type."""
    return {
        "type": "object",
        "required": ["name", "type"],
        "properties": {"type": {"type": "string"}},
        "allOf": [
            {"if": {"properties": {"type": {"const": t}}, "required": ["type"]},
             "then": _ref(shape_of(t))}
            for t in types
        ] + [{"if": {"properties": {"type": {"not": {"enum": list(types)}}}},
              "then": _ref(what)}],
    }


def _resource_entry() -> dict[str, Any]:
    """A resource: its keys are common to all types; its definition depends on the type."""
    typed = [t for t in vocabulary.RESOURCE_TYPES
             if vocabulary.definition_shape(t).name != "definition"]
    per_type = [
        {"if": {"properties": {"type": {"const": t}}, "required": ["type"]},
         "then": {"properties": {p: _ref(vocabulary.definition_shape(t).name)
                                 for p in vocabulary.DEFINITION_PARTS}}}
        for t in typed
    ]
    return {"allOf": [_ref("resource"), *per_type]}

"""RunSpec and Outcome as JSON text, for a broker: the Celery executor's wire format.

A broker is not a trusted channel for code, so nothing here is pickle: a spec is plain
JSON, decoded into the dataclasses of `core/runspec.py` and `core/model.py` by their type
hints. Typed fields come back as what they were declared (tuples, frozensets, nested
dataclasses, `bytes` from base64); values typed `Any` (a resource's definition, version
values) keep what JSON cannot say through one-key tags: `{"$bytes": b64}`, `{"$tuple": [...]}`,
`{"$set": [...]}`, `{"$date": iso}`, `{"$datetime": iso}`, `{"$map": [[key, value], ...]}`
(a mapping with a key that is not a string, or one that looks like a tag).

Decoding ignores fields it does not know and leaves fields it is not given at their
defaults, so a controller and a worker one version apart still understand each other.
Pure: no I/O.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import types
import typing
from functools import cache
from typing import Any, TypeVar

from controller.core.runspec import Outcome, RunSpec

FORMAT = 1
TAGS = frozenset({"$bytes", "$tuple", "$set", "$date", "$datetime", "$map"})
_T = TypeVar("_T")


class CodecError(ValueError):
    """The text is not a serialized spec or outcome of a format this code reads."""


def spec_to_json(spec: RunSpec) -> str:
    return _dump("RunSpec", spec)


def spec_from_json(text: str | bytes) -> RunSpec:
    return _load("RunSpec", RunSpec, text)


def outcome_to_json(outcome: Outcome) -> str:
    return _dump("Outcome", outcome)


def outcome_from_json(text: str | bytes) -> Outcome:
    return _load("Outcome", Outcome, text)


def _dump(kind: str, value: Any) -> str:
    data = {"gitline": kind, "format": FORMAT, "data": encode(type(value), value)}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _load(kind: str, cls: type[_T], text: str | bytes) -> _T:
    try:
        data = json.loads(text)
    except ValueError as err:
        raise CodecError(f"not JSON: {err}") from err
    if not isinstance(data, dict) or data.get("gitline") != kind:
        raise CodecError(f"not a serialized {kind}")
    if data.get("format") != FORMAT:
        raise CodecError(f"{kind} format {data.get('format')!r}; this version reads {FORMAT}")
    try:
        value = decode(cls, data["data"])
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise CodecError(f"bad {kind}: {type(err).__name__}: {err}") from err
    if not isinstance(value, cls):
        raise CodecError(f"bad {kind}: decoded a {type(value).__name__}")
    return value


# --- by type hint ----------------------------------------------------------------------


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _parts(hint: Any) -> tuple[Any, tuple[Any, ...]]:
    return typing.get_origin(hint), typing.get_args(hint)


def _optional(args: tuple[Any, ...]) -> Any:
    rest = [a for a in args if a is not type(None)]
    if len(rest) != 1:
        raise TypeError(f"unsupported union {args}")
    return rest[0]


def encode(hint: Any, value: Any) -> Any:
    """`value`, declared as `hint`, as JSON-ready data."""
    origin, args = _parts(hint)
    if value is None:
        return None
    if hint is Any:
        return encode_any(value)
    if origin in (typing.Union, types.UnionType):
        return encode(_optional(args), value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        hints = _hints(hint)
        return {f.name: encode(hints[f.name], getattr(value, f.name))
                for f in dataclasses.fields(hint)}
    if hint is bytes:
        return base64.b64encode(value).decode("ascii")
    if origin is typing.Literal or hint in (str, int, float, bool):
        return value
    if origin in (tuple, frozenset, set, list):
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return [encode(a, v) for a, v in zip(args, value, strict=True)]
        item = args[0] if args else Any
        items = sorted(value, key=repr) if origin in (frozenset, set) else value
        return [encode(item, v) for v in items]
    if origin is dict and args[1] is Any:
        return encode_any(value)  # YAML data: keys need not be strings
    if origin is dict:
        return {k: encode(args[1], v) for k, v in value.items()}
    raise TypeError(f"cannot encode {hint!r}")


def decode(hint: Any, data: Any) -> Any:
    """Data from `encode(hint, ...)` as the value it was."""
    origin, args = _parts(hint)
    if data is None:
        return None
    if hint is Any:
        return decode_any(data)
    if origin in (typing.Union, types.UnionType):
        return decode(_optional(args), data)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(data, dict):
            raise TypeError(f"{hint.__name__}: expected an object")
        hints = _hints(hint)
        known = {f.name for f in dataclasses.fields(hint)}
        return hint(**{k: decode(hints[k], v) for k, v in data.items() if k in known})
    if hint is bytes:
        return base64.b64decode(data, validate=True)
    if hint is float:
        return float(data)
    if origin is typing.Literal or hint in (str, int, bool):
        return data
    if origin in (tuple, frozenset, set, list):
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return tuple(decode(a, v) for a, v in zip(args, data, strict=True))
        item = args[0] if args else Any
        return origin(decode(item, v) for v in data)
    if origin is dict and args[1] is Any:
        return decode_any(data)
    if origin is dict:
        return {k: decode(args[1], v) for k, v in data.items()}
    raise TypeError(f"cannot decode {hint!r}")


# --- `Any`: tagged ---------------------------------------------------------------------


def encode_any(value: Any) -> Any:
    """An untyped value (YAML data, version values) as JSON data, with tags where needed."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, tuple):
        return {"$tuple": [encode_any(v) for v in value]}
    if isinstance(value, set | frozenset):
        return {"$set": [encode_any(v) for v in sorted(value, key=repr)]}
    if isinstance(value, list):
        return [encode_any(v) for v in value]
    if isinstance(value, dict):
        plain = all(isinstance(k, str) for k in value) and not (
            len(value) == 1 and next(iter(value)) in TAGS)
        if plain:
            return {k: encode_any(v) for k, v in value.items()}
        return {"$map": [[encode_any(k), encode_any(v)] for k, v in value.items()]}
    raise TypeError(f"cannot encode a {type(value).__name__} value")


def decode_any(data: Any) -> Any:
    if isinstance(data, list):
        return [decode_any(v) for v in data]
    if not isinstance(data, dict):
        return data
    if len(data) == 1:
        tag, inner = next(iter(data.items()))
        if tag == "$bytes":
            return base64.b64decode(inner, validate=True)
        if tag == "$datetime":
            return dt.datetime.fromisoformat(inner)
        if tag == "$date":
            return dt.date.fromisoformat(inner)
        if tag == "$tuple":
            return tuple(decode_any(v) for v in inner)
        if tag == "$set":
            return frozenset(_hashable(decode_any(v)) for v in inner)
        if tag == "$map":
            return {_hashable(decode_any(k)): decode_any(v) for k, v in inner}
    return {k: decode_any(v) for k, v in data.items()}


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value

"""Check a registry document against the packaged JSON Schema (``registry.schema.json``).

The project has no JSON Schema dependency, so this implements the small subset of draft
2020-12 that the packaged schema uses: ``type``, ``const``, ``enum``, ``required``,
``properties``, ``additionalProperties``, ``items``, ``minimum``, ``minLength``, ``maxLength``,
``pattern``, ``anyOf``, ``not`` and local ``$ref`` (``#/$defs/...``). Other keywords are
ignored, so the check never rejects more than a full validator would. Used by
``RegistryStore.verify``; the ordinary load path relies on ``RegistryDoc.from_dict``
instead (faster, same guarantees for what the code reads).
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

SCHEMA_RESOURCE = "registry.schema.json"

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


@cache
def registry_schema() -> dict[str, Any]:
    """The packaged JSON Schema of the registry file (parsed once).

    Returns:
        The schema as a dict.
    """
    text = resources.files("registry").joinpath("schema", SCHEMA_RESOURCE).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _is_type(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    return isinstance(value, _TYPES.get(name, (object,)))


class _Checker:
    def __init__(self, root: dict[str, Any], limit: int) -> None:
        self.root = root
        self.limit = limit
        self.problems: list[str] = []

    def resolve(self, ref: str) -> dict[str, Any]:
        node: Any = self.root
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        result: dict[str, Any] = node
        return result

    def ok(self, value: Any, schema: dict[str, Any]) -> bool:
        probe = _Checker(self.root, 1)
        probe.check(value, schema, "")
        return not probe.problems

    def add(self, where: str, message: str) -> None:
        if len(self.problems) < self.limit:
            self.problems.append(f"{where or '(document)'}: {message}")

    def check(self, value: Any, schema: dict[str, Any], where: str) -> None:
        if "$ref" in schema:
            self.check(value, self.resolve(schema["$ref"]), where)
        if "const" in schema and value != schema["const"]:
            self.add(where, f"must be {schema['const']!r}, not {value!r}")
        if "enum" in schema and value not in schema["enum"]:
            self.add(where, f"{value!r} is not one of {schema['enum']!r}")
        if "anyOf" in schema and not any(self.ok(value, s) for s in schema["anyOf"]):
            self.add(where, f"{value!r} matches none of the allowed forms")
        if "not" in schema and self.ok(value, schema["not"]):
            self.add(where, f"{value!r} is not allowed")
        kinds = schema.get("type")
        if kinds is not None:
            names = [kinds] if isinstance(kinds, str) else list(kinds)
            if not any(_is_type(value, name) for name in names):
                self.add(where, f"must be of type {' or '.join(names)}, "
                                f"not {type(value).__name__}")
                return
        if isinstance(value, str):
            if len(value) < schema.get("minLength", 0):
                self.add(where, "is too short")
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                self.add(where, f"is longer than {schema['maxLength']} characters")
            if "pattern" in schema and not re.search(schema["pattern"], value):
                self.add(where, f"{value!r} does not match {schema['pattern']!r}")
        if _is_type(value, "number") and "minimum" in schema and value < schema["minimum"]:
            self.add(where, f"{value!r} is below the minimum {schema['minimum']!r}")
        if isinstance(value, dict):
            self.check_object(value, schema, where)
        if isinstance(value, list) and "items" in schema:
            for index, item in enumerate(value):
                self.check(item, schema["items"], f"{where}[{index}]")

    def check_object(self, value: dict[str, Any], schema: dict[str, Any], where: str) -> None:
        prefix = f"{where}." if where else ""
        for key in schema.get("required", ()):
            if key not in value:
                self.add(where, f"missing required field {key!r}")
        props: dict[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                self.check(item, props[key], prefix + key)
            elif extra is False:
                self.add(where, f"unexpected field {key!r}")
            elif isinstance(extra, dict):
                self.check(item, extra, prefix + key)


def check_document(data: Any, *, limit: int = 20) -> list[str]:
    """Problems of a decoded registry JSON value against the packaged schema.

    Args:
        data: the value from ``json.loads``.
        limit: report at most this many problems.

    Returns:
        One line per problem (``models.m1.version: ...``); empty when it conforms.
    """
    schema = registry_schema()
    checker = _Checker(schema, limit)
    checker.check(data, schema, "")
    return checker.problems


__all__ = ["SCHEMA_RESOURCE", "check_document", "registry_schema"]

"""Arguments checked against the tools' own input schemas, so the schema a
client is shown is the one rule. Only the part of JSON Schema the tools use:
type, properties, required, additionalProperties (false), items, enum,
anyOf, minimum/maximum, minLength/maxLength, minItems."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_TYPES: Mapping[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}
_NAMES = {
    "object": "an object",
    "array": "a list",
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
}


class ArgumentError(ValueError):
    """An argument that does not fit the schema; the message names it."""


def check(schema: Mapping[str, Any], value: Any, where: str = "arguments") -> None:
    """Raise ArgumentError for the first place ``value`` breaks ``schema``."""
    if "anyOf" in schema:
        problems = []
        for branch in schema["anyOf"]:
            try:
                check(branch, value, where)
                return
            except ArgumentError as exc:
                problems.append(str(exc))
        raise ArgumentError(problems[-1] if len(problems) == 1 else " or ".join(problems))
    kind = schema.get("type")
    if kind is not None:
        wanted = _TYPES[kind]
        # bool is an int in Python, never in JSON
        if not isinstance(value, wanted) or (isinstance(value, bool) and kind != "boolean"):
            raise ArgumentError(f"'{where}' must be {_NAMES[kind]}")
    if "enum" in schema and value not in schema["enum"]:
        raise ArgumentError(f"'{where}' must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            raise ArgumentError(f"'{where}' must not be empty")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise ArgumentError(f"'{where}' is longer than {schema['maxLength']} characters")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise ArgumentError(f"'{where}' must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise ArgumentError(f"'{where}' must be at most {schema['maximum']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            raise ArgumentError(f"'{where}' needs at least {schema['minItems']} item(s)")
        items = schema.get("items")
        if items is not None:
            for i, item in enumerate(value):
                check(items, item, f"{where}[{i}]")
    if isinstance(value, dict):
        _check_object(schema, value, where)


def _check_object(schema: Mapping[str, Any], value: dict[str, Any], where: str) -> None:
    properties: Mapping[str, Any] = schema.get("properties", {})
    inside = "" if where == "arguments" else f"{where}."
    for name in schema.get("required", ()):
        if name not in value:
            raise ArgumentError(f"'{inside}{name}' is required")
    if schema.get("additionalProperties") is False:
        unknown = sorted(set(value) - set(properties))
        if unknown:
            known = ", ".join(sorted(properties)) or "none"
            raise ArgumentError(f"unknown argument '{inside}{unknown[0]}'; known: {known}")
    for name, item in value.items():
        if name in properties:
            check(properties[name], item, f"{inside}{name}")

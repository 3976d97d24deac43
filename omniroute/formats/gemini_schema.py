"""JSON Schemas made fit for Gemini, which accepts an OpenAPI 3.0 subset in
function declarations and ``responseSchema`` (ai.google.dev/api/caching#Schema)."""

from __future__ import annotations

from typing import Any

# Gemini's function-declaration ``parameters`` and ``responseSchema`` accept an
# OpenAPI 3.0 subset, not full JSON Schema (ai.google.dev/api/caching#Schema).
# Everything outside this list is dropped: $schema, $id, $ref/$defs/definitions
# (refs are inlined first), additionalProperties, patternProperties, examples,
# example, default, title, const (becomes a one-value enum), oneOf (becomes
# anyOf), allOf (merged), not, if/then/else, dependencies, unevaluated*, $comment.
_GEMINI_SCHEMA_KEYS = frozenset(
    {
        "type", "format", "description", "nullable", "enum", "items", "properties",
        "required", "anyOf", "minItems", "maxItems", "minimum", "maximum", "minLength",
        "maxLength", "pattern", "minProperties", "maxProperties", "propertyOrdering",
    }
)  # fmt: skip
# Gemini rejects other "format" values ("only 'enum' and 'date-time' are
# supported for STRING type").
_GEMINI_FORMATS = frozenset({"enum", "date-time", "int32", "int64", "float", "double"})
_MAX_REF_DEPTH = 8  # recursive schemas are cut here (replaced by a bare object)


def clean_gemini_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema reduced to what Gemini accepts (see the list above).

    Type lists such as ``["string", "null"]`` become ``type`` + ``nullable``;
    ``required`` keeps only names present in ``properties``; enums are kept
    only when all values are strings (Gemini enums are string-only).
    """
    defs: dict[str, Any] = {}
    for key in ("$defs", "definitions"):
        found = schema.get(key)
        if isinstance(found, dict):
            defs.update({f"#/{key}/{name}": sub for name, sub in found.items()})
    return _clean_node(schema, defs, 0)


def _clean_node(node: Any, defs: dict[str, Any], depth: int) -> dict[str, Any]:
    if not isinstance(node, dict):
        return {}
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = defs.get(ref)
        if target is None or depth >= _MAX_REF_DEPTH:
            return {"type": "object"}
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _clean_node(merged, defs, depth + 1)
    node = _merge_all_of(node)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "oneOf":
            key = "anyOf"
        if key == "const":
            key, value = "enum", [value]
        if key not in _GEMINI_SCHEMA_KEYS:
            continue
        out[key] = _clean_value(key, value, defs, depth)
    _fix_types(out)
    if not isinstance(out.get("enum"), list) or not all(isinstance(v, str) for v in out["enum"]):
        out.pop("enum", None)
    elif "type" not in out:
        out["type"] = "string"
    if out.get("format") not in _GEMINI_FORMATS:
        out.pop("format", None)
    if out.get("properties") == {}:
        del out["properties"]
    props = out.get("properties", {})
    if "required" in out:
        names = out["required"] if isinstance(out["required"], list) else []
        out["required"] = [n for n in names if n in props]
        if not out["required"]:
            del out["required"]
    return out


def _clean_value(key: str, value: Any, defs: dict[str, Any], depth: int) -> Any:
    if key == "properties" and isinstance(value, dict):
        return {name: _clean_node(sub, defs, depth) for name, sub in value.items()}
    if key == "items":
        return _clean_node(value, defs, depth)
    if key == "anyOf" and isinstance(value, list):
        return [_clean_node(sub, defs, depth) for sub in value]
    return value


def _merge_all_of(node: dict[str, Any]) -> dict[str, Any]:
    subs = node.get("allOf")
    if not isinstance(subs, list):
        return node
    merged: dict[str, Any] = {k: v for k, v in node.items() if k != "allOf"}
    for sub in subs:
        if not isinstance(sub, dict):
            continue
        for key, value in sub.items():
            if key == "properties" and isinstance(value, dict):
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required" and isinstance(value, list):
                merged["required"] = [*merged.get("required", []), *value]
            else:
                merged.setdefault(key, value)
    return merged


def _fix_types(out: dict[str, Any]) -> None:
    """``type: [t, "null"]`` -> ``type: t, nullable: true``; an anyOf with a
    ``{"type": "null"}`` branch loses it and becomes nullable."""
    types = out.get("type")
    if isinstance(types, list):
        rest = [t for t in types if t != "null"]
        if len(rest) < len(types):
            out["nullable"] = True
        if len(rest) == 1:
            out["type"] = rest[0]
        elif rest:
            del out["type"]
            out["anyOf"] = [{"type": t} for t in rest]
        else:
            out["type"] = "string"  # Gemini has no null-only type
    branches = out.get("anyOf")
    if isinstance(branches, list):
        kept = [b for b in branches if b != {"type": "null"}]
        if len(kept) < len(branches):
            out["nullable"] = True
        if len(kept) == 1 and not (set(kept[0]) & set(out)):
            del out["anyOf"]
            out.update(kept[0])
        elif kept:
            out["anyOf"] = kept
        else:
            del out["anyOf"]

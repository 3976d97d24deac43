"""Request bodies every API reads: one JSON object, refused with a 400 that
says what is wrong."""

from __future__ import annotations

import json
from typing import Any

from omniroute.errors import BadRequest
from omniroute.http.message import Request


def read_json(request: Request) -> dict[str, Any]:
    if not request.body:
        raise BadRequest("The request body is empty; a JSON object is required.")
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


def field(
    body: dict[str, Any], name: str, kind: type | tuple[type, ...], *, required: bool = True
) -> Any:
    """``body[name]``, checked to be of ``kind``; the error names the field."""
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequest(f"'{name}' is required.")
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
        raise BadRequest(f"'{name}' must be {_describe(kind)}.")
    return value


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _describe(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
             list: "a list", dict: "an object"}  # fmt: skip
    return " or ".join(names.get(k, k.__name__) for k in _kinds(kind))

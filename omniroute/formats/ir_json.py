"""A whole ``ir.Response`` as plain JSON and back (what the response cache
keeps), and the canonical form of an ``ir.Request`` that two requests share
exactly when they ask the same question, whatever wire format they came in.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from omniroute.formats import ir
from omniroute.formats.common import dump_json

# Vendor fields that change nothing in the answer itself: storage and
# tracking options, and a conversation id whose history is already in the
# messages.
_NEUTRAL_VENDOR = frozenset(
    {
        "store",
        "previous_response_id",
        "prompt_cache_key",
        "prompt_cache_retention",
        "service_tier",
        "safety_identifier",
        "metadata",
        "user",
        "include",
        "truncation",
        "background",
        "stream_options",
    }
)
# Fields that ask for more in the answer than the IR keeps (log
# probabilities): such requests are never served from a stored answer.
UNKEEPABLE_VENDOR = frozenset({"logprobs", "top_logprobs"})


def response_to_json(resp: ir.Response) -> str:
    return dump_json(
        {
            "model": resp.model,
            "parts": [dataclasses.asdict(p) for p in resp.parts],
            "stop_reason": resp.stop_reason,
            "stop_sequence": resp.stop_sequence,
            "usage": dataclasses.asdict(resp.usage),
        }
    )


def response_from_json(obj: dict[str, Any]) -> ir.Response:
    """The answer ``response_to_json`` wrote (its id and time left empty)."""
    parts: list[ir.TextPart | ir.ThinkingPart | ir.ToolCallPart] = []
    for raw in obj.get("parts", []):
        kind = raw.get("type")
        if kind == "tool_call":
            parts.append(
                ir.ToolCallPart(
                    id=str(raw["id"]),
                    name=str(raw["name"]),
                    arguments=str(raw.get("arguments", "{}")),
                    signature=raw.get("signature"),
                )
            )
        elif kind == "thinking":
            parts.append(
                ir.ThinkingPart(
                    text=str(raw.get("text", "")),
                    signature=raw.get("signature"),
                    redacted=bool(raw.get("redacted", False)),
                    id=raw.get("id"),
                )
            )
        else:
            parts.append(ir.TextPart(str(raw.get("text", ""))))
    given = obj.get("usage") or {}
    usage = {f.name: given[f.name] for f in dataclasses.fields(ir.Usage) if f.name in given}
    return ir.Response(
        id="",
        model=str(obj.get("model", "")),
        parts=parts,
        stop_reason=obj.get("stop_reason", "end_turn"),
        stop_sequence=obj.get("stop_sequence"),
        usage=ir.Usage(**usage),
    )


def canonical_request(req: ir.Request, model: str) -> dict[str, Any]:
    """What decides the answer: the model as the client named it, the
    messages, system text, tools and the settings that change the output.
    Prompt-cache marks, streaming, usage reporting and tracking fields are
    left out; numbers that may come as 0 or 0.0 are made one kind."""
    form = dataclasses.asdict(req)
    for name in ("stream", "include_usage", "user", "metadata", "vendor", "model"):
        form.pop(name)
    for name in ("temperature", "top_p"):
        if form[name] is not None:
            form[name] = float(form[name])
    _drop_marks(form)
    vendor: dict[str, Any] = {}
    for fmt, fields in req.vendor.items():
        kept = _answer_fields(fields)
        if kept:
            vendor[fmt] = kept
    return {"model": model, "request": form, "vendor": vendor}


def asks_unkeepable(req: ir.Request) -> bool:
    """The request asks for parts of an answer the cache cannot keep."""
    for fields in req.vendor.values():
        extra = fields.get("extra")
        for group in (fields, extra if isinstance(extra, dict) else {}):
            if any(group.get(name) for name in UNKEEPABLE_VENDOR):
                return True
    return False


def _answer_fields(fields: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for name, value in fields.items():
        if name in _NEUTRAL_VENDOR:
            continue
        if name == "extra" and isinstance(value, dict):
            value = _answer_fields(value)
            if not value:
                continue
        kept[name] = value
    return kept


def _drop_marks(form: dict[str, Any]) -> None:
    """Prompt-cache marks (``cache_control``) change the cost, not the
    answer. Only the IR's own parts and tools carry them (a tool's schema
    may have a property of that name, which stays)."""
    parts: list[dict[str, Any]] = list(form["system"]) + list(form["tools"])
    for message in form["messages"]:
        for part in message["parts"]:
            parts.append(part)
            if part.get("type") == "tool_result":
                parts += part["content"]
    for part in parts:
        part.pop("cache", None)

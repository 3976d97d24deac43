"""Anthropic Messages answers and errors: ``message`` objects, usage, stop
reasons, error bodies."""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any

from omniroute import errors
from omniroute.formats import ir
from omniroute.formats.anthropic_request import NAME, content_part
from omniroute.formats.common import (
    dump_json,
    error_fields,
    new_id,
    parse_json_object,
    safe_error_text,
    tokens_for_chars,
)
from omniroute.formats.sse import encode_sse

STOP_FROM_WIRE: MappingProxyType[str, ir.StopReason] = MappingProxyType(
    {
        "end_turn": "end_turn",
        "max_tokens": "max_tokens",
        "model_context_window_exceeded": "max_tokens",
        "tool_use": "tool_use",
        "stop_sequence": "stop_sequence",
        "refusal": "content_filter",
        "pause_turn": "end_turn",
    }
)
STOP_TO_WIRE: MappingProxyType[str, str] = MappingProxyType(
    {
        "end_turn": "end_turn",
        "max_tokens": "max_tokens",
        "tool_use": "tool_use",
        "stop_sequence": "stop_sequence",
        "content_filter": "refusal",
        "error": "end_turn",
    }
)
_KIND_TO_TYPE: MappingProxyType[str, str] = MappingProxyType(
    {
        "invalid_request": "invalid_request_error",
        "authentication": "authentication_error",
        "permission": "permission_error",
        "not_found": "not_found_error",
        "request_too_large": "request_too_large",
        "rate_limit": "rate_limit_error",
        "api_error": "api_error",
        "overloaded": "overloaded_error",
        "timeout": "timeout_error",
    }
)
_TYPE_TO_KIND: MappingProxyType[str, str] = MappingProxyType(
    {v: k for k, v in _KIND_TO_TYPE.items()} | {"billing_error": "permission"}
)

# ---------------------------------------------------------------- responses


def parse_usage(raw: Any) -> ir.Usage | None:
    """Anthropic usage -> IR. Anthropic's input_tokens exclude the cached and
    cache-written tokens; the IR counts all prompt tokens."""
    if not isinstance(raw, dict):
        return None
    read = int(raw.get("cache_read_input_tokens") or 0)
    written = int(raw.get("cache_creation_input_tokens") or 0)
    return ir.Usage(
        input_tokens=int(raw.get("input_tokens") or 0) + read + written,
        output_tokens=int(raw.get("output_tokens") or 0),
        cached_input_tokens=read,
        cache_creation_tokens=written,
    )


def render_usage(usage: ir.Usage) -> dict[str, int]:
    fresh = usage.input_tokens - usage.cached_input_tokens - usage.cache_creation_tokens
    return {
        "input_tokens": max(0, fresh),
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_creation_tokens,
        "cache_read_input_tokens": usage.cached_input_tokens,
    }


def parse_response(body: dict[str, Any]) -> ir.Response:
    parts: list[ir.TextPart | ir.ThinkingPart | ir.ToolCallPart] = []
    skipped: list[Any] = []
    for block in body.get("content") or []:
        try:
            part = content_part(block, "content", {}) if isinstance(block, dict) else None
        except errors.BadRequest:  # a malformed block from upstream: kept aside, not fatal
            part = None
        if isinstance(part, ir.TextPart | ir.ThinkingPart | ir.ToolCallPart):
            parts.append(part)
        else:
            skipped.append(block)
    wire_stop = body.get("stop_reason")
    stop = STOP_FROM_WIRE.get(wire_stop, "end_turn") if isinstance(wire_stop, str) else "end_turn"
    usage = parse_usage(body.get("usage"))
    if usage is None:
        chars = sum(len(getattr(p, "text", "") or getattr(p, "arguments", "")) for p in parts)
        usage = ir.Usage(output_tokens=tokens_for_chars(chars), estimated=True)
    resp = ir.Response(
        id=str(body.get("id") or new_id("msg_")),
        model=str(body.get("model") or ""),
        parts=parts,
        stop_reason=stop,
        stop_sequence=body.get("stop_sequence"),
        usage=usage,
    )
    vendor = {"stop_reason": wire_stop} if wire_stop == "pause_turn" else {}
    if skipped:
        vendor["blocks"] = skipped
    if vendor:
        resp.vendor[NAME] = vendor
    return resp


def msg_id(raw: str | None) -> str:
    if not raw:
        return new_id("msg_")
    return raw if raw.startswith("msg_") else "msg_" + raw


def _render_response_part(part: ir.TextPart | ir.ThinkingPart | ir.ToolCallPart) -> dict[str, Any]:
    if isinstance(part, ir.ThinkingPart):
        if part.redacted:
            return {"type": "redacted_thinking", "data": part.signature or ""}
        return {"type": "thinking", "thinking": part.text, "signature": part.signature or ""}
    if isinstance(part, ir.ToolCallPart):
        return {
            "type": "tool_use",
            "id": part.id,
            "name": part.name,
            "input": parse_json_object(part.arguments),
        }
    return {"type": "text", "text": part.text}


def render_response(resp: ir.Response) -> dict[str, Any]:
    stop = resp.vendor.get(NAME, {}).get("stop_reason") or STOP_TO_WIRE[resp.stop_reason]
    return {
        "id": msg_id(resp.id),
        "type": "message",
        "role": "assistant",
        "model": resp.model,
        "content": [_render_response_part(p) for p in resp.parts],
        "stop_reason": stop,
        "stop_sequence": resp.stop_sequence,
        "usage": render_usage(resp.usage),
    }


# ------------------------------------------------------------------- errors


def render_error(err: ir.ErrorInfo) -> dict[str, Any]:
    etype = _KIND_TO_TYPE.get(err.kind, "api_error")
    return {"type": "error", "error": {"type": etype, "message": err.message}}


def error_event(err: ir.ErrorInfo) -> bytes:
    return encode_sse(dump_json(render_error(err)), event="error")


def kind_of(etype: str | None) -> str:
    return _TYPE_TO_KIND.get(etype or "", "api_error")


def parse_error(status: int, body: bytes) -> ir.ErrorInfo:
    text = body.decode("utf-8", "replace")
    try:
        obj: Any = json.loads(text)
    except ValueError:
        obj = None
    message, etype, _ = error_fields(obj)
    kind = errors.kind_for_status(status) if status >= 400 else kind_of(etype)
    shown = safe_error_text(message if message is not None else text)
    return ir.ErrorInfo(status=status, kind=kind, message=shown or f"upstream HTTP {status}")

"""Gemini answers, usage, errors and the small endpoints (countTokens, model
list) <-> IR (see ``omniroute.formats.gemini``)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from omniroute import errors
from omniroute.formats import ir
from omniroute.formats.common import (
    dump_json,
    estimate_tokens,
    new_id,
    safe_error_text,
    status_for_kind,
)
from omniroute.formats.gemini_parts import get_field, id_factory, parse_parts, render_parts
from omniroute.formats.sse import encode_sse

_V = "gemini"

# Gemini counts an image as 258 tokens (ai.google.dev/gemini-api/docs/tokens).
_IMAGE_TOKENS = 258

# candidates[].finishReason (ai.google.dev/api/generate-content#FinishReason).
FINISH_TO_STOP: Mapping[str, ir.StopReason] = MappingProxyType(
    {
        "STOP": "end_turn",
        "MAX_TOKENS": "max_tokens",
        "SAFETY": "content_filter",
        "RECITATION": "content_filter",
        "BLOCKLIST": "content_filter",
        "PROHIBITED_CONTENT": "content_filter",
        "SPII": "content_filter",
        "IMAGE_SAFETY": "content_filter",
        "IMAGE_PROHIBITED_CONTENT": "content_filter",
        "IMAGE_RECITATION": "content_filter",
        "MALFORMED_FUNCTION_CALL": "error",
        "UNEXPECTED_TOOL_CALL": "error",
        "TOO_MANY_TOOL_CALLS": "error",
        "MISSING_THOUGHT_SIGNATURE": "error",
        "MALFORMED_RESPONSE": "error",
    }
)
_STOP_TO_FINISH: Mapping[str, str] = MappingProxyType(
    {
        "end_turn": "STOP",
        "tool_use": "STOP",  # Gemini ends a function-calling turn with STOP
        "stop_sequence": "STOP",
        "max_tokens": "MAX_TOKENS",
        "content_filter": "SAFETY",
        "error": "OTHER",
    }
)

# google.rpc.Code names by HTTP status (cloud.google.com/apis/design/errors).
_STATUS_NAMES: Mapping[int, str] = MappingProxyType(
    {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        409: "ABORTED",
        413: "INVALID_ARGUMENT",
        429: "RESOURCE_EXHAUSTED",
        499: "CANCELLED",
        500: "INTERNAL",
        501: "UNIMPLEMENTED",
        502: "UNAVAILABLE",
        503: "UNAVAILABLE",
        504: "DEADLINE_EXCEEDED",
    }
)
_NAME_KINDS: Mapping[str, str] = MappingProxyType(
    {
        "INVALID_ARGUMENT": "invalid_request",
        "FAILED_PRECONDITION": "invalid_request",
        "OUT_OF_RANGE": "invalid_request",
        "UNAUTHENTICATED": "authentication",
        "PERMISSION_DENIED": "permission",
        "NOT_FOUND": "not_found",
        "RESOURCE_EXHAUSTED": "rate_limit",
        "UNAVAILABLE": "overloaded",
        "DEADLINE_EXCEEDED": "timeout",
    }
)


def stop_reason(finish: str | None, saw_call: bool) -> ir.StopReason:
    """IR stop reason for a finishReason; STOP after a functionCall is tool_use."""
    reason = FINISH_TO_STOP.get(finish or "STOP", "end_turn")
    return "tool_use" if reason == "end_turn" and saw_call else reason


def finish_reason(reason: ir.StopReason | None, vendor: dict[str, Any] | None = None) -> str:
    """finishReason for an IR stop reason; the upstream's own value is kept
    when it means the same (RECITATION stays RECITATION)."""
    original = (vendor or {}).get("finish_reason")
    if isinstance(original, str) and FINISH_TO_STOP.get(original) == reason:
        return original
    return _STOP_TO_FINISH.get(reason or "end_turn", "STOP")


# --------------------------------------------------------------------- usage


def parse_usage(meta: Any) -> ir.Usage | None:
    """usageMetadata -> IR. candidatesTokenCount excludes thoughts, IR output
    includes them; tool-use prompt tokens are prompt tokens too."""
    if not isinstance(meta, dict):
        return None

    def count(name: str) -> int:
        value = get_field(meta, name)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    thoughts = count("thoughtsTokenCount")
    return ir.Usage(
        input_tokens=count("promptTokenCount") + count("toolUsePromptTokenCount"),
        output_tokens=count("candidatesTokenCount") + thoughts,
        cached_input_tokens=count("cachedContentTokenCount"),
        reasoning_tokens=thoughts,
    )


def render_usage(usage: ir.Usage) -> dict[str, Any]:
    reasoning = min(usage.reasoning_tokens, usage.output_tokens)
    out: dict[str, Any] = {
        "promptTokenCount": usage.input_tokens,
        "candidatesTokenCount": usage.output_tokens - reasoning,
        "totalTokenCount": usage.input_tokens + usage.output_tokens,
    }
    if reasoning:
        out["thoughtsTokenCount"] = reasoning
    if usage.cached_input_tokens:
        out["cachedContentTokenCount"] = usage.cached_input_tokens
    return out


# ------------------------------------------------------------------ answers


def parse_response(body: dict[str, Any]) -> ir.Response:
    if not isinstance(body, dict):
        raise TypeError("a Gemini answer must be a JSON object")
    resp_id = get_field(body, "responseId")
    resp = ir.Response(
        id=resp_id if isinstance(resp_id, str) and resp_id else new_id("resp_"),
        model=str(get_field(body, "modelVersion") or ""),
    )
    candidates = body.get("candidates")
    candidate = candidates[0] if isinstance(candidates, list) and candidates else {}
    content = candidate.get("content") if isinstance(candidate, dict) else None
    raw_parts = content.get("parts") if isinstance(content, dict) else None
    try:
        parts = parse_parts(raw_parts or [], "candidates[0].content", id_factory("resp", resp.id))
    except errors.BadRequest as exc:  # malformed parts from the upstream, not the client
        raise errors.UpstreamProtocolError(f"Gemini answer: {exc.message}")
    resp.parts = [p for p in parts if not isinstance(p, ir.ImagePart | ir.ToolResultPart)]
    finish = get_field(candidate, "finishReason") if isinstance(candidate, dict) else None
    saw_call = any(isinstance(p, ir.ToolCallPart) for p in resp.parts)
    resp.stop_reason = stop_reason(finish if isinstance(finish, str) else None, saw_call)
    feedback = get_field(body, "promptFeedback")
    if not candidate and isinstance(feedback, dict) and get_field(feedback, "blockReason"):
        resp.stop_reason = "content_filter"  # the prompt itself was blocked
    if isinstance(finish, str):
        resp.vendor[_V] = {"finish_reason": finish}
    usage = parse_usage(get_field(body, "usageMetadata"))
    if usage is not None:
        resp.usage = usage
    return resp


def render_response(resp: ir.Response) -> dict[str, Any]:
    parts = render_parts(list(resp.parts), client=True)  # the answer goes to a Gemini client
    candidate = {
        "content": {"role": "model", "parts": parts},
        "finishReason": finish_reason(resp.stop_reason, resp.vendor.get(_V)),
        "index": 0,
    }
    return {
        "candidates": [candidate],
        "usageMetadata": render_usage(resp.usage),
        "modelVersion": resp.model,
        "responseId": resp.id,
    }


# ------------------------------------------------------------------- errors


def _status_name(status: int, kind: str) -> str:
    if status in _STATUS_NAMES:
        return _STATUS_NAMES[status]
    for name, name_kind in _NAME_KINDS.items():  # the first name of a kind is its usual one
        if name_kind == kind:
            return name
    return "INTERNAL" if status >= 500 else "INVALID_ARGUMENT"


def render_error(err: ir.ErrorInfo) -> dict[str, Any]:
    """google.rpc.Status as the Gemini API sends it."""
    status = _status_name(err.status, err.kind)
    return {"error": {"code": err.status, "message": err.message, "status": status}}


def error_event(err: ir.ErrorInfo) -> bytes:
    """Mid-stream error: one ``data:`` event holding the error body."""
    return encode_sse(dump_json(render_error(err)))


def error_info(error: dict[str, Any], status: int | None = None) -> ir.ErrorInfo:
    """An ``{"error": {...}}`` body's inner object -> ErrorInfo. The HTTP status
    wins; inside a stream the body's own ``code`` is used, else the ``status``
    name decides the kind and the kind the status."""
    code = error.get("code")
    name = error.get("status") if isinstance(error.get("status"), str) else ""
    if status is None and isinstance(code, int) and 400 <= code < 600:
        status = code
    if status is not None:
        kind = errors.kind_for_status(status)
    else:
        kind = _NAME_KINDS.get(str(name), "api_error")
        status = status_for_kind(kind)
    message = error.get("message")
    text = safe_error_text(message) if isinstance(message, str) and message else ""
    return ir.ErrorInfo(status, kind, text or f"Gemini error {name or status}", _retry(error))


def _retry(error: dict[str, Any]) -> float | None:
    """google.rpc.RetryInfo in ``details``: ``{"retryDelay": "23s"}``."""
    details = error.get("details")
    for detail in details if isinstance(details, list) else []:
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        match = re.fullmatch(r"(\d+(?:\.\d+)?)s", delay) if isinstance(delay, str) else None
        if match:
            return float(match.group(1))
    return None


def parse_error(status: int, body: bytes) -> ir.ErrorInfo:
    try:
        data: Any = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, list) and data:
        data = data[0]  # the streaming endpoint without alt=sse answers with an array
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return error_info(data["error"], status)
    text = safe_error_text(body.decode("utf-8", "replace")) if body else ""
    kind = errors.kind_for_status(status)
    return ir.ErrorInfo(status, kind, text or f"Gemini upstream returned HTTP {status}")


# --------------------------------------------------- countTokens, model list


def count_tokens_estimate(req: ir.Request) -> int:
    """Tokens of a request by ``common.estimate_tokens`` (~4 chars/token) over
    its text, tool calls, results and declarations; 258 per image."""
    texts: list[str] = [p.text for p in req.system]
    images = 0
    for msg in req.messages:
        for part in msg.parts:
            if isinstance(part, ir.TextPart | ir.ThinkingPart):
                texts.append(part.text)
            elif isinstance(part, ir.ToolCallPart):
                texts.append(part.name + part.arguments)
            elif isinstance(part, ir.ImagePart):
                images += 1
            else:
                texts.extend(c.text for c in part.content if isinstance(c, ir.TextPart))
                images += sum(isinstance(c, ir.ImagePart) for c in part.content)
    for tool in req.tools:
        texts.append(tool.name + (tool.description or "") + dump_json(tool.parameters))
    return sum(estimate_tokens(t) for t in texts) + images * _IMAGE_TOKENS


def render_count_tokens(n: int) -> dict[str, Any]:
    return {"totalTokens": n}


def model_list_entry(
    name: str,
    *,
    display_name: str | None = None,
    input_token_limit: int = 1_048_576,
    output_token_limit: int = 65_536,
) -> dict[str, Any]:
    """One ``GET /v1beta/models`` entry (ai.google.dev/api/models#Model)."""
    return {
        "name": f"models/{name}",
        "version": "001",
        "displayName": display_name or name,
        "description": f"{display_name or name} via OmniRoute",
        "inputTokenLimit": input_token_limit,
        "outputTokenLimit": output_token_limit,
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
    }

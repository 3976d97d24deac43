"""OpenAI Chat Completions answers and errors: ``chat.completion`` objects,
usage, finish reasons, error bodies."""

from __future__ import annotations

import json
import time
from types import MappingProxyType
from typing import Any

from omniroute import errors
from omniroute.formats import ir
from omniroute.formats.common import (
    dump_json,
    error_fields,
    new_id,
    safe_error_text,
    split_think,
    status_for_kind,
    tokens_for_chars,
)
from omniroute.formats.openai_chat_request import render_tool_call
from omniroute.formats.sse import encode_sse

_FINISH_TO_STOP: MappingProxyType[str, ir.StopReason] = MappingProxyType(
    {
        "stop": "end_turn",
        "length": "max_tokens",
        "tool_calls": "tool_use",
        "function_call": "tool_use",
        "content_filter": "content_filter",
    }
)
STOP_TO_FINISH: MappingProxyType[str, str] = MappingProxyType(
    {
        "end_turn": "stop",
        "max_tokens": "length",
        "tool_use": "tool_calls",
        "stop_sequence": "stop",
        "content_filter": "content_filter",
        "error": "stop",
    }
)
_KIND_TO_TYPE: MappingProxyType[str, str] = MappingProxyType(
    {
        "invalid_request": "invalid_request_error",
        "authentication": "authentication_error",
        "permission": "permission_error",
        "not_found": "not_found_error",
        "request_too_large": "invalid_request_error",
        "rate_limit": "rate_limit_error",
        "overloaded": "server_error",
        "timeout": "server_error",
        "api_error": "server_error",
    }
)
_TYPE_TO_KIND: MappingProxyType[str, str] = MappingProxyType(
    {
        "invalid_request_error": "invalid_request",
        "context_length_exceeded": "invalid_request",
        "authentication_error": "authentication",
        "invalid_api_key": "authentication",
        "permission_error": "permission",
        "not_found_error": "not_found",
        "model_not_found": "not_found",
        "rate_limit_error": "rate_limit",
        "rate_limit_exceeded": "rate_limit",
        "insufficient_quota": "rate_limit",
        "tokens": "rate_limit",
        "requests": "rate_limit",
        "request_too_large": "request_too_large",
        "overloaded": "overloaded",
        "overloaded_error": "overloaded",
        "service_unavailable": "overloaded",
        "timeout": "timeout",
        "server_error": "api_error",
        "api_error": "api_error",
    }
)

# ---------------------------------------------------------------- responses


def parse_usage(raw: Any) -> ir.Usage | None:
    """Chat ``usage`` -> IR (also DeepSeek's ``prompt_cache_hit_tokens``)."""
    if not isinstance(raw, dict):
        return None
    prompt = raw.get("prompt_tokens_details") or {}
    completion = raw.get("completion_tokens_details") or {}
    cached = prompt.get("cached_tokens") or raw.get("prompt_cache_hit_tokens") or 0
    return ir.Usage(
        input_tokens=int(raw.get("prompt_tokens") or 0),
        output_tokens=int(raw.get("completion_tokens") or 0),
        cached_input_tokens=int(cached),
        reasoning_tokens=int(completion.get("reasoning_tokens") or 0),
    )


def render_usage(usage: ir.Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def stop_reason_of(finish: Any, has_calls: bool) -> ir.StopReason:
    # Some compatible servers say "stop" after tool calls; the calls decide.
    if has_calls and finish in (None, "stop"):
        return "tool_use"
    return _FINISH_TO_STOP.get(finish, "end_turn") if isinstance(finish, str) else "end_turn"


def parse_response(body: dict[str, Any]) -> ir.Response:
    choices = body.get("choices") or []
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    parts: list[ir.TextPart | ir.ThinkingPart | ir.ToolCallPart] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    content = message.get("content")
    if isinstance(content, list):  # a few servers answer with content parts
        content = "".join(p.get("text") or "" for p in content if isinstance(p, dict))
    text = content if isinstance(content, str) else ""
    if text and not reasoning:
        reasoning, text = split_think(text)  # DeepSeek-R1 style <think> prefix
    if isinstance(reasoning, str) and reasoning:
        parts.append(ir.ThinkingPart(text=reasoning))
    text = text or message.get("refusal") or ""
    if text:
        parts.append(ir.TextPart(text=text))
    calls = list(message.get("tool_calls") or [])
    if isinstance(message.get("function_call"), dict):
        calls.append({"function": message["function_call"]})
    for call in calls:
        fn = call.get("function") or {}
        args = fn.get("arguments")
        parts.append(
            ir.ToolCallPart(
                id=call.get("id") or new_id("call_"),
                name=str(fn.get("name") or ""),
                arguments=args if isinstance(args, str) else dump_json(args or {}),
            )
        )
    usage = parse_usage(body.get("usage"))
    if usage is None:
        chars = sum(len(getattr(p, "text", "") or getattr(p, "arguments", "")) for p in parts)
        usage = ir.Usage(output_tokens=tokens_for_chars(chars), estimated=True)
    return ir.Response(
        id=str(body.get("id") or new_id("chatcmpl-")),
        model=str(body.get("model") or ""),
        parts=parts,
        stop_reason=stop_reason_of(choice.get("finish_reason"), bool(calls)),
        usage=usage,
        created=int(body.get("created") or 0),
    )


def chat_id(raw: str | None) -> str:
    if not raw:
        return new_id("chatcmpl-")
    return raw if raw.startswith("chatcmpl") else "chatcmpl-" + raw


def render_response(resp: ir.Response) -> dict[str, Any]:
    text = "".join(p.text for p in resp.parts if isinstance(p, ir.TextPart))
    reasoning = "".join(
        p.text for p in resp.parts if isinstance(p, ir.ThinkingPart) and not p.redacted
    )
    calls = [render_tool_call(p) for p in resp.parts if isinstance(p, ir.ToolCallPart)]
    message: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
    if reasoning:
        message["reasoning_content"] = reasoning
    if calls:
        message["tool_calls"] = calls
    message["refusal"] = None
    return {
        "id": chat_id(resp.id),
        "object": "chat.completion",
        "created": resp.created or int(time.time()),
        "model": resp.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": STOP_TO_FINISH[resp.stop_reason],
            }
        ],
        "usage": render_usage(resp.usage),
    }


# ------------------------------------------------------------------- errors


def render_error(err: ir.ErrorInfo) -> dict[str, Any]:
    return {
        "error": {
            "message": err.message,
            "type": _KIND_TO_TYPE.get(err.kind, "server_error"),
            "param": None,
            "code": err.kind,
        }
    }


def error_event(err: ir.ErrorInfo) -> bytes:
    return encode_sse(dump_json(render_error(err)))


def _kind_of(etype: str | None, code: Any) -> str:
    for key in (code, etype):
        if isinstance(key, str) and key.lower() in _TYPE_TO_KIND:
            return _TYPE_TO_KIND[key.lower()]
    if isinstance(code, int) and 400 <= code <= 599:
        return errors.kind_for_status(code)
    return "api_error"


def error_from_object(obj: Any) -> ir.ErrorInfo:
    """An error object found inside a stream (no HTTP status at hand)."""
    message, etype, code = error_fields(obj)
    kind = _kind_of(etype, code)
    status = code if isinstance(code, int) and 400 <= code <= 599 else status_for_kind(kind)
    return ir.ErrorInfo(
        status=status, kind=kind, message=safe_error_text(message or "upstream stream error")
    )


def parse_error(status: int, body: bytes) -> ir.ErrorInfo:
    text = body.decode("utf-8", "replace")
    try:
        obj: Any = json.loads(text)
    except ValueError:
        obj = None
    message, etype, code = error_fields(obj)
    kind = errors.kind_for_status(status) if status >= 400 else _kind_of(etype, code)
    shown = safe_error_text(message if message is not None else text)
    return ir.ErrorInfo(status=status, kind=kind, message=shown or f"upstream HTTP {status}")

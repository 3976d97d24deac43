"""OpenAI Responses ``response`` objects <-> ``ir.Response``, usage and errors
(platform.openai.com/docs/api-reference/responses/object); see
``omniroute.formats.openai_responses`` for the conventions."""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from omniroute.formats import ir
from omniroute.formats.common import dump_json, new_id, stable_id
from omniroute.formats.openai_chat import error_from_object
from omniroute.formats.openai_responses_items import call_item, reasoning_item
from omniroute.formats.openai_responses_request import reasoning_part
from omniroute.formats.openai_responses_tools import ToolMap, split_echo

_V = "openai-responses"

# incomplete_details.reason <-> IR stop reason.
_INCOMPLETE: Mapping[str, ir.StopReason] = MappingProxyType(
    {
        "max_output_tokens": "max_tokens",
        "content_filter": "content_filter",
    }
)


def response_id(raw: str) -> str:
    """Our ids for a response: the upstream's own when it is a Responses id,
    else one derived from it (``resp_`` + a stable hash)."""
    return raw if raw.startswith("resp_") else stable_id("resp_", raw or new_id(""))


# --------------------------------------------------------------------- usage


def parse_usage(raw: Any) -> ir.Usage | None:
    if not isinstance(raw, dict):
        return None

    def num(obj: Any, key: str) -> int:
        value = obj.get(key) if isinstance(obj, dict) else None
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    details_in = raw.get("input_tokens_details")
    details_out = raw.get("output_tokens_details")
    return ir.Usage(
        input_tokens=num(raw, "input_tokens"),
        output_tokens=num(raw, "output_tokens"),
        cached_input_tokens=num(details_in, "cached_tokens"),
        cache_creation_tokens=num(details_in, "cache_write_tokens"),
        reasoning_tokens=num(details_out, "reasoning_tokens"),
    )


def render_usage(usage: ir.Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cached_input_tokens,
            "cache_write_tokens": usage.cache_creation_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


# ------------------------------------------------------------------- parsing


def parse_response(body: dict[str, Any]) -> ir.Response:
    if not isinstance(body, dict):
        raise TypeError("a Responses answer must be a JSON object")
    raw_id = body.get("id")
    created = body.get("created_at")
    resp = ir.Response(
        id=raw_id if isinstance(raw_id, str) and raw_id else new_id("resp_"),
        model=str(body.get("model") or ""),
        created=int(created) if isinstance(created, int | float) else 0,
    )
    extra: list[list[Any]] = []
    refused = False
    for item in body.get("output") or []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "message":
            for c in item.get("content") or []:
                if isinstance(c, dict) and c.get("type") == "output_text":
                    resp.parts.append(ir.TextPart(str(c.get("text") or "")))
                elif isinstance(c, dict) and c.get("type") == "refusal":
                    resp.parts.append(ir.TextPart(str(c.get("refusal") or "")))
                    refused = True
        elif kind == "function_call":
            call_id = str(item.get("call_id") or item.get("id") or new_id("call_"))
            args = item.get("arguments")
            text = args if isinstance(args, str) else dump_json(args) if args else ""
            resp.parts.append(ir.ToolCallPart(call_id, str(item.get("name") or ""), text or "{}"))
        elif kind == "reasoning":
            resp.parts.append(reasoning_part(item))
        else:
            extra.append([len(resp.parts), item])  # web_search_call, custom_tool_call...
    if extra:
        resp.vendor[_V] = {"extra_output": extra}
    resp.stop_reason = _stop_reason(body, resp.parts, refused)
    usage = parse_usage(body.get("usage"))
    if usage is not None:
        resp.usage = usage
    return resp


def _stop_reason(body: dict[str, Any], parts: list[Any], refused: bool) -> ir.StopReason:
    status = body.get("status")
    if status == "incomplete":
        details = body.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        return _INCOMPLETE.get(str(reason), "max_tokens")
    if status == "failed":
        return "error"
    if refused:
        return "content_filter"
    return "tool_use" if any(isinstance(p, ir.ToolCallPart) for p in parts) else "end_turn"


# ----------------------------------------------------------------- rendering


def output_items(resp: ir.Response, tools: ToolMap | None = None) -> list[dict[str, Any]]:
    """The ``output`` array for ``resp``: reasoning, message and function_call
    items with stable ids, exactly what a client will echo back as input (so
    also what to store for ``previous_response_id``). ``tools`` (the
    request's tool map) turns calls of custom tools into custom_tool_call
    items and gives calls their namespace."""
    rid = response_id(resp.id)
    tools = tools or {}
    extra = resp.vendor.get(_V, {}).get("extra_output", [])
    out: list[dict[str, Any]] = []
    texts: list[dict[str, Any]] = []

    def flush_texts() -> None:
        if texts:
            out.append(message_item(stable_id("msg_", rid, str(len(out))), list(texts)))
            texts.clear()

    for k, part in enumerate(resp.parts):
        for pos, item in extra:
            if pos == k:
                flush_texts()
                out.append(item)
        if isinstance(part, ir.TextPart):
            texts.append(output_text(part.text))
            continue
        flush_texts()
        if isinstance(part, ir.ThinkingPart):
            out.append(reasoning_item(part, seed=f"{rid}/{len(out)}"))
        else:
            out.append(call_output_item(rid, part, tools.get(part.name)))
    flush_texts()
    out.extend(item for pos, item in extra if pos >= len(resp.parts))
    return out


def output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(
    item_id: str, content: list[dict[str, Any]], status: str = "completed"
) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def call_output_item(
    rid: str, part: ir.ToolCallPart, client: dict[str, Any] | None, status: str = "completed"
) -> dict[str, Any]:
    """A tool call as an output item, shown as the client declared its tool
    (``client``: the tool's tool map entry, None for a plain function tool):
    a function_call, or a custom_tool_call (platform.openai.com/docs/guides/
    function-calling#custom-tools) whose ``input`` is the call's text."""
    item = call_item(part, client)
    prefix = "ctc_" if item["type"] == "custom_tool_call" else "fc_"
    return {"id": stable_id(prefix, rid, part.id), "status": status, **item}


def response_object(
    rid: str,
    model: str,
    created: int,
    *,
    status: str,
    output: list[dict[str, Any]],
    usage: ir.Usage | None = None,
    stop: ir.StopReason | None = None,
    error: dict[str, Any] | None = None,
    echo: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A whole ``response`` object with every field the SDK's model requires;
    ``echo`` overrides the defaults with request fields the API repeats."""
    incomplete = None
    if status == "incomplete":
        reason = "content_filter" if stop == "content_filter" else "max_output_tokens"
        incomplete = {"reason": reason}
    return {
        "id": rid,
        "object": "response",
        "created_at": created or int(time.time()),
        "status": status,
        "error": error,
        "incomplete_details": incomplete,
        "instructions": None,
        "max_output_tokens": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": False,
        "temperature": None,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": None,
        "truncation": "disabled",
        "usage": render_usage(usage) if usage is not None else None,
        "user": None,
        "metadata": {},
        **(echo or {}),
    }


def final_status(stop: ir.StopReason | None) -> str:
    """``incomplete`` when the answer was cut (length, filter), else ``completed``."""
    return "incomplete" if stop in ("max_tokens", "content_filter") else "completed"


def render_response(resp: ir.Response) -> dict[str, Any]:
    echo, tools = split_echo(resp.vendor.get(_V, {}).get("echo"))
    return response_object(
        response_id(resp.id),
        resp.model,
        resp.created,
        status=final_status(resp.stop_reason),
        output=output_items(resp, tools),
        usage=resp.usage,
        stop=resp.stop_reason,
        echo=echo,
    )


# -------------------------------------------------------------------- errors

# response.error.code must be one of the SDK's listed codes.
_FAILED_CODES: Mapping[str, str] = MappingProxyType(
    {"rate_limit": "rate_limit_exceeded", "invalid_request": "invalid_prompt"}
)


def failed_error(err: ir.ErrorInfo) -> dict[str, Any]:
    """``response.error`` for a failed response."""
    return {"code": _FAILED_CODES.get(err.kind, "server_error"), "message": err.message}


def stream_error_info(obj: dict[str, Any]) -> ir.ErrorInfo:
    """An ``error`` event or a failed response's ``error`` -> ErrorInfo (status
    from the error's code when it names one, else by kind)."""
    info = error_from_object({"error": obj})
    if obj.get("code") == "invalid_prompt":  # a Responses-only code
        return ir.ErrorInfo(400, "invalid_request", info.message)
    return info

"""Anthropic Messages requests: ``parse_request``, ``render_request`` and the
token estimate.

See ``anthropic`` for the choices made; this module holds the code.
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

from omniroute import errors
from omniroute.formats import ir
from omniroute.formats.common import (
    dump_json,
    effort_to_budget,
    estimate_request_tokens,
    parse_data_url,
    parse_json_object,
)

NAME = "anthropic"
DEFAULT_MAX_TOKENS = 8192
MIN_THINKING_BUDGET = 1024  # Anthropic rejects smaller budgets

_REQUEST_KEYS = frozenset(
    {
        "model", "max_tokens", "system", "messages", "tools", "tool_choice", "thinking",
        "stop_sequences", "temperature", "top_p", "top_k", "metadata", "stream",
    }
)  # fmt: skip
_BAD_ID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")


def _bad(message: str) -> NoReturn:
    raise errors.BadRequest(message)


def _cache(raw: dict[str, Any]) -> ir.CacheMark | None:
    cc = raw.get("cache_control")
    if not isinstance(cc, dict):
        return None
    return ir.CacheMark(type=str(cc.get("type", "ephemeral")), ttl=cc.get("ttl"))


def _cache_out(block: dict[str, Any], mark: ir.CacheMark | None) -> dict[str, Any]:
    if mark is not None:
        block["cache_control"] = {"type": mark.type} | ({"ttl": mark.ttl} if mark.ttl else {})
    return block


# ------------------------------------------------------------ parse_request


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list) or not all(isinstance(b, dict) for b in content):
        _bad(f"{where}.content must be a string or an array of content blocks")
    return content


def _image(block: dict[str, Any], where: str) -> ir.ImagePart | None:
    source = block.get("source")
    if not isinstance(source, dict):
        _bad(f"{where}.source is required")
    if source.get("type") == "base64":
        if not isinstance(source.get("data"), str) or not isinstance(source.get("media_type"), str):
            _bad(f"{where}.source needs media_type and data")
        return ir.ImagePart(
            data=source["data"], media_type=source["media_type"], cache=_cache(block)
        )
    if source.get("type") == "url" and isinstance(source.get("url"), str):
        return ir.ImagePart(url=source["url"], cache=_cache(block))
    return None  # file ids and the like: kept aside


def _tool_result(block: dict[str, Any], names: dict[str, str], where: str) -> ir.ToolResultPart:
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str):
        _bad(f"{where}.tool_use_id is required")
    content: list[ir.TextPart | ir.ImagePart] = []
    # Only text and images have a form in every format; other blocks inside a
    # tool result (search results, documents) are dropped.
    for j, inner in enumerate(_blocks(block.get("content") or [], where)):
        part = content_part(inner, f"{where}.content[{j}]", names)
        if isinstance(part, ir.TextPart | ir.ImagePart):
            content.append(part)
    return ir.ToolResultPart(
        call_id=call_id,
        content=content,
        is_error=bool(block.get("is_error")),
        name=names.get(call_id),
        cache=_cache(block),
    )


def content_part(block: dict[str, Any], where: str, names: dict[str, str]) -> ir.Part | None:
    """One content block -> IR; None for blocks with no IR form."""
    kind = block.get("type")
    if kind == "text":
        if not isinstance(block.get("text"), str):
            _bad(f"{where}.text must be a string")
        return ir.TextPart(text=block["text"], cache=_cache(block))
    if kind == "image":
        return _image(block, where)
    if kind == "tool_use":
        if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
            _bad(f"{where} needs id and name")
        names[block["id"]] = block["name"]
        args = block.get("input")
        return ir.ToolCallPart(
            id=block["id"], name=block["name"], arguments=dump_json(args if args else {})
        )
    if kind == "tool_result":
        return _tool_result(block, names, where)
    if kind == "thinking":
        signature = block.get("signature")
        return ir.ThinkingPart(text=str(block.get("thinking") or ""), signature=signature or None)
    if kind == "redacted_thinking":
        return ir.ThinkingPart(redacted=True, signature=str(block.get("data") or ""))
    if isinstance(kind, str):
        return None  # document, search_result, server tool blocks...
    _bad(f"{where}.type is required")


def _read_messages(raw: Any, req: ir.Request, notes: dict[str, Any]) -> None:
    if not isinstance(raw, list) or not raw:
        _bad("'messages' is required and must be a non-empty array")
    names: dict[str, str] = {}
    for i, msg in enumerate(raw):
        where = f"messages[{i}]"
        if isinstance(msg, dict) and msg.get("role") == "system":
            # Newer Claude models take system messages mid-conversation (Claude
            # Code sends them). Other formats have no such place, so their text
            # joins the system instructions, in order.
            req.system.extend(_read_system(msg.get("content"), f"{where}.content"))
            continue
        if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant"):
            _bad(f"{where}.role must be user, assistant or system")
        parts: list[ir.Part] = []
        for j, block in enumerate(_blocks(msg.get("content"), where)):
            part = content_part(block, f"{where}.content[{j}]", names)
            if part is None:
                extra = {"message": i, "position": len(parts), "block": block}
                notes.setdefault("_blocks", []).append(extra)
            else:
                parts.append(part)
        req.messages.append(ir.Message(role=msg["role"], parts=parts))
    if not req.messages:
        _bad("'messages' must hold at least one user or assistant message")


def _read_system(raw: Any, where: str = "system") -> list[ir.TextPart]:
    if raw is None:
        return []
    out = []
    for j, block in enumerate(_blocks(raw, where)):
        if block.get("type") != "text" or not isinstance(block.get("text"), str):
            _bad(f"{where}[{j}] must be a text block")
        out.append(ir.TextPart(text=block["text"], cache=_cache(block)))
    return out


def _read_tools(raw: Any, req: ir.Request, notes: dict[str, Any]) -> None:
    if raw is None:
        return
    if not isinstance(raw, list):
        _bad("'tools' must be an array")
    for k, tool in enumerate(raw):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            _bad(f"tools[{k}].name is required")
        if tool.get("type") not in (None, "custom"):  # server tools (web_search...)
            notes.setdefault("_server_tools", []).append(tool)
            continue
        schema = tool.get("input_schema")
        req.tools.append(
            ir.ToolDef(
                name=tool["name"],
                description=tool.get("description"),
                parameters=schema if isinstance(schema, dict) else {"type": "object"},
                strict=tool.get("strict"),
                cache=_cache(tool),
            )
        )


def _read_tool_choice(raw: Any, req: ir.Request) -> None:
    if raw is None:
        return
    kind = raw.get("type") if isinstance(raw, dict) else None
    modes = {"auto": "auto", "any": "required", "none": "none", "tool": "tool"}
    if kind not in modes:
        _bad("'tool_choice.type' must be auto, any, tool or none")
    if kind == "tool" and not isinstance(raw.get("name"), str):
        _bad("'tool_choice.name' is required with type tool")
    req.tool_choice = ir.ToolChoice(mode=modes[kind], name=raw.get("name"))  # type: ignore[arg-type]
    if raw.get("disable_parallel_tool_use"):
        req.parallel_tool_calls = False


def _read_thinking(raw: Any, req: ir.Request, notes: dict[str, Any]) -> None:
    """Thinking on means the client gets thinking blocks with (summarized)
    text unless it sent ``display: "omitted"``, hence ``include_thoughts``."""
    if raw is None:
        return
    kind = raw.get("type") if isinstance(raw, dict) else None
    display = raw.get("display") if isinstance(raw, dict) else None
    if isinstance(display, str) and kind in ("enabled", "adaptive"):
        notes["_display"] = display
    shown = display != "omitted"
    if kind == "enabled":
        budget = raw.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool):
            _bad("'thinking.budget_tokens' must be an integer")
        req.reasoning = ir.Reasoning(enabled=True, budget_tokens=budget, include_thoughts=shown)
    elif kind == "disabled":
        req.reasoning = ir.Reasoning(enabled=False)
    elif kind == "adaptive":
        req.reasoning = ir.Reasoning(enabled=True, include_thoughts=shown)
        notes["_adaptive"] = True
    else:
        _bad("'thinking.type' must be enabled, disabled or adaptive")


def _scalar(body: dict[str, Any], key: str, types: tuple[type, ...], what: str) -> Any:
    value = body.get(key)
    if value is not None and (not isinstance(value, types) or isinstance(value, bool)):
        _bad(f"'{key}' must be {what}")
    return value


def parse_request(body: dict[str, Any]) -> ir.Request:
    if not isinstance(body, dict):
        _bad("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        _bad("'model' is required and must be a string")
    req = ir.Request(model=model)
    notes: dict[str, Any] = {k: v for k, v in body.items() if k not in _REQUEST_KEYS}
    req.system = _read_system(body.get("system"))
    _read_messages(body.get("messages"), req, notes)
    _read_tools(body.get("tools"), req, notes)
    _read_tool_choice(body.get("tool_choice"), req)
    _read_thinking(body.get("thinking"), req, notes)
    req.max_tokens = _scalar(body, "max_tokens", (int,), "an integer")
    for key in ("temperature", "top_p"):
        value = _scalar(body, key, (int, float), "a number")
        setattr(req, key, None if value is None else float(value))
    req.top_k = _scalar(body, "top_k", (int,), "an integer")
    stops = body.get("stop_sequences") or []
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        _bad("'stop_sequences' must be an array of strings")
    req.stop = list(stops)
    metadata = body.get("metadata")
    if isinstance(metadata, dict):
        user = metadata.get("user_id")
        req.user = user if isinstance(user, str) else None
        rest = {k: v for k, v in metadata.items() if k != "user_id"}
        req.metadata = rest or None
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        _bad("'stream' must be a boolean")
    req.stream = stream
    if notes:
        req.vendor[NAME] = notes
    return req


def count_tokens_estimate(req: ir.Request) -> int:
    """Prompt tokens of a request when the upstream cannot count them
    (``/v1/messages/count_tokens``): ``common.estimate_request_tokens`` - system,
    messages, tool results and tool definitions at ~4 chars/token, images at a
    flat cost, plus per-message framing."""
    return estimate_request_tokens(req)


# ----------------------------------------------------------- render_request


def _wire_id(call_id: str) -> str:
    return _BAD_ID_CHARS.sub("_", call_id) or "toolu_"


def _render_image(part: ir.ImagePart) -> dict[str, Any]:
    data, media_type = part.data, part.media_type
    if data is None and part.url and part.url.startswith("data:"):
        parsed = parse_data_url(part.url)
        if parsed is not None:
            media_type, data = parsed
    if data is not None:
        source = {"type": "base64", "media_type": media_type or "image/png", "data": data}
    else:
        source = {"type": "url", "url": part.url or ""}
    return _cache_out({"type": "image", "source": source}, part.cache)


def _render_part(part: ir.Part) -> dict[str, Any] | None:
    if isinstance(part, ir.TextPart):
        # Anthropic rejects empty text blocks
        return _cache_out({"type": "text", "text": part.text}, part.cache) if part.text else None
    if isinstance(part, ir.ImagePart):
        return _render_image(part)
    if isinstance(part, ir.ThinkingPart):
        if part.redacted:
            return {"type": "redacted_thinking", "data": part.signature or ""}
        if not part.signature:
            return None  # unsigned: Anthropic would reject it
        return {"type": "thinking", "thinking": part.text, "signature": part.signature}
    if isinstance(part, ir.ToolCallPart):
        return {
            "type": "tool_use",
            "id": _wire_id(part.id),
            "name": part.name,
            "input": parse_json_object(part.arguments),
        }
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": _wire_id(part.call_id)}
    inner = [b for b in map(_render_part, part.content) if b is not None]
    if inner:
        block["content"] = inner
    if part.is_error:
        block["is_error"] = True
    return _cache_out(block, part.cache)


def _render_messages(req: ir.Request, notes: dict[str, Any]) -> list[dict[str, Any]]:
    extras: list[dict[str, Any]] = notes.get("_blocks", [])
    out: list[dict[str, Any]] = []
    for i, msg in enumerate(req.messages):
        mine = [x for x in extras if x.get("message") == i]
        blocks: list[dict[str, Any]] = []
        for position, part in enumerate(msg.parts):
            blocks += [x["block"] for x in mine if x["position"] == position]
            rendered = _render_part(part)
            if rendered is not None:
                blocks.append(rendered)
        blocks += [x["block"] for x in mine if x["position"] >= len(msg.parts)]
        if not blocks:
            continue
        if out and out[-1]["role"] == msg.role:  # Anthropic requires alternation
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": msg.role, "content": blocks})
    for message in out:
        if message["role"] == "user":  # tool results must lead the user turn
            message["content"].sort(key=lambda b: b.get("type") != "tool_result")
    return out


def _json_instruction(rf: ir.ResponseFormat | None) -> str | None:
    if rf is None or rf.type == "text":
        return None
    if rf.type == "json_schema" and rf.schema:
        return (
            "Respond only with a JSON value that conforms to this JSON Schema, without code "
            "fences or any other text:\n" + dump_json(rf.schema)
        )
    return "Respond only with a valid JSON object, without code fences or any other text."


def _render_system(req: ir.Request) -> str | list[dict[str, Any]] | None:
    parts = list(req.system)
    instruction = _json_instruction(req.response_format)
    if instruction:
        parts.append(ir.TextPart(text=instruction))
    parts = [p for p in parts if p.text]
    if not parts:
        return None
    if len(parts) == 1 and parts[0].cache is None:
        return parts[0].text
    return [_cache_out({"type": "text", "text": p.text}, p.cache) for p in parts]


def _budget(req: ir.Request) -> int | None:
    """The thinking budget to send, None for no thinking block at all, 0 for
    thinking explicitly off."""
    r = req.reasoning
    if r is None:
        return None
    if r.enabled is False or r.effort == "none" or r.budget_tokens == 0:
        return 0
    if r.budget_tokens is not None and r.budget_tokens > 0:
        return max(MIN_THINKING_BUDGET, r.budget_tokens)
    if r.effort:
        return effort_to_budget(r.effort)
    return effort_to_budget("medium") if r.enabled else None


def _thinking_allowed(messages: list[dict[str, Any]]) -> bool:
    """False when thinking must stay off for this history: with thinking on,
    Anthropic requires the last assistant turn of a tool loop to start with
    its (signed) thinking block, which history from another model lacks."""
    last = next((m for m in reversed(messages) if m["role"] == "assistant"), None)
    if last is None or not any(b.get("type") == "tool_use" for b in last["content"]):
        return True
    return last["content"][0].get("type") in ("thinking", "redacted_thinking")


def _render_thinking(
    req: ir.Request, notes: dict[str, Any], body: dict[str, Any], allowed: bool
) -> None:
    """thinking + max_tokens (they constrain each other) into ``body``."""
    budget = _budget(req)
    if budget and not allowed:
        budget = None
    forced = req.tool_choice is not None and req.tool_choice.mode in ("required", "tool")
    max_tokens = req.max_tokens
    r = req.reasoning
    adaptive = bool(notes.get("_adaptive") and r and r.budget_tokens is None and not r.effort)
    if budget and adaptive and not forced:
        body["thinking"] = {"type": "adaptive"}  # the model sizes its own thinking
    elif budget and not forced and (max_tokens is None or max_tokens > MIN_THINKING_BUDGET):
        if max_tokens is None:
            max_tokens = max(DEFAULT_MAX_TOKENS, budget + DEFAULT_MAX_TOKENS // 2)
        elif max_tokens <= budget:
            budget = max(MIN_THINKING_BUDGET, max_tokens // 2)
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    elif budget == 0:
        body["thinking"] = {"type": "disabled"}
    else:
        budget = None  # no room, or a forced tool call: thinking stays off
    if budget and isinstance(notes.get("_display"), str):
        body["thinking"]["display"] = notes["_display"]  # the Anthropic client's own choice
    body["max_tokens"] = max_tokens if max_tokens is not None else DEFAULT_MAX_TOKENS
    thinking_on = bool(budget)
    if req.temperature is not None and not (thinking_on and req.temperature != 1):
        body["temperature"] = req.temperature
    if req.top_p is not None and not (thinking_on and req.top_p < 0.95):
        body["top_p"] = req.top_p
    if req.top_k is not None and not thinking_on:
        body["top_k"] = req.top_k


def _render_tools(req: ir.Request, notes: dict[str, Any], body: dict[str, Any]) -> None:
    tools: list[dict[str, Any]] = []
    for tool in req.tools:
        schema = dict(tool.parameters)
        schema.setdefault("type", "object")  # Anthropic requires an object schema
        entry: dict[str, Any] = {"name": tool.name}
        if tool.description is not None:
            entry["description"] = tool.description
        entry["input_schema"] = schema
        tools.append(_cache_out(entry, tool.cache))
    tools += notes.get("_server_tools", [])
    if not tools:
        return  # tool_choice without tools is rejected
    body["tools"] = tools
    tc = req.tool_choice
    choice: dict[str, Any] | None = None
    if tc is not None:
        wire = {"auto": "auto", "required": "any", "none": "none", "tool": "tool"}[tc.mode]
        choice = {"type": wire} | ({"name": tc.name} if tc.mode == "tool" else {})
    if req.parallel_tool_calls is False and (choice is None or choice["type"] != "none"):
        choice = (choice or {"type": "auto"}) | {"disable_parallel_tool_use": True}
    if choice is not None:
        body["tool_choice"] = choice


def render_request(req: ir.Request) -> dict[str, Any]:
    notes = req.vendor.get(NAME, {})
    body: dict[str, Any] = {"model": req.model}
    messages = _render_messages(req, notes)
    _render_thinking(req, notes, body, _thinking_allowed(messages))
    system = _render_system(req)
    if system is not None:
        body["system"] = system
    body["messages"] = messages
    _render_tools(req, notes, body)
    if req.stop:
        body["stop_sequences"] = list(req.stop)
    if req.user:
        body["metadata"] = {"user_id": req.user}
    if req.stream:
        body["stream"] = True
    for key, value in notes.items():
        if not key.startswith("_") and key not in body:
            body[key] = value
    return body

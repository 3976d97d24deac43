"""OpenAI Chat Completions requests: ``parse_request`` and ``render_request``.

See ``openai_chat`` for the choices made; this module holds the code.
"""

from __future__ import annotations

from typing import Any, NoReturn

from omniroute import errors
from omniroute.formats import ir
from omniroute.formats.common import (
    budget_to_effort,
    dump_json,
    make_data_url,
    parse_data_url,
    stable_id,
)

NAME = "openai"

_REQUEST_KEYS = frozenset(
    {
        "model", "messages", "tools", "tool_choice", "parallel_tool_calls", "functions",
        "function_call", "response_format", "reasoning_effort", "max_tokens",
        "max_completion_tokens", "temperature", "top_p", "stop", "seed", "user", "metadata",
        "n", "stream", "stream_options",
    }
)  # fmt: skip


# OpenAI rejects a ``user`` longer than 64 characters ("string too long.
# Expected a string with maximum length 64"); Claude Code's metadata.user_id
# (a JSON text of ~150 characters) is one.
MAX_USER_CHARS = 64


def _bad(message: str) -> NoReturn:
    raise errors.BadRequest(message)


def upstream_user(user: str | None) -> str | None:
    """``user`` as an OpenAI upstream accepts it. A longer value is replaced
    by a stable short hash of it rather than dropped: the same end user still
    maps to one id upstream (what the field is for: abuse tracking and cache
    routing) without the raw id leaving the gateway."""
    if user is None or len(user) <= MAX_USER_CHARS:
        return user
    return stable_id("user_", user)


def _typed(body: dict[str, Any], key: str, types: type | tuple[type, ...], what: str) -> Any:
    value = body.get(key)
    if value is None:
        return None
    # bool is an int subclass; a boolean where a number is expected is a mistake
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)):
        _bad(f"'{key}' must be {what}")
    return value


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


# ------------------------------------------------------------ parse_request


class _Reader:
    """State while reading a ``messages`` array into IR."""

    __slots__ = ("call_names", "extras", "last_tool_msg", "legacy", "req")

    def __init__(self, req: ir.Request) -> None:
        self.req = req
        self.call_names: dict[str, str] = {}  # tool-call id -> tool name
        self.legacy: dict[str, str] = {}  # function name -> id of its latest legacy call
        self.extras: list[dict[str, Any]] = []  # audio/file parts kept for OpenAI
        self.last_tool_msg: ir.Message | None = None

    def read(self, messages: list[Any]) -> None:
        for i, msg in enumerate(messages):
            where = f"messages[{i}]"
            if not isinstance(msg, dict):
                _bad(f"{where} must be an object")
            role = msg.get("role")
            content = msg.get("content")
            if role in ("system", "developer"):
                self.req.system.extend(_text_only(content, where))
                if role == "developer":
                    self.req.vendor.setdefault(NAME, {})["_developer"] = True
            elif role == "user":
                self._user(content, where)
            elif role == "assistant":
                self._assistant(msg, i, where)
            elif role in ("tool", "function"):
                self._tool(msg, i, where)
            else:
                _bad(f"{where}.role must be one of system, developer, user, assistant, tool")

    def _push(self, role: ir.Role, parts: list[ir.Part]) -> ir.Message:
        message = ir.Message(role=role, parts=parts)
        self.req.messages.append(message)
        self.last_tool_msg = None
        return message

    def _user(self, content: Any, where: str) -> None:
        parts: list[ir.Part] = []
        position = len(self.req.messages)
        for j, raw in enumerate(_content_list(content, where)):
            part = _user_part(raw, f"{where}.content[{j}]")
            if part is None:
                self.extras.append({"message": position, "position": len(parts), "part": raw})
            else:
                parts.append(part)
        self._push("user", parts)

    def _assistant(self, msg: dict[str, Any], i: int, where: str) -> None:
        parts: list[ir.Part] = []
        reasoning = msg.get("reasoning_content") or msg.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            parts.append(ir.ThinkingPart(text=reasoning))
        for j, raw in enumerate(_content_list(msg.get("content"), where)):
            kind = raw.get("type")
            text = raw.get("refusal") if kind == "refusal" else raw.get("text")
            if kind not in ("text", "refusal") or not isinstance(text, str):
                _bad(f"{where}.content[{j}] must be a text or refusal part")
            if text:
                parts.append(ir.TextPart(text=text))
        calls = msg.get("tool_calls") or []
        if not isinstance(calls, list):
            _bad(f"{where}.tool_calls must be an array")
        for k, call in enumerate(calls):
            parts.append(self._tool_call(call, f"{where}.tool_calls[{k}]", (str(i), str(k))))
        legacy = msg.get("function_call")
        if isinstance(legacy, dict):
            part = self._tool_call({"function": legacy}, f"{where}.function_call", (str(i), "fn"))
            self.legacy[part.name] = part.id
            parts.append(part)
        self._push("assistant", parts)

    def _tool_call(self, call: Any, where: str, seed: tuple[str, str]) -> ir.ToolCallPart:
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            _bad(f"{where}.function.name is required")
        args = fn.get("arguments")
        if args is None:
            args = "{}"
        elif not isinstance(args, str):  # some clients send an object
            args = dump_json(args)
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id:
            # deterministic, so re-sending this history yields the same id
            call_id = stable_id("call_", *seed, fn["name"], args)
        self.call_names[call_id] = fn["name"]
        return ir.ToolCallPart(id=call_id, name=fn["name"], arguments=args)

    def _tool(self, msg: dict[str, Any], i: int, where: str) -> None:
        if msg.get("role") == "tool":
            call_id = msg.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                _bad(f"{where}.tool_call_id is required for role tool")
            name = self.call_names.get(call_id)
        else:  # legacy role "function": paired with the latest call of that name
            name = msg.get("name")
            if not isinstance(name, str):
                _bad(f"{where}.name is required for role function")
            call_id = self.legacy.get(name) or stable_id("call_", str(i), "fn", name)
        content: list[ir.TextPart | ir.ImagePart] = []
        for j, raw in enumerate(_content_list(msg.get("content"), where)):
            part = _user_part(raw, f"{where}.content[{j}]")
            if not isinstance(part, ir.TextPart | ir.ImagePart):
                _bad(f"{where}.content[{j}] must be a text or image part")
            content.append(part)
        result = ir.ToolResultPart(call_id=call_id, content=content, name=name)
        if self.last_tool_msg is not None:  # consecutive tool messages: one user turn
            self.last_tool_msg.parts.append(result)
        else:
            self.last_tool_msg = self._push("user", [result])


def _content_list(content: Any, where: str) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list) or not all(isinstance(p, dict) for p in content):
        _bad(f"{where}.content must be a string or an array of content parts")
    return content


def _text_only(content: Any, where: str) -> list[ir.TextPart]:
    parts = []
    for j, raw in enumerate(_content_list(content, where)):
        if raw.get("type") != "text" or not isinstance(raw.get("text"), str):
            _bad(f"{where}.content[{j}] must be a text part")
        parts.append(ir.TextPart(text=raw["text"]))
    return parts


def _user_part(raw: dict[str, Any], where: str) -> ir.TextPart | ir.ImagePart | None:
    """One user content part; None for audio/file parts (kept aside for OpenAI)."""
    kind = raw.get("type")
    if kind == "text":
        if not isinstance(raw.get("text"), str):
            _bad(f"{where}.text must be a string")
        cache = raw.get("cache_control")
        mark = ir.CacheMark(**_cache_fields(cache)) if isinstance(cache, dict) else None
        return ir.TextPart(text=raw["text"], cache=mark)
    if kind == "image_url":
        return _image(raw.get("image_url"), where)
    if kind in ("input_audio", "file"):
        return None
    _bad(f"{where}.type '{kind}' is not a supported content part")


def _cache_fields(cache: dict[str, Any]) -> dict[str, Any]:
    return {"type": str(cache.get("type", "ephemeral")), "ttl": cache.get("ttl")}


def _image(spec: Any, where: str) -> ir.ImagePart:
    if isinstance(spec, str):
        spec = {"url": spec}
    url = spec.get("url") if isinstance(spec, dict) else None
    if not isinstance(url, str):
        _bad(f"{where}.image_url.url is required")
    detail = spec.get("detail")
    detail = detail if isinstance(detail, str) else None
    if url.startswith("data:"):
        parsed = parse_data_url(url)
        if parsed is None:
            _bad(f"{where}.image_url.url: only base64 data URLs are supported")
        return ir.ImagePart(data=parsed[1], media_type=parsed[0], detail=detail)
    if not url.startswith(("http://", "https://")):
        _bad(f"{where}.image_url.url must be an http(s) or data: URL")
    return ir.ImagePart(url=url, detail=detail)


def _tool_def(raw: Any, where: str) -> ir.ToolDef | None:
    if not isinstance(raw, dict):
        _bad(f"{where} must be an object")
    if raw.get("type", "function") != "function":
        return None
    fn = raw.get("function", raw)  # legacy "functions" entries are bare
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        _bad(f"{where}.function.name is required")
    params = fn.get("parameters")
    return ir.ToolDef(
        name=fn["name"],
        description=fn.get("description"),
        parameters=params if isinstance(params, dict) else {"type": "object", "properties": {}},
        strict=fn.get("strict"),
    )


def _tool_choice(raw: Any) -> ir.ToolChoice | None:
    if raw in ("auto", "none", "required"):
        return ir.ToolChoice(mode=raw)
    if isinstance(raw, dict):
        fn = raw.get("function") if raw.get("type") == "function" else raw  # legacy {"name"}
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            return ir.ToolChoice(mode="tool", name=fn["name"])
    return None


def _response_format(raw: Any) -> ir.ResponseFormat:
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind in ("text", "json_object"):
        return ir.ResponseFormat(type=kind)
    if kind == "json_schema":
        spec = raw.get("json_schema") or {}
        schema = spec.get("schema") if isinstance(spec, dict) else None
        return ir.ResponseFormat(
            type="json_schema",
            schema=schema if isinstance(schema, dict) else None,
            name=spec.get("name"),
            strict=spec.get("strict"),
        )
    _bad("'response_format.type' must be text, json_object or json_schema")


def parse_request(body: dict[str, Any]) -> ir.Request:
    if not isinstance(body, dict):
        _bad("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        _bad("'model' is required and must be a string")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        _bad("'messages' is required and must be a non-empty array")
    n = _typed(body, "n", int, "an integer")
    if n not in (None, 1):
        _bad("'n' must be 1: only one choice per request is supported")
    req = ir.Request(model=model)
    extra = {k: v for k, v in body.items() if k not in _REQUEST_KEYS}
    reader = _Reader(req)
    reader.read(messages)
    vendor = req.vendor.setdefault(NAME, {})
    vendor.update(extra)
    if reader.extras:
        vendor["_parts"] = reader.extras
    _read_options(body, req, vendor)
    if not vendor:
        del req.vendor[NAME]
    return req


def _read_options(body: dict[str, Any], req: ir.Request, vendor: dict[str, Any]) -> None:
    tools = _typed(body, "tools", list, "an array") or _typed(body, "functions", list, "an array")
    for k, raw in enumerate(tools or []):
        tool = _tool_def(raw, f"tools[{k}]")
        if tool is None:  # custom / built-in tools have no IR form
            vendor.setdefault("_tools", []).append(raw)
        else:
            req.tools.append(tool)
    choice_raw = body.get("tool_choice", body.get("function_call"))
    req.tool_choice = _tool_choice(choice_raw)
    if req.tool_choice is None and choice_raw is not None:
        vendor["tool_choice"] = choice_raw  # e.g. allowed_tools: passed through as is
    req.parallel_tool_calls = _typed(body, "parallel_tool_calls", bool, "a boolean")
    if body.get("response_format") is not None:
        req.response_format = _response_format(body["response_format"])
    effort = _typed(body, "reasoning_effort", str, "a string")
    if effort is not None:
        req.reasoning = ir.Reasoning(effort=effort, enabled=False if effort == "none" else None)
    mct = _typed(body, "max_completion_tokens", int, "an integer")
    mt = _typed(body, "max_tokens", int, "an integer")
    req.max_tokens = mct if mct is not None else mt
    if mct is not None:
        vendor["_max_tokens_key"] = "max_completion_tokens"
    req.temperature = _number(_typed(body, "temperature", (int, float), "a number"))
    req.top_p = _number(_typed(body, "top_p", (int, float), "a number"))
    stop = _typed(body, "stop", (str, list), "a string or an array of strings")
    req.stop = [stop] if isinstance(stop, str) else list(stop or [])
    if not all(isinstance(s, str) for s in req.stop):
        _bad("'stop' must be a string or an array of strings")
    req.seed = _typed(body, "seed", int, "an integer")
    req.user = _typed(body, "user", str, "a string")
    req.metadata = _typed(body, "metadata", dict, "an object")
    req.stream = bool(_typed(body, "stream", bool, "a boolean"))
    options = _typed(body, "stream_options", dict, "an object") or {}
    req.include_usage = bool(options.get("include_usage"))


def _number(value: int | float | None) -> float | None:
    return None if value is None else float(value)


# ----------------------------------------------------------- render_request


def _render_user(msg: ir.Message, extras: list[dict[str, Any]], out: list[dict[str, Any]]) -> None:
    """A user turn: its tool results become role-tool messages first (they
    must directly follow the assistant's tool_calls), then the rest."""
    content: list[dict[str, Any]] = []
    seen = 0  # text/image parts so far: the positions recorded for extras
    for part in msg.parts:
        if isinstance(part, ir.ToolResultPart):
            out.append(_render_tool_result(part))
            images = [p for p in part.content if isinstance(p, ir.ImagePart)]
            if images:
                out.append({"role": "user", "content": [_render_image(p) for p in images]})
            continue
        content += [x["part"] for x in extras if x["position"] == seen]
        seen += 1
        if isinstance(part, ir.TextPart):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ir.ImagePart):
            content.append(_render_image(part))
    content += [x["part"] for x in extras if x["position"] >= seen]
    has_results = any(isinstance(p, ir.ToolResultPart) for p in msg.parts)
    if content or not has_results:
        simple = len(content) == 1 and content[0]["type"] == "text"
        out.append({"role": "user", "content": content[0]["text"] if simple else content})


def _render_tool_result(part: ir.ToolResultPart) -> dict[str, Any]:
    texts = [p.text for p in part.content if isinstance(p, ir.TextPart)]
    content: str | list[dict[str, Any]] = texts[0] if len(texts) == 1 else "".join(texts)
    if len(texts) > 1:
        content = [{"type": "text", "text": t} for t in texts]
    return {"role": "tool", "tool_call_id": part.call_id, "content": content}


def _render_image(part: ir.ImagePart) -> dict[str, Any]:
    url = part.url
    if part.data is not None:
        url = make_data_url(part.media_type or "image/png", part.data)
    spec: dict[str, Any] = {"url": url or ""}
    if part.detail:
        spec["detail"] = part.detail
    return {"type": "image_url", "image_url": spec}


def _render_assistant(msg: ir.Message) -> dict[str, Any]:
    text = "".join(p.text for p in msg.parts if isinstance(p, ir.TextPart))
    reasoning = "".join(
        p.text
        for p in msg.parts
        if isinstance(p, ir.ThinkingPart) and p.text and p.signature is None and not p.redacted
    )
    calls = [render_tool_call(p) for p in msg.parts if isinstance(p, ir.ToolCallPart)]
    out: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
    if reasoning:
        out["reasoning_content"] = reasoning
    if calls:
        out["tool_calls"] = calls
    return out


def render_tool_call(part: ir.ToolCallPart) -> dict[str, Any]:
    return {
        "id": part.id,
        "type": "function",
        "function": {"name": part.name, "arguments": part.arguments},
    }


def _render_messages(req: ir.Request, notes: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if req.system:
        role = "developer" if notes.get("_developer") else "system"
        texts = [p.text for p in req.system]
        content: Any = texts[0] if len(texts) == 1 else [{"type": "text", "text": t} for t in texts]
        out.append({"role": role, "content": content})
    extras: list[dict[str, Any]] = notes.get("_parts", [])
    for i, msg in enumerate(req.messages):
        if msg.role == "assistant":
            out.append(_render_assistant(msg))
        else:
            _render_user(msg, [x for x in extras if x.get("message") == i], out)
    return out


def render_request(req: ir.Request) -> dict[str, Any]:
    notes = req.vendor.get(NAME, {})
    body: dict[str, Any] = {"model": req.model, "messages": _render_messages(req, notes)}
    tools: list[dict[str, Any]] = [_render_tool(t) for t in req.tools] + notes.get("_tools", [])
    if tools:
        body["tools"] = tools
        if req.parallel_tool_calls is not None:  # only valid alongside tools
            body["parallel_tool_calls"] = req.parallel_tool_calls
    if req.tool_choice is not None and tools:  # OpenAI rejects a tool_choice without tools
        tc = req.tool_choice
        body["tool_choice"] = (
            {"type": "function", "function": {"name": tc.name}} if tc.mode == "tool" else tc.mode
        )
    if req.response_format is not None:
        body["response_format"] = _render_response_format(req.response_format)
    effort = _effort(req.reasoning)
    if effort is not None:
        body["reasoning_effort"] = effort
    if req.max_tokens is not None:
        key = notes.get("_max_tokens_key") or (
            "max_completion_tokens" if effort not in (None, "none") else "max_tokens"
        )
        body[key] = req.max_tokens
    for key in ("temperature", "top_p", "seed", "metadata"):
        if getattr(req, key) is not None:
            body[key] = getattr(req, key)
    user = upstream_user(req.user)
    if user is not None:
        body["user"] = user
    if req.stop:
        body["stop"] = list(req.stop)
    if req.stream:
        # always ask for the usage chunk: usage is recorded for every request
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    for key, value in notes.items():
        if not key.startswith("_") and key not in body:
            body[key] = value
    return body


def _render_tool(tool: ir.ToolDef) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        fn["description"] = tool.description
    fn["parameters"] = tool.parameters
    if tool.strict is not None:
        fn["strict"] = tool.strict
    return {"type": "function", "function": fn}


def _render_response_format(rf: ir.ResponseFormat) -> dict[str, Any]:
    if rf.type != "json_schema":
        return {"type": rf.type}
    spec: dict[str, Any] = {"name": rf.name or "response", "schema": rf.schema or {}}
    if rf.strict is not None:
        spec["strict"] = rf.strict
    return {"type": "json_schema", "json_schema": spec}


def _effort(reasoning: ir.Reasoning | None) -> str | None:
    if reasoning is None:
        return None
    if reasoning.effort:
        return reasoning.effort
    if reasoning.enabled is False:
        return None
    if reasoning.budget_tokens is not None:
        return budget_to_effort(reasoning.budget_tokens)
    return None  # enabled without a size: the model's default effort

"""OpenAI Responses request bodies <-> ``ir.Request``
(platform.openai.com/docs/api-reference/responses/create); see
``omniroute.formats.openai_responses`` for the conventions."""

from __future__ import annotations

from typing import Any, NoReturn

from omniroute import errors
from omniroute.formats import ir
from omniroute.formats.common import (
    budget_to_effort,
    dump_json,
    parse_data_url,
)
from omniroute.formats.openai_chat_request import upstream_user
from omniroute.formats.openai_responses_items import REDACTED_PREFIX, input_items
from omniroute.formats.openai_responses_tools import (
    ToolCollector,
    custom_arguments,
    tool_map,
)

_V = "openai-responses"

# Top-level fields with no IR home, passed on to a Responses upstream as is.
_PASSTHROUGH = (
    "prompt_cache_key",
    "prompt_cache_retention",
    "service_tier",
    "truncation",
    "background",
    "safety_identifier",
    "top_logprobs",
    "max_tool_calls",
    "prompt",
    "conversation",
)
# A reasoning item id we give to Anthropic redacted thinking, so the client's
# echo of it parses back as redacted (the client treats the id as opaque).
# OpenAI file ids ("file-abc123") ride in ImagePart.url: no real URL looks so.


def _bad(message: str) -> NoReturn:
    raise errors.BadRequest(message)


def _typed(value: Any, types: type | tuple[type, ...], where: str, what: str) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        _bad(f"'{where}' must be {what}.")
    if not isinstance(value, types):
        _bad(f"'{where}' must be {what}.")
    return value


# ------------------------------------------------------------------ parsing


class Conversation:
    """Builds IR messages from items: consecutive items of one side (user
    messages and tool outputs; assistant messages, reasoning and calls) make
    one message. Items with no IR form are kept with their position.
    ``tools`` (when given) names the calls as the request's ToolDefs do."""

    __slots__ = ("messages", "system", "extra", "names", "tools", "_cut")

    def __init__(self, tools: ToolCollector | None = None) -> None:
        self.messages: list[ir.Message] = []
        self.system: list[ir.TextPart] = []
        self.extra: list[list[Any]] = []  # [message index, raw item]
        self.names: dict[str, str] = {}  # call id -> tool name
        self.tools = tools
        self._cut = False

    def add(self, role: ir.Role, parts: list[ir.Part]) -> None:
        if self.messages and self.messages[-1].role == role and not self._cut:
            self.messages[-1].parts.extend(parts)
        else:
            self.messages.append(ir.Message(role, parts))
        self._cut = False

    def keep(self, item: dict[str, Any]) -> None:
        self.extra.append([len(self.messages), item])
        self._cut = True


def parse_items(items: list[Any], conv: Conversation | None = None) -> Conversation:
    conv = conv or Conversation()
    for i, raw in enumerate(items):
        where = f"input[{i}]"
        if not isinstance(raw, dict):
            _bad(f"'{where}' must be an object.")
        kind = raw.get("type") or ("message" if "role" in raw else None)
        if kind == "message":
            _message(raw, where, conv)
        elif kind in ("function_call", "custom_tool_call"):
            _call(raw, kind, where, conv)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            call_id = _typed(raw.get("call_id"), str, f"{where}.call_id", "a string")
            if not call_id:
                _bad(f"'{where}' ({kind}) needs 'call_id'.")
            content = _output_content(raw.get("output"), f"{where}.output")
            result = ir.ToolResultPart(call_id, content, name=conv.names.get(call_id))
            conv.add("user", [result])
        elif kind == "reasoning":
            conv.add("assistant", [reasoning_part(raw)])
        else:
            conv.keep(raw)  # additional_tools, local_shell_call, item_reference, ...
    return conv


def _call(raw: dict[str, Any], kind: str, where: str, conv: Conversation) -> None:
    """A function_call or custom_tool_call item -> ToolCallPart (a custom
    call's input text becomes ``{"input": text}``)."""
    call_id = _typed(raw.get("call_id"), str, f"{where}.call_id", "a string")
    name = _typed(raw.get("name"), str, f"{where}.name", "a string")
    if not call_id or not name:
        _bad(f"'{where}' ({kind}) needs 'call_id' and 'name'.")
    namespace = raw.get("namespace") if isinstance(raw.get("namespace"), str) else None
    custom = kind == "custom_tool_call"
    if custom:
        text = _typed(raw.get("input"), str, f"{where}.input", "a string")
        args = custom_arguments(text or "")
    else:
        value = raw.get("arguments")
        args = (value if isinstance(value, str) else dump_json(value or {})) or "{}"
    if conv.tools is not None:
        name = conv.tools.note_call(namespace, name, custom)
    conv.names[call_id] = name
    conv.add("assistant", [ir.ToolCallPart(call_id, name, args)])


def _message(raw: dict[str, Any], where: str, conv: Conversation) -> None:
    role = raw.get("role")
    content = raw.get("content")
    if isinstance(content, str):
        parts: list[ir.Part] = [ir.TextPart(content)] if content else []
    elif isinstance(content, list):
        parts = [p for j, c in enumerate(content) if (p := _content(c, f"{where}.content[{j}]"))]
    else:
        _bad(f"'{where}.content' must be a string or an array.")
    if role in ("system", "developer"):
        conv.system.extend(p for p in parts if isinstance(p, ir.TextPart))
    elif role in ("user", "assistant"):
        conv.add(role, parts)
    else:
        _bad(f"'{where}.role' must be user, assistant, system or developer.")


def _content(raw: Any, where: str) -> ir.TextPart | ir.ImagePart | None:
    if not isinstance(raw, dict):
        _bad(f"'{where}' must be an object.")
    kind = raw.get("type")
    if kind in ("input_text", "output_text", "text"):
        text = _typed(raw.get("text"), str, f"{where}.text", "a string")
        return ir.TextPart(text) if text else None
    if kind == "refusal":
        return ir.TextPart(str(raw.get("refusal") or ""))
    if kind == "input_image":
        return _image(raw, where)
    if kind == "input_file":
        data = raw.get("file_data")
        parsed = parse_data_url(data) if isinstance(data, str) else None
        if parsed is not None:
            return ir.ImagePart(data=parsed[1], media_type=parsed[0])
        ref = raw.get("file_url") or raw.get("file_id")
        return ir.ImagePart(url=ref) if isinstance(ref, str) and ref else None
    return None  # input_audio and other parts with no IR form


def _image(raw: dict[str, Any], where: str) -> ir.ImagePart:
    url = raw.get("image_url")
    detail = raw.get("detail") if isinstance(raw.get("detail"), str) else None
    if isinstance(url, dict):  # tolerate the chat-completions spelling
        url = url.get("url")
    if isinstance(url, str) and url:
        parsed = parse_data_url(url)
        if parsed is not None:
            return ir.ImagePart(data=parsed[1], media_type=parsed[0], detail=detail)
        return ir.ImagePart(url=url, detail=detail)
    file_id = raw.get("file_id")
    if isinstance(file_id, str) and file_id:
        return ir.ImagePart(url=file_id, detail=detail)
    _bad(f"'{where}' (input_image) needs 'image_url' or 'file_id'.")


def _output_content(output: Any, where: str) -> list[ir.TextPart | ir.ImagePart]:
    if isinstance(output, str):
        return [ir.TextPart(output)]
    if isinstance(output, list):
        parts = [_content(c, f"{where}[{j}]") for j, c in enumerate(output)]
        return [p for p in parts if p is not None]
    if output is None:
        return []
    return [ir.TextPart(dump_json(output))]


def reasoning_part(raw: dict[str, Any]) -> ir.ThinkingPart:
    """A reasoning item -> ThinkingPart (summary text, id, encrypted_content)."""
    texts = [s.get("text", "") for s in raw.get("summary") or [] if isinstance(s, dict)]
    if not any(texts):  # open-weight models send the raw reasoning as content
        texts = [c.get("text", "") for c in raw.get("content") or [] if isinstance(c, dict)]
    rid = raw.get("id") if isinstance(raw.get("id"), str) else None
    sig = raw.get("encrypted_content") if isinstance(raw.get("encrypted_content"), str) else None
    redacted = bool(rid and rid.startswith(REDACTED_PREFIX))
    return ir.ThinkingPart("\n\n".join(t for t in texts if t), sig, redacted, rid)


def parse_request(body: dict[str, Any]) -> ir.Request:
    if not isinstance(body, dict):
        _bad("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        _bad("'model' is required and must be a string.")
    vendor: dict[str, Any] = {}
    prev = _typed(body.get("previous_response_id"), str, "previous_response_id", "a string")
    if prev:
        vendor["previous_response_id"] = prev
    raw_input = body.get("input")
    if isinstance(raw_input, str):
        items: list[Any] = [{"type": "message", "role": "user", "content": raw_input}]
    elif isinstance(raw_input, list):
        items = raw_input
    elif raw_input is None and prev:
        items = []
    else:
        _bad("'input' is required and must be a string or an array of items.")
    req = ir.Request(model=model)
    tools = _read_tools(body, items, req, vendor)
    conv = Conversation(tools)
    instructions = _typed(body.get("instructions"), str, "instructions", "a string")
    if instructions:
        conv.system.append(ir.TextPart(instructions))
    parse_items(items, conv)
    req.messages, req.system = conv.messages, conv.system
    if conv.extra:
        vendor["extra_input"] = conv.extra
    tools.store(vendor)
    _read_options(body, req, vendor)
    if vendor:
        req.vendor[_V] = vendor
    return req


def _read_tools(
    body: dict[str, Any], items: list[Any], req: ir.Request, vendor: dict[str, Any]
) -> ToolCollector:
    """The tools of ``tools`` and of ``additional_tools`` input items (see
    ``openai_responses_tools``), plus tool_choice and parallel_tool_calls."""
    tools = _typed(body.get("tools"), list, "tools", "an array") or []
    collector = ToolCollector(req)
    others = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            _bad(f"'tools[{i}]' must be an object.")
        if tool.get("type") != "function":
            others.append(tool)  # namespace, custom, web_search, local_shell, mcp, ...
            continue
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            _bad(f"'tools[{i}].name' is required.")
        params = tool.get("parameters")
        collector.add_plain(
            ir.ToolDef(
                name,
                _typed(tool.get("description"), str, f"tools[{i}].description", "a string"),
                params if isinstance(params, dict) else {"type": "object", "properties": {}},
                tool.get("strict") if isinstance(tool.get("strict"), bool) else None,
            )
        )
    if others:
        vendor["tools"] = others  # a Responses upstream gets them as they are
        collector.add_group(others)
    for item in items:
        if isinstance(item, dict) and item.get("type") == "additional_tools":
            collector.add_group(item.get("tools"))
    _read_choice(body, collector, req, vendor)
    return collector


def _read_choice(
    body: dict[str, Any], tools: ToolCollector, req: ir.Request, vendor: dict[str, Any]
) -> None:
    choice = body.get("tool_choice")
    if choice in ("auto", "none", "required"):
        req.tool_choice = ir.ToolChoice(choice)
    elif isinstance(choice, dict) and choice.get("type") == "function" and choice.get("name"):
        req.tool_choice = ir.ToolChoice("tool", str(choice["name"]))
    elif choice is not None:
        vendor["tool_choice"] = choice  # allowed_tools, hosted tools, custom...
        if isinstance(choice, dict) and choice.get("type") == "custom" and choice.get("name"):
            req.tool_choice = ir.ToolChoice("tool", tools.lookup(None, str(choice["name"])))
    req.parallel_tool_calls = _typed(
        body.get("parallel_tool_calls"), bool, "parallel_tool_calls", "a boolean"
    )


def _read_options(body: dict[str, Any], req: ir.Request, vendor: dict[str, Any]) -> None:
    req.max_tokens = _typed(body.get("max_output_tokens"), int, "max_output_tokens", "an integer")
    num = (int, float)
    req.temperature = _typed(body.get("temperature"), num, "temperature", "a number")
    req.top_p = _typed(body.get("top_p"), num, "top_p", "a number")
    req.stream = bool(_typed(body.get("stream"), bool, "stream", "a boolean"))
    req.include_usage = req.stream
    req.user = _typed(body.get("user"), str, "user", "a string")
    req.metadata = _typed(body.get("metadata"), dict, "metadata", "an object")
    reasoning = _typed(body.get("reasoning"), dict, "reasoning", "an object")
    if reasoning is not None:
        effort = reasoning.get("effort") if isinstance(reasoning.get("effort"), str) else None
        summary = reasoning.get("summary") or reasoning.get("generate_summary")
        req.reasoning = ir.Reasoning(
            effort=effort,
            include_thoughts=None if summary is None else summary != "none",
            enabled=False if effort == "none" else None,
        )
        if summary is not None:
            vendor["reasoning_summary"] = summary
    text = _typed(body.get("text"), dict, "text", "an object") or {}
    if isinstance(text.get("format"), dict):
        req.response_format = _response_format(text["format"])
    if text.get("verbosity") is not None:
        vendor["verbosity"] = text["verbosity"]
    store = _typed(body.get("store"), bool, "store", "a boolean")
    if store is not None:
        vendor["store"] = store
    include = _typed(body.get("include"), list, "include", "an array")
    if include:
        vendor["include"] = include
    extra = {k: body[k] for k in _PASSTHROUGH if body.get(k) is not None}
    if extra:
        vendor["extra"] = extra


def _response_format(fmt: dict[str, Any]) -> ir.ResponseFormat:
    kind = fmt.get("type")
    if kind == "json_schema":
        schema = fmt.get("schema")
        return ir.ResponseFormat(
            "json_schema",
            schema=schema if isinstance(schema, dict) else None,
            name=fmt.get("name") if isinstance(fmt.get("name"), str) else None,
            strict=fmt.get("strict") if isinstance(fmt.get("strict"), bool) else None,
        )
    if kind == "json_object":
        return ir.ResponseFormat("json_object")
    return ir.ResponseFormat("text")


# ---------------------------------------------------------------- rendering


def render_request(req: ir.Request) -> dict[str, Any]:
    vendor = req.vendor.get(_V, {})
    body: dict[str, Any] = {"model": req.model, "input": input_items(req, upstream=True)}
    if req.system:
        body["instructions"] = "\n\n".join(p.text for p in req.system)
    # Tools the client sent in other shapes (namespaces, custom tools,
    # additional_tools items) go out in those shapes, not flattened.
    derived = tool_map(req)
    tools = [_render_tool(t) for t in req.tools if t.name not in derived]
    tools += vendor.get("tools", [])
    if tools:
        body["tools"] = tools
    if "tool_choice" in vendor:
        body["tool_choice"] = vendor["tool_choice"]
    elif req.tool_choice is not None:
        tc = req.tool_choice
        body["tool_choice"] = (
            {"type": "function", "name": tc.name} if tc.mode == "tool" else tc.mode
        )
    for key, value in (
        ("parallel_tool_calls", req.parallel_tool_calls),
        ("max_output_tokens", req.max_tokens),
        ("temperature", req.temperature),
        ("top_p", req.top_p),
        ("metadata", req.metadata),
        ("user", upstream_user(req.user)),
        ("previous_response_id", vendor.get("previous_response_id")),
    ):
        if value is not None:
            body[key] = value
    reasoning = _render_reasoning(req.reasoning, vendor)
    if reasoning:
        body["reasoning"] = reasoning
    text = _render_text(req.response_format, vendor)
    if text:
        body["text"] = text
    body["stream"] = req.stream
    # Nothing is kept upstream unless the client asked; reasoning then travels
    # encrypted inside the items (platform.openai.com/docs/guides/reasoning).
    body["store"] = bool(vendor.get("store", False))
    include = list(vendor.get("include", []))
    if reasoning and "reasoning.encrypted_content" not in include:
        include.append("reasoning.encrypted_content")
    if include:
        body["include"] = include
    body.update(vendor.get("extra", {}))
    return body


def _render_tool(tool: ir.ToolDef) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "function", "name": tool.name}
    if tool.description:
        out["description"] = tool.description
    out["parameters"] = tool.parameters
    # Responses function tools are strict unless told otherwise, and strict
    # mode rejects most schemas written for other APIs.
    out["strict"] = bool(tool.strict)
    return out


def _render_reasoning(reasoning: ir.Reasoning | None, vendor: dict[str, Any]) -> dict[str, Any]:
    if reasoning is None or reasoning.enabled is False:
        return {}
    effort = reasoning.effort
    if effort is None and reasoning.budget_tokens is not None:
        effort = budget_to_effort(reasoning.budget_tokens)
    out: dict[str, Any] = {}
    if effort:
        out["effort"] = effort
    summary = vendor.get("reasoning_summary")
    if summary is None and reasoning.include_thoughts:
        summary = "auto"
    if summary is not None:
        out["summary"] = summary
    if not out and reasoning.enabled:
        out["effort"] = "medium"  # on, size left to us: OpenAI's default
    return out


def _render_text(fmt: ir.ResponseFormat | None, vendor: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if fmt is not None:
        spec: dict[str, Any] = {"type": fmt.type}
        if fmt.type == "json_schema":
            spec["name"] = fmt.name or "response"
            spec["schema"] = fmt.schema or {"type": "object"}
            if fmt.strict is not None:
                spec["strict"] = fmt.strict
        out["format"] = spec
    if "verbosity" in vendor:
        out["verbosity"] = vendor["verbosity"]
    return out

"""Gemini request bodies <-> ``ir.Request`` (see ``omniroute.formats.gemini``)."""

from __future__ import annotations

from typing import Any

from omniroute import errors
from omniroute.formats import ir
from omniroute.formats.common import effort_to_budget
from omniroute.formats.gemini_parts import (
    Pairing,
    as_arr,
    as_int,
    as_num,
    as_obj,
    as_str,
    get_field,
    id_factory,
    json_schema_from_gemini,
    parse_parts,
    render_parts,
)
from omniroute.formats.gemini_schema import clean_gemini_schema

_V = "gemini"  # our key in ir vendor dicts

# generationConfig fields with no IR home, passed on to a Gemini upstream as is.
_GEN_PASSTHROUGH = (
    "presencePenalty",
    "frequencyPenalty",
    "responseLogprobs",
    "logprobs",
    "responseModalities",
    "speechConfig",
    "mediaResolution",
    "imageConfig",
    "enableEnhancedCivicAnswers",
)


# ----------------------------------------------------------- request parsing


def parse_request(body: dict[str, Any]) -> ir.Request:
    """A generateContent body (or a countTokens body, which may wrap one in
    ``generateContentRequest``) -> IR, ``model=""`` (it is in the URL)."""
    if not isinstance(body, dict):
        raise errors.BadRequest("The request body must be a JSON object.")
    inner = get_field(body, "generateContentRequest")
    if get_field(body, "contents") is None and isinstance(inner, dict):
        body = inner
    contents = get_field(body, "contents")
    if not isinstance(contents, list) or not contents:
        raise errors.BadRequest("'contents' must be a non-empty array of Content objects.")
    req = ir.Request(model="", messages=_parse_contents(contents))
    req.system = _parse_system(get_field(body, "systemInstruction"))
    vendor: dict[str, Any] = {}
    req.tools = _parse_tools(as_arr(get_field(body, "tools"), "tools"), vendor)
    tool_config = as_obj(get_field(body, "toolConfig"), "toolConfig")
    req.tool_choice = _parse_tool_config(tool_config, vendor)
    gen_config = as_obj(get_field(body, "generationConfig"), "generationConfig")
    _parse_generation_config(gen_config, req, vendor)
    for key, vkey in (("safetySettings", "safety_settings"), ("cachedContent", "cached_content")):
        if get_field(body, key) is not None:
            vendor[vkey] = get_field(body, key)
    if vendor:
        req.vendor[_V] = vendor
    return req


def parse_count_tokens_request(body: dict[str, Any]) -> ir.Request:
    """A ``:countTokens`` body: ``{contents}`` or ``{generateContentRequest}``
    (``parse_request`` takes both; this name says what the caller means)."""
    return parse_request(body)


def _parse_contents(contents: list[Any]) -> list[ir.Message]:
    messages: list[ir.Message] = []
    pairing = Pairing()
    for turn, content in enumerate(contents):
        where = f"contents[{turn}]"
        content = as_obj(content, where)
        role = get_field(content, "role") or "user"
        if role not in ("user", "model", "function", "tool"):
            raise errors.BadRequest(f"'{where}.role' must be 'user' or 'model', not {role!r}.")
        parts = as_arr(get_field(content, "parts"), f"{where}.parts")
        out = parse_parts(parts, where, id_factory("turn", str(turn)), pairing, client=True)
        ir_role: ir.Role = "assistant" if role == "model" else "user"
        if ir_role == "assistant":
            pairing.model_turn(out)
        messages.append(ir.Message(ir_role, out))
    return messages


def _parse_system(value: Any) -> list[ir.TextPart]:
    if value is None:
        return []
    if isinstance(value, str):
        return [ir.TextPart(value)] if value else []
    system = as_obj(value, "systemInstruction")
    parts = as_arr(get_field(system, "parts"), "systemInstruction.parts")
    out: list[ir.TextPart] = []
    for i, part in enumerate(parts):
        text = as_str(as_obj(part, f"systemInstruction.parts[{i}]").get("text"), "text")
        if text:
            out.append(ir.TextPart(text))
    return out


def _parse_tools(tools: list[Any], vendor: dict[str, Any]) -> list[ir.ToolDef]:
    out: list[ir.ToolDef] = []
    others: list[dict[str, Any]] = []
    for i, raw in enumerate(tools):
        tool = as_obj(raw, f"tools[{i}]")
        for key, value in tool.items():
            if key not in ("functionDeclarations", "function_declarations"):
                others.append({key: value})
                continue
            where = f"tools[{i}].functionDeclarations"
            for j, decl in enumerate(as_arr(value, where)):
                out.append(_parse_declaration(as_obj(decl, f"{where}[{j}]")))
    if others:
        vendor["tools"] = others
    return out


def _parse_declaration(decl: dict[str, Any]) -> ir.ToolDef:
    name = as_str(decl.get("name"), "functionDeclarations.name")
    if not name:
        raise errors.BadRequest("Every function declaration needs a 'name'.")
    tool = ir.ToolDef(name, as_str(decl.get("description"), "functionDeclarations.description"))
    json_schema = get_field(decl, "parametersJsonSchema")
    if isinstance(json_schema, dict):
        tool.parameters = json_schema
    elif isinstance(decl.get("parameters"), dict):
        tool.parameters = json_schema_from_gemini(decl["parameters"])
    return tool


def _parse_tool_config(config: dict[str, Any], vendor: dict[str, Any]) -> ir.ToolChoice | None:
    fcc = as_obj(get_field(config, "functionCallingConfig"), "toolConfig.functionCallingConfig")
    mode = str(fcc.get("mode") or "").upper()
    names = as_arr(get_field(fcc, "allowedFunctionNames"), "allowedFunctionNames")
    if mode == "ANY" and len(names) == 1:
        return ir.ToolChoice("tool", str(names[0]))
    if names:
        vendor["allowed_function_names"] = names
    if mode == "VALIDATED":
        vendor["function_calling_mode"] = mode
    if mode in ("AUTO", "VALIDATED"):
        return ir.ToolChoice("auto")
    if mode == "ANY":
        return ir.ToolChoice("required")
    if mode == "NONE":
        return ir.ToolChoice("none")
    return None


def _parse_generation_config(gc: dict[str, Any], req: ir.Request, vendor: dict[str, Any]) -> None:
    w = "generationConfig."
    req.temperature = as_num(get_field(gc, "temperature"), w + "temperature")
    req.top_p = as_num(get_field(gc, "topP"), w + "topP")
    req.top_k = as_int(get_field(gc, "topK"), w + "topK")
    req.max_tokens = as_int(get_field(gc, "maxOutputTokens"), w + "maxOutputTokens")
    req.seed = as_int(get_field(gc, "seed"), w + "seed")
    stops = as_arr(get_field(gc, "stopSequences"), w + "stopSequences")
    if not all(isinstance(s, str) for s in stops):
        raise errors.BadRequest("'generationConfig.stopSequences' must be an array of strings.")
    req.stop = list(stops)
    count = as_int(get_field(gc, "candidateCount"), w + "candidateCount")
    if count not in (None, 1):
        raise errors.BadRequest("'generationConfig.candidateCount' must be 1.")
    req.response_format = _parse_response_format(gc, vendor)
    thinking = as_obj(get_field(gc, "thinkingConfig"), w + "thinkingConfig")
    req.reasoning = _parse_thinking(thinking, vendor)
    extra = {k: get_field(gc, k) for k in _GEN_PASSTHROUGH if get_field(gc, k) is not None}
    if extra:
        vendor["generation_config"] = extra


def _parse_response_format(gc: dict[str, Any], vendor: dict[str, Any]) -> ir.ResponseFormat | None:
    mime = as_str(get_field(gc, "responseMimeType"), "generationConfig.responseMimeType")
    schema = get_field(gc, "responseJsonSchema") or get_field(gc, "responseSchema")
    if mime == "application/json":
        if isinstance(schema, dict):
            return ir.ResponseFormat("json_schema", schema=json_schema_from_gemini(schema))
        return ir.ResponseFormat("json_object")
    if mime and mime != "text/plain":
        vendor["response_mime_type"] = mime  # e.g. text/x.enum
        if schema is not None:
            vendor["response_schema"] = schema
    return None


def _parse_thinking(tc: dict[str, Any], vendor: dict[str, Any]) -> ir.Reasoning | None:
    """thinkingConfig -> IR. Gemini returns thought summaries only when
    ``includeThoughts`` is true, so its absence means False here (other
    formats' thinking controls imply visible thinking, see _render_thinking)."""
    if not tc:
        return None
    budget = as_int(get_field(tc, "thinkingBudget"), "thinkingConfig.thinkingBudget")
    level = as_str(get_field(tc, "thinkingLevel"), "thinkingConfig.thinkingLevel")
    include = get_field(tc, "includeThoughts")
    out = ir.Reasoning(include_thoughts=include if isinstance(include, bool) else False)
    if budget == 0:
        out.enabled = False  # thinking off
    elif budget == -1:
        out.enabled = True  # dynamic: the model picks its budget
    elif budget is not None:
        out.budget_tokens = budget
    if level:
        out.effort = level.lower()
        vendor["thinking_level"] = level
    return out


# ---------------------------------------------------------- request rendering


def render_request(req: ir.Request) -> dict[str, Any]:
    vendor = req.vendor.get(_V, {})
    names = {p.id: p.name for m in req.messages for p in m.parts if isinstance(p, ir.ToolCallPart)}
    contents = []
    for msg in req.messages:
        parts = render_parts(msg.parts, names)
        if parts:
            role = "model" if msg.role == "assistant" else "user"
            contents.append({"role": role, "parts": parts})
    body: dict[str, Any] = {"contents": contents}
    if req.system:
        body["systemInstruction"] = {"parts": [{"text": p.text} for p in req.system]}
    tools = _render_tools(req.tools, vendor)
    if tools:
        body["tools"] = tools
    tool_config = _render_tool_config(req.tool_choice, vendor)
    if tool_config:
        body["toolConfig"] = tool_config
    gen = _render_generation_config(req, vendor)
    if gen:
        body["generationConfig"] = gen
    if "safety_settings" in vendor:
        body["safetySettings"] = vendor["safety_settings"]
    if "cached_content" in vendor:
        body["cachedContent"] = vendor["cached_content"]
    return body


def _render_tools(tools: list[ir.ToolDef], vendor: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if tools:
        decls = []
        for tool in tools:
            decl: dict[str, Any] = {"name": tool.name}
            if tool.description:
                decl["description"] = tool.description
            params = clean_gemini_schema(tool.parameters)
            # Gemini rejects an OBJECT schema with no properties; no parameters is fine.
            if params.get("properties"):
                decl["parameters"] = params
            decls.append(decl)
        out.append({"functionDeclarations": decls})
    out.extend(vendor.get("tools", []))
    return out


def _render_tool_config(choice: ir.ToolChoice | None, vendor: dict[str, Any]) -> dict[str, Any]:
    mode = vendor.get("function_calling_mode")
    names = vendor.get("allowed_function_names")
    if choice is not None:
        if choice.mode == "tool" and choice.name:
            mode, names = "ANY", [choice.name]
        elif not (choice.mode == "auto" and mode):
            mode = {"auto": "AUTO", "none": "NONE", "required": "ANY"}.get(choice.mode, "AUTO")
    if not mode:
        return {}
    fcc: dict[str, Any] = {"mode": mode}
    if names and mode in ("ANY", "VALIDATED"):
        fcc["allowedFunctionNames"] = names
    return {"functionCallingConfig": fcc}


def _render_generation_config(req: ir.Request, vendor: dict[str, Any]) -> dict[str, Any]:
    gen: dict[str, Any] = {}
    for key, value in (
        ("temperature", req.temperature),
        ("topP", req.top_p),
        ("topK", req.top_k),
        ("maxOutputTokens", req.max_tokens),
        ("seed", req.seed),
    ):
        if value is not None:
            gen[key] = value
    if req.stop:
        gen["stopSequences"] = list(req.stop)
    fmt = req.response_format
    if fmt is not None and fmt.type != "text":
        gen["responseMimeType"] = "application/json"
        if fmt.type == "json_schema" and fmt.schema:
            gen["responseSchema"] = clean_gemini_schema(fmt.schema)
    elif "response_mime_type" in vendor:
        gen["responseMimeType"] = vendor["response_mime_type"]
        if "response_schema" in vendor:
            gen["responseSchema"] = vendor["response_schema"]
    thinking = _render_thinking(req.reasoning, vendor)
    if thinking:
        gen["thinkingConfig"] = thinking
    gen.update(vendor.get("generation_config", {}))
    return gen


def _render_thinking(reasoning: ir.Reasoning | None, vendor: dict[str, Any]) -> dict[str, Any]:
    """Effort -> budget by ``common.effort_to_budget``; ``enabled=False`` (or
    effort "none") -> budget 0; enabled without a size -> -1 (dynamic). A
    thinkingLevel the client sent is kept when nothing else changed.

    Gemini sends thought summaries only with ``includeThoughts: true``
    (ai.google.dev/gemini-api/docs/thinking#summaries); thinking asked for
    without saying whether to show it (an Anthropic client, a reasoning
    effort) asks for them, an explicit False stays False."""
    if reasoning is None:
        return {}
    out: dict[str, Any] = {}
    level = vendor.get("thinking_level")
    thinking_off = (
        reasoning.enabled is False or reasoning.effort == "none" or reasoning.budget_tokens == 0
    )
    if reasoning.enabled is False or reasoning.effort == "none":
        out["thinkingBudget"] = 0
    elif reasoning.budget_tokens is not None:
        out["thinkingBudget"] = reasoning.budget_tokens
    elif reasoning.effort and level and level.lower() == reasoning.effort:
        out["thinkingLevel"] = level
    elif reasoning.effort:
        out["thinkingBudget"] = effort_to_budget(reasoning.effort)
    elif reasoning.enabled:
        out["thinkingBudget"] = -1
    include = reasoning.include_thoughts
    if include is None and not thinking_off:
        asked = reasoning.enabled or reasoning.budget_tokens is not None or reasoning.effort
        include = True if asked else None
    if include is not None:
        out["includeThoughts"] = include
    return out

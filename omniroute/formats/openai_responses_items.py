"""Responses input items written from the IR: the conversation as a Responses
upstream (or the gateway's own conversation memory) reads it.

Assistant turns become ``reasoning``, ``message`` and ``function_call`` (or
``custom_tool_call``) items; user turns ``message`` items and tool results
``function_call_output`` items. Reasoning items keep their ids, stable ones
are made for those that have none.
"""

from __future__ import annotations

import re
from typing import Any

from omniroute.formats import ir
from omniroute.formats.common import make_data_url, stable_id
from omniroute.formats.openai_responses_tools import custom_input, tool_map

_V = "openai-responses"
# OpenAI file ids ride in ImagePart.url (file-...).
FILE_ID = re.compile(r"file-[A-Za-z0-9_-]+")

# The id prefix of a reasoning item that carries Anthropic redacted thinking,
# so that it parses back as redacted when a client sends it again.
REDACTED_PREFIX = "rs_redacted_"


def input_items(req: ir.Request, *, upstream: bool = False) -> list[dict[str, Any]]:
    """The conversation of ``req`` as Responses input items (what a client
    would send, so also what to store for ``previous_response_id``).

    With ``upstream`` (a real OpenAI upstream), reasoning goes out only when
    it can be checked there: signed (encrypted_content) and not redacted, or
    a bare id when the request stores state upstream."""
    extra = req.vendor.get(_V, {}).get("extra_input", [])
    stored = bool(req.vendor.get(_V, {}).get("store"))
    tools = tool_map(req)
    custom = {
        p.id
        for m in req.messages
        for p in m.parts
        if isinstance(p, ir.ToolCallPart) and tools.get(p.name, {}).get("custom")
    }
    out: list[dict[str, Any]] = []
    for k, msg in enumerate(req.messages):
        out.extend(item for pos, item in extra if pos == k)
        if msg.role == "user":
            _render_user(msg.parts, out, custom)
        else:
            _render_assistant(msg.parts, out, tools, upstream=upstream, stored=stored)
    out.extend(item for pos, item in extra if pos >= len(req.messages))
    return out


def _render_user(parts: list[ir.Part], out: list[dict[str, Any]], custom: set[str]) -> None:
    content: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, ir.TextPart):
            content.append({"type": "input_text", "text": part.text})
        elif isinstance(part, ir.ImagePart):
            content.append(render_image(part))
        elif isinstance(part, ir.ToolResultPart):
            if content:
                out.append({"type": "message", "role": "user", "content": content})
                content = []
            out.append(_render_result(part, part.call_id in custom))
    if content:
        out.append({"type": "message", "role": "user", "content": content})


def _render_result(part: ir.ToolResultPart, custom: bool = False) -> dict[str, Any]:
    output: str | list[dict[str, Any]]
    if all(isinstance(c, ir.TextPart) for c in part.content):
        output = "".join(c.text for c in part.content if isinstance(c, ir.TextPart))
    else:
        output = [
            {"type": "input_text", "text": c.text}
            if isinstance(c, ir.TextPart)
            else render_image(c)
            for c in part.content
        ]
    kind = "custom_tool_call_output" if custom else "function_call_output"
    return {"type": kind, "call_id": part.call_id, "output": output}


def render_image(part: ir.ImagePart) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "input_image", "detail": part.detail or "auto"}
    if part.data is not None:
        out["image_url"] = make_data_url(part.media_type or "image/png", part.data)
    elif part.url and FILE_ID.fullmatch(part.url):
        out["file_id"] = part.url
    else:
        out["image_url"] = part.url or ""
    return out


def _render_assistant(
    parts: list[ir.Part],
    out: list[dict[str, Any]],
    tools: dict[str, dict[str, Any]],
    *,
    upstream: bool,
    stored: bool,
) -> None:
    texts: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, ir.TextPart):
            texts.append({"type": "output_text", "text": part.text, "annotations": []})
            continue
        if texts:
            out.append({"type": "message", "role": "assistant", "content": texts})
            texts = []
        if isinstance(part, ir.ToolCallPart):
            out.append(call_item(part, tools.get(part.name)))
        elif isinstance(part, ir.ThinkingPart):
            if upstream and (part.redacted or not (part.signature or (stored and part.id))):
                continue
            out.append(reasoning_item(part, seed=str(len(out))))
    if texts:
        out.append({"type": "message", "role": "assistant", "content": texts})


def call_item(part: ir.ToolCallPart, client: dict[str, Any] | None) -> dict[str, Any]:
    """A tool call as the client declared the tool (``client``: its tool map
    entry): a custom_tool_call or a function_call, with its namespace."""
    item: dict[str, Any]
    if client and client.get("custom"):
        item = {"type": "custom_tool_call", "call_id": part.id}
        item.update(name=client["name"], input=custom_input(part.arguments))
    else:
        item = {"type": "function_call", "call_id": part.id}
        item.update(name=client["name"] if client else part.name, arguments=part.arguments)
    if client and client.get("namespace"):
        item["namespace"] = client["namespace"]
    return item


def reasoning_item(part: ir.ThinkingPart, seed: str) -> dict[str, Any]:
    """A reasoning item for a ThinkingPart. Without an id, one is derived
    from the signature (or ``seed``), marked when the thinking is redacted."""
    rid = part.id
    if not rid or (part.redacted and not rid.startswith(REDACTED_PREFIX)):
        prefix = REDACTED_PREFIX if part.redacted else "rs_"
        rid = stable_id(prefix, part.signature or seed)
    item: dict[str, Any] = {
        "type": "reasoning",
        "id": rid,
        "summary": [{"type": "summary_text", "text": part.text}] if part.text else [],
    }
    if part.signature:
        item["encrypted_content"] = part.signature
    return item

"""OpenAI Responses wire format (``POST /v1/responses``; what Codex CLI speaks).

Reference: platform.openai.com/docs/api-reference/responses. The code lives
in ``openai_responses_request`` (request bodies and input items),
``openai_responses_response`` (response objects, usage) and
``openai_responses_stream`` (typed SSE events); this module is the format's
public face, plus the helpers the pipeline uses for ``previous_response_id``.

Mapping to the IR
- ``instructions`` and system/developer messages -> ``Request.system``.
- Consecutive items of one side make one IR message: user messages and
  ``function_call_output`` items -> a user message (tool results as
  ToolResultPart); ``reasoning``, assistant ``message`` and ``function_call``
  items -> an assistant message.
- ``function_call.call_id`` is the IR tool-call id (kept exactly); the item's
  own ``fc_`` id is rebuilt from the response id and call id.
- A ``reasoning`` item -> ``ThinkingPart(text=summaries joined by a blank
  line, signature=encrypted_content, id=item id)``. Anthropic redacted
  thinking gets an id starting with ``rs_redacted_`` so it parses back as
  redacted when the client sends it again.
- Tools: function tools, the members of ``namespace`` groups and ``custom``
  (free-form) tools, whether in ``tools`` or in ``additional_tools`` input
  items (Codex's Responses Lite), become flat ToolDefs; a custom tool is a
  function of one string, ``input``. ``custom_tool_call`` items are
  ToolCallParts with arguments ``{"input": text}``; ``custom_tool_call_output``
  items are ToolResultParts. ``vendor["openai-responses"]["tool_map"]`` says
  how the client knows each such ToolDef, so calls go back to the client as
  custom_tool_call items with their namespace; see ``openai_responses_tools``.
- Items and tools with no IR form (local_shell_call, web_search,
  item_reference, the additional_tools items themselves...) ride in
  ``vendor["openai-responses"]`` (``extra_input`` with their position,
  ``tools``, ``tool_choice``) so a Responses upstream still gets them as
  sent; other formats never see them.
- OpenAI file ids (``file-...``) ride in ``ImagePart.url``.
- ``render_request`` (to a Responses upstream) sends ``store: false`` unless
  the client said otherwise and asks for ``reasoning.encrypted_content``
  when reasoning is on; it sends reasoning items only when OpenAI can check
  them (signed, or a bare id with ``store: true``); unsigned thinking from
  other formats is left out. ``previous_response_id`` is forwarded when it is
  still in the vendor dict: the pipeline removes it (``apply_history``) when
  it resolves the conversation itself.

Vendor keys (``vendor["openai-responses"]``): previous_response_id, store,
include, reasoning_summary, verbosity, tools, tool_choice, tool_map,
extra_input, extra (prompt_cache_key, service_tier, truncation...); on a
Response, extra_output and echo.

Answers need the request's tool map to show custom tool calls: the caller
passes ``answer_echo(req, echo)`` as the answer's ``echo`` (the Response's
``vendor["openai-responses"]["echo"]`` and ``StreamEncoder(echo=...)``);
the renderers take the map out and repeat only the real response fields.
"""

from __future__ import annotations

import json
from typing import Any

from omniroute.formats import ir
from omniroute.formats.common import dump_json, estimate_request_tokens
from omniroute.formats.openai_chat import parse_error, render_error
from omniroute.formats.openai_responses_items import input_items
from omniroute.formats.openai_responses_request import (
    Conversation,
    parse_items,
    parse_request,
    render_request,
)
from omniroute.formats.openai_responses_response import (
    output_items,
    parse_response,
    parse_usage,
    render_response,
    render_usage,
)
from omniroute.formats.openai_responses_stream import StreamDecoder, StreamEncoder, error_event
from omniroute.formats.openai_responses_tools import ToolCollector, answer_echo, tool_map
from omniroute.formats.sse import SSEEvent, encode_sse
from omniroute.formats.wire import WireFormat, input_tokens_count, no_usage_trailer, usage_field

NAME = "openai-responses"

__all__ = [
    "FORMAT",
    "NAME",
    "StreamDecoder",
    "StreamEncoder",
    "answer_echo",
    "apply_history",
    "error_event",
    "input_items_from_request",
    "output_items",
    "parse_error",
    "parse_request",
    "parse_response",
    "previous_response_id",
    "render_error",
    "render_request",
    "render_response",
    "render_usage",
    "request_echo",
]


# ------------------------------------------------- previous_response_id support
#
# The gateway keeps Responses conversations itself when the upstream is not a
# Responses upstream (or when the client stores but the upstream does not):
#
#   after answering:  store(resp_id, input_items_from_request(req) + output_items(resp))
#   on a new request: prev = previous_response_id(req)
#                     if prev: apply_history(req, stored_items(prev))
#
# ``resp_id`` is ``render_response(resp)["id"]`` (or the id in the stream's
# response.completed event). Stored items are plain JSON, safe to persist.
# Instructions are not carried over, as the Responses API documents.


# Request fields a response object repeats as they were sent (the API
# reference's Response object): a translated answer shows them too.
_REPEATED = (
    "instructions",
    "max_output_tokens",
    "metadata",
    "parallel_tool_calls",
    "temperature",
    "tool_choice",
    "top_p",
    "user",
)


def request_echo(body: dict[str, Any]) -> dict[str, Any]:
    """The fields of a client's request body its answer repeats."""
    return {key: body[key] for key in _REPEATED if body.get(key) is not None}


def previous_response_id(req: ir.Request) -> str | None:
    """The ``previous_response_id`` the client sent, if any."""
    value = req.vendor.get(NAME, {}).get("previous_response_id")
    return value if isinstance(value, str) and value else None


def input_items_from_request(req: ir.Request) -> list[dict[str, Any]]:
    """The request's conversation as Responses input items (system text is
    not included: instructions are per request)."""
    return input_items(req)


def apply_history(req: ir.Request, items: list[dict[str, Any]]) -> None:
    """Put a stored conversation (input items) before ``req``'s messages and
    drop ``previous_response_id`` so an upstream does not get both. Tools
    the history declared (additional_tools items) join the request's."""
    tools = ToolCollector(req, tool_map(req))
    for item in items:
        if isinstance(item, dict) and item.get("type") == "additional_tools":
            tools.add_group(item.get("tools"))
    history = parse_items(items, Conversation(tools))
    req.messages[:0] = history.messages
    for msg in req.messages:  # results in the new input whose calls were in the history
        for part in msg.parts:
            if isinstance(part, ir.ToolResultPart) and part.name is None:
                part.name = history.names.get(part.call_id)
    if tools.tool_map:
        tools.store(req.vendor.setdefault(NAME, {}))
    vendor = req.vendor.get(NAME)
    if vendor is not None:
        vendor.pop("previous_response_id", None)
        if history.extra:
            shift = len(history.messages)
            moved = [[pos + shift, item] for pos, item in vendor.get("extra_input", [])]
            vendor["extra_input"] = history.extra + moved


def _with_usage(answer: dict[str, Any], usage: ir.Usage) -> dict[str, Any]:
    return {**answer, "usage": render_usage(usage)}


def _usage_before_event(
    event: SSEEvent, usage: ir.Usage, answer_id: str | None, model: str, include_usage: bool
) -> bytes | None:
    """The usage of ``response.completed``, when that event has none."""
    if event.event != "response.completed":
        return None
    try:
        obj = json.loads(event.data)
    except ValueError:
        return None
    response = obj.get("response") if isinstance(obj, dict) else None
    if not isinstance(response, dict) or response.get("usage"):
        return None
    response["usage"] = render_usage(usage)
    return encode_sse(dump_json(obj), event.event)


def _encoder(model: str, include_usage: bool, echo: dict[str, Any] | None) -> StreamEncoder:
    return StreamEncoder(model, include_usage=include_usage, echo=echo)


FORMAT = WireFormat(
    name=NAME,
    answer_id_prefix="resp_",
    parse_request=parse_request,
    render_request=render_request,
    parse_response=parse_response,
    render_response=render_response,
    stream_decoder=StreamDecoder,
    stream_encoder=_encoder,
    parse_error=parse_error,
    render_error=render_error,
    error_event=error_event,
    render_usage=render_usage,
    answer_usage=usage_field("usage", parse_usage),
    render_token_count=input_tokens_count,
    count_tokens_estimate=estimate_request_tokens,
    with_usage=_with_usage,
    usage_before_event=_usage_before_event,
    usage_trailer=no_usage_trailer,
)

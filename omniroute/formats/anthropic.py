"""Anthropic Messages (``POST /v1/messages``) <-> IR.

The code lives in ``anthropic_request`` (with the token estimate),
``anthropic_response`` (answers, usage, errors) and ``anthropic_stream``; this
module is the format's one public face.

Wire reference: https://docs.anthropic.com/en/api/messages and
https://docs.anthropic.com/en/docs/build-with-claude/streaming (event types),
.../extended-thinking (thinking blocks, signatures, budget rules).

Choices this module makes:
- ``vendor["anthropic"]`` holds top-level request fields with no IR form
  (container, mcp_servers, service_tier, output_config...), merged back by
  ``render_request`` without overriding. Keys starting with ``_`` are our own
  notes: ``_blocks`` (content blocks with no IR form, e.g. ``document``, and
  where they were), ``_server_tools`` (tools with a ``type`` such as
  web_search), ``_adaptive`` (thinking ``{"type": "adaptive"}``), ``_display``
  (the client's ``thinking.display``, sent back with thinking on).
- Thinking enabled or adaptive parses with ``include_thoughts=True`` (the
  client gets thinking text) unless ``display`` is ``"omitted"`` (False).
- ``max_tokens`` is required by Anthropic: without one we send
  ``DEFAULT_MAX_TOKENS``; with thinking on, at least the budget plus half
  that default (the budget must be below max_tokens).
- Reasoning effort becomes a thinking budget by ``common.EFFORT_BUDGETS``;
  when the client's own max_tokens leaves no room, the budget shrinks (never
  below Anthropic's minimum of 1024) or thinking is left off.
- With thinking on Anthropic accepts neither temperature (other than 1),
  top_k, top_p below 0.95, nor a forced tool choice: the sampling fields are
  dropped; a forced tool choice wins and thinking is left off.
- ``response_format`` json_object/json_schema becomes a system instruction to
  answer with JSON only (matching the schema when there is one).
- Unsigned thinking (from a non-Anthropic model) cannot be sent back to
  Anthropic (the signature is verified) and is omitted from requests; in a
  response it is rendered with an empty signature.
- With thinking on, Anthropic requires the last assistant turn of a tool loop
  to start with its signed thinking; when the history lacks it (it came from
  another model or a client that drops thinking) thinking is left off for
  that request instead of failing it.
- No Anthropic form, dropped: ``seed``, ``metadata`` other than ``user_id``,
  tool ``strict`` (a beta), image ``detail``.
- ``stop_reason`` ``pause_turn`` has no IR value: it parses as end_turn and
  is kept in ``Response.vendor["anthropic"]`` so an Anthropic client gets it
  back from a JSON answer (streams report end_turn).
- Tool-call ids are made to match Anthropic's ``^[a-zA-Z0-9_-]+$`` by
  replacing other characters with ``_`` (same mapping for tool_use and
  tool_result, so pairs still match).
"""

from __future__ import annotations

from typing import Any

from omniroute.formats import ir
from omniroute.formats.anthropic_request import (
    DEFAULT_MAX_TOKENS,
    MIN_THINKING_BUDGET,
    NAME,
    count_tokens_estimate,
    parse_request,
    render_request,
)
from omniroute.formats.anthropic_response import (
    error_event,
    parse_error,
    parse_response,
    parse_usage,
    render_error,
    render_response,
    render_usage,
)
from omniroute.formats.anthropic_stream import StreamDecoder, StreamEncoder
from omniroute.formats.wire import (
    WireFormat,
    input_tokens_count,
    no_usage_event,
    no_usage_trailer,
    usage_field,
)

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "FORMAT",
    "MIN_THINKING_BUDGET",
    "NAME",
    "StreamDecoder",
    "StreamEncoder",
    "count_tokens_estimate",
    "error_event",
    "parse_error",
    "parse_request",
    "parse_response",
    "parse_usage",
    "render_error",
    "render_request",
    "render_response",
    "render_usage",
]


def _with_usage(answer: dict[str, Any], usage: ir.Usage) -> dict[str, Any]:
    return {**answer, "usage": render_usage(usage)}


def _encoder(model: str, include_usage: bool, echo: dict[str, Any] | None) -> StreamEncoder:
    return StreamEncoder(model)


# Anthropic streams always carry usage (message_start and message_delta), so a
# passed-through stream never needs any added.
FORMAT = WireFormat(
    name=NAME,
    answer_id_prefix="msg_",
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
    count_tokens_estimate=count_tokens_estimate,
    with_usage=_with_usage,
    usage_before_event=no_usage_event,
    usage_trailer=no_usage_trailer,
)

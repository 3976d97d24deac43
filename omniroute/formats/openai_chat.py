"""OpenAI Chat Completions (``POST /v1/chat/completions``) <-> IR.

The code lives in ``openai_chat_request``, ``openai_chat_response`` (answers,
usage, errors) and ``openai_chat_stream``; this module is the format's one
public face.

Wire reference: https://platform.openai.com/docs/api-reference/chat (request,
``chat.completion`` object, ``chat.completion.chunk`` stream).

Choices this module makes:
- ``vendor["openai"]`` holds request fields with no IR form (penalties,
  logprobs, service_tier...); ``render_request`` merges them back without
  overriding what it rendered. Keys starting with ``_`` are our own notes
  (``_developer``: instructions came as role developer; ``_max_tokens_key``:
  which limit field the client used; ``_parts``: audio/file content parts and
  where they were) and are never sent as such.
- Thinking in assistant history is rendered as ``reasoning_content`` only when
  it has text and no signature (it came from an OpenAI-compatible reasoner;
  DeepSeek and Kimi want it back in tool loops). Signed or redacted thinking
  from Anthropic/Gemini means nothing to another provider and is omitted.
- ``is_error`` of a tool result and images inside tool results have no Chat
  form: the text goes in the role-tool message, the images follow in a user
  message.
- ``top_k`` is not a Chat Completions parameter (OpenAI rejects it): dropped.
- Cache marks (``cache_control`` on text parts, an OpenRouter extension) are
  read but never rendered (OpenAI would reject them).
- The limit goes out as ``max_tokens`` (what every compatible server knows)
  unless the client used ``max_completion_tokens`` or reasoning is requested
  (OpenAI's reasoning models accept only ``max_completion_tokens``).
"""

from __future__ import annotations

import time
from typing import Any

from omniroute.formats import ir
from omniroute.formats.common import dump_json, estimate_request_tokens
from omniroute.formats.openai_chat_request import NAME, parse_request, render_request
from omniroute.formats.openai_chat_response import (
    error_event,
    error_from_object,
    parse_error,
    parse_response,
    parse_usage,
    render_error,
    render_response,
    render_usage,
)
from omniroute.formats.openai_chat_stream import StreamDecoder, StreamEncoder
from omniroute.formats.sse import SSEEvent, encode_sse
from omniroute.formats.wire import WireFormat, input_tokens_count, no_usage_trailer, usage_field

__all__ = [
    "FORMAT",
    "NAME",
    "StreamDecoder",
    "StreamEncoder",
    "error_event",
    "error_from_object",
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


def _usage_before_event(
    event: SSEEvent, usage: ir.Usage, answer_id: str | None, model: str, include_usage: bool
) -> bytes | None:
    """A usage chunk (``choices: []``) just before ``[DONE]``, when the client
    asked for one (``stream_options.include_usage``)."""
    if not include_usage or event.data.strip() != "[DONE]":
        return None
    chunk: dict[str, Any] = {
        "id": answer_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [],
        "usage": render_usage(usage),
    }
    return encode_sse(dump_json(chunk)) + encode_sse("[DONE]")


def _encoder(model: str, include_usage: bool, echo: dict[str, Any] | None) -> StreamEncoder:
    return StreamEncoder(model, include_usage=include_usage)


FORMAT = WireFormat(
    name=NAME,
    answer_id_prefix="chatcmpl-",
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

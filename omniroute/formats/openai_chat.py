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

__all__ = [
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

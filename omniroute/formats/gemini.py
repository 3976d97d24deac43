"""Gemini ``generateContent`` wire format (ai.google.dev/api/generate-content).

Client side: what Gemini CLI and google-genai send to
``/v1beta/models/{model}:generateContent`` and
``:streamGenerateContent?alt=sse`` (the model is in the URL, so
``parse_request`` leaves ``model=""`` for the pipeline to set). Upstream side:
the same body for a Gemini upstream. Fields are read in either proto-JSON
spelling (``systemInstruction`` or ``system_instruction``). ``inlineData.data``
is read in either base64 alphabet (google-genai sends bytes url-safe, maybe
unpadded) and kept in the standard one with padding (RFC 4648 §4), which data
URLs and the other formats expect.

The code lives in ``gemini_parts`` (parts, field readers), ``gemini_request``,
``gemini_response`` (answers, usage, errors, countTokens, model list) and
``gemini_stream``; this module is the format's one public face.

Thought signatures (ai.google.dev/gemini-api/docs/thought-signatures) map to
``ir.ThinkingPart`` so that every format able to carry a thinking signature
keeps them across a tool loop:

- thought parts (``thought: true``) -> ``ThinkingPart(text, signature)``;
  consecutive thought parts merge until one of them carries a signature;
- a signature on any other part (Gemini puts it on the first functionCall of
  a turn, or on a text part, or on an empty trailing text part) ->
  ``ThinkingPart("", signature)`` just before that part. Rendering puts it
  back on the part that follows (or on an empty text part when none does).
- ``ToolCallPart.signature`` (when other code sets it) is rendered on that
  call's own functionCall part; parsing never sets it.
- Redacted thinking (an Anthropic payload) has no Gemini form and is left out.

Streams follow the same rule: a signature on a non-thought part becomes a
thinking block holding only a SignatureDelta, right before the part's block;
a thought part's signature is a SignatureDelta on its thinking block. The
encoder sends a thinking block's signature on an empty thought part when the
block had text, else on the next text/functionCall part.

Signatures seen by a Gemini *client* are wrapped. google-genai types
thoughtSignature as bytes: it base64-decodes the string it gets and sends the
bytes back re-encoded url-safe, so a signature from another format (an
Anthropic signature in the standard alphabet, a Responses encrypted_content
in the url-safe one) would not come back as the same string. The
client-facing renderers (``render_response``, ``StreamEncoder``) therefore
send ``base64(b"omr1:" + signature.encode("utf-8"))``, and ``parse_request``
decodes every incoming thoughtSignature (either alphabet, padding optional):
bytes starting with the marker give back the original string; anything else
is kept exactly as received. The upstream-facing side (``render_request``,
``parse_response``, ``StreamDecoder``) never wraps or unwraps: a Gemini
upstream gets its own signatures back unchanged.

Thinking: a thinkingConfig without ``includeThoughts`` reads as
``include_thoughts=False`` (Gemini's default: no thought summaries); when
rendering, reasoning that is on (enabled, a budget or an effort) with
``include_thoughts=None`` (an Anthropic or OpenAI client) asks for
``includeThoughts: true``, and an explicit False stays False.

Function calls without ids get deterministic ones (``common.stable_id`` of
the turn index, part index and name in a request; of the response id in an
answer), so a re-sent conversation gets the same ids, and a functionResponse
without an id takes the id of the call with the same name (in order) from the
latest model turn.

Vendor keys (``vendor["gemini"]``): tools (googleSearch, codeExecution...),
safety_settings, cached_content, generation_config (fields with no IR form),
function_calling_mode (VALIDATED), allowed_function_names, thinking_level,
response_mime_type/response_schema (non-JSON mime types); on a Response,
finish_reason (the upstream's own value).
"""

from __future__ import annotations

from typing import Any

from omniroute.formats import ir
from omniroute.formats.common import dump_json
from omniroute.formats.gemini_parts import get_field
from omniroute.formats.gemini_request import (
    parse_count_tokens_request,
    parse_request,
    render_request,
)
from omniroute.formats.gemini_response import (
    count_tokens_estimate,
    error_event,
    model_list_entry,
    parse_error,
    parse_response,
    parse_usage,
    render_count_tokens,
    render_error,
    render_response,
    render_usage,
)
from omniroute.formats.gemini_stream import StreamDecoder, StreamEncoder
from omniroute.formats.sse import encode_sse
from omniroute.formats.wire import WireFormat, no_usage_event

NAME = "gemini"

__all__ = [
    "FORMAT",
    "NAME",
    "StreamDecoder",
    "StreamEncoder",
    "count_tokens_estimate",
    "error_event",
    "model_list_entry",
    "parse_count_tokens_request",
    "parse_error",
    "parse_request",
    "parse_response",
    "render_count_tokens",
    "render_error",
    "render_request",
    "render_response",
    "render_usage",
]


def _answer_usage(answer: Any) -> ir.Usage | None:
    return parse_usage(get_field(answer, "usageMetadata")) if isinstance(answer, dict) else None


def _with_usage(answer: dict[str, Any], usage: ir.Usage) -> dict[str, Any]:
    return {**answer, "usageMetadata": render_usage(usage)}


def _usage_trailer(usage: ir.Usage, model: str) -> bytes:
    """Gemini streams may end with a chunk that only carries usage."""
    return encode_sse(dump_json({"usageMetadata": render_usage(usage), "modelVersion": model}))


def _encoder(model: str, include_usage: bool, echo: dict[str, Any] | None) -> StreamEncoder:
    return StreamEncoder(model, include_usage=include_usage)


FORMAT = WireFormat(
    name=NAME,
    answer_id_prefix="",
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
    answer_usage=_answer_usage,
    render_token_count=render_count_tokens,
    count_tokens_estimate=count_tokens_estimate,
    with_usage=_with_usage,
    usage_before_event=no_usage_event,
    usage_trailer=_usage_trailer,
)

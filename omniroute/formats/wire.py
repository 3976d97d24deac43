"""The typed face of a wire format, and the one list of the formats we speak.

Each codec module (``openai_chat``, ``openai_responses``, ``anthropic``,
``gemini``) builds one ``WireFormat`` value, ``FORMAT``, from its own
functions. Everything above the formats reaches a codec through
``wire_format(name)``, which imports the module on first use: a gateway
whose clients and upstreams all speak one format never loads the others.

A ``WireFormat`` translates, it does no I/O:

- requests: ``parse_request`` (a client's body -> IR; BadRequest on nonsense)
  and ``render_request`` (IR -> an upstream body for ``req.model``);
- answers: ``parse_response`` / ``render_response``;
- streams: ``stream_decoder()`` (upstream SSE events -> IR events) and
  ``stream_encoder(model, include_usage, echo)`` (IR events -> client SSE);
- errors: ``parse_error`` (an upstream's error body), ``render_error`` (our
  error in the dialect's shape), ``error_event`` (the same as a mid-stream
  SSE event);
- usage: ``render_usage`` and, for answers passed through unchanged whose
  upstream reported none, the places an estimate goes (``with_usage`` for a
  JSON answer; ``usage_before_event`` and ``usage_trailer`` for a stream).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from omniroute.formats import ir
from omniroute.formats.sse import SSEEvent

# Every wire format, in the order they are listed to users.
WIRE_FORMATS = ("openai", "openai-responses", "anthropic", "gemini")

_MODULES = {
    "openai": "omniroute.formats.openai_chat",
    "openai-responses": "omniroute.formats.openai_responses",
    "anthropic": "omniroute.formats.anthropic",
    "gemini": "omniroute.formats.gemini",
}


class StreamDecoder(Protocol):
    """Upstream SSE events of one stream -> IR events."""

    @property
    def complete(self) -> bool:
        """The format's own end event arrived ([DONE], message_stop,
        response.completed, a Gemini finishReason); a stream that stops
        before it was cut short."""
        ...

    @property
    def content_moved(self) -> bool:
        """Part of the content was turned into something else (``<think>``
        tags into reasoning), so passing the upstream's bytes on unchanged
        would tell the client something else than the events."""
        ...

    def feed(self, event: str | None, data: str) -> list[ir.Event]: ...

    def close(self) -> list[ir.Event]:
        """End of input: close whatever is still open."""
        ...


class StreamEncoder(Protocol):
    """IR events -> the client's SSE bytes, for one stream."""

    def encode(self, ev: ir.Event) -> bytes: ...


# (model, include_usage, echo) -> encoder; ``echo`` holds request fields the
# answer repeats (Responses' previous_response_id and tool map).
EncoderFactory = Callable[[str, bool, "dict[str, Any] | None"], StreamEncoder]


# No equality or repr of its own: a record of functions, one per format.
@dataclass(frozen=True, slots=True, eq=False, repr=False)
class WireFormat:
    name: str
    answer_id_prefix: str  # how this dialect's answer ids begin
    parse_request: Callable[[dict[str, Any]], ir.Request]
    render_request: Callable[[ir.Request], dict[str, Any]]
    parse_response: Callable[[Any], ir.Response]
    render_response: Callable[[ir.Response], dict[str, Any]]
    stream_decoder: Callable[[], StreamDecoder]
    stream_encoder: EncoderFactory
    parse_error: Callable[[int, bytes], ir.ErrorInfo]
    render_error: Callable[[ir.ErrorInfo], dict[str, Any]]
    error_event: Callable[[ir.ErrorInfo], bytes]
    render_usage: Callable[[ir.Usage], dict[str, Any]]
    # The usage a whole JSON answer reports (None when it has none), read
    # without parsing the rest: enough for an answer passed through as is.
    answer_usage: Callable[[Any], ir.Usage | None]
    count_tokens_estimate: Callable[[ir.Request], int]
    # The body of a token-count answer (Anthropic count_tokens, Gemini countTokens).
    render_token_count: Callable[[int], dict[str, Any]]
    # A JSON answer with usage put in this format's place for it.
    with_usage: Callable[[dict[str, Any], ir.Usage], dict[str, Any]]
    # (event, usage, answer id, model, include_usage) -> bytes to send instead
    # of the event when it is where the usage belongs; None to leave it.
    usage_before_event: Callable[[SSEEvent, ir.Usage, str | None, str, bool], bytes | None]
    # A last event carrying the usage, for formats that allow one (else b"").
    usage_trailer: Callable[[ir.Usage, str], bytes]


def wire_format(name: str) -> WireFormat:
    """The codec of a wire format (its module imported on first use)."""
    try:
        module = _MODULES[name]
    except KeyError:
        raise ValueError(f"unknown wire format {name!r}") from None
    fmt: WireFormat = importlib.import_module(module).FORMAT
    return fmt


def usage_field(
    name: str, parse: Callable[[Any], ir.Usage | None]
) -> Callable[[Any], ir.Usage | None]:
    """``answer_usage`` for a format that keeps usage in one top-level field."""

    def read(answer: Any) -> ir.Usage | None:
        return parse(answer.get(name)) if isinstance(answer, dict) else None

    return read


def no_usage_event(
    event: SSEEvent, usage: ir.Usage, answer_id: str | None, model: str, include_usage: bool
) -> bytes | None:
    """For formats whose streams have no place to add usage at an event."""
    return None


def no_usage_trailer(usage: ir.Usage, model: str) -> bytes:
    return b""


def input_tokens_count(n: int) -> dict[str, Any]:
    """``{"input_tokens": n}``: the shape of Anthropic's count_tokens answer
    (and of OpenAI's Responses input_tokens)."""
    return {"input_tokens": n}

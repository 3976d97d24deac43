"""Our internal representation (IR) of an LLM exchange.

A superset of the four wire formats (OpenAI Chat, OpenAI Responses, Anthropic
Messages, Gemini): every format parses into it and renders out of it, so
translation is 2N codecs instead of N^2 pairwise translators. What has no
common form rides in ``vendor`` (keyed by format name) instead of being lost.

Conventions
- System/developer instructions live in ``Request.system``, never in messages.
- Roles in ``messages`` are only "user" and "assistant". Tool results are
  ``ToolResultPart`` items inside a "user" message (OpenAI renders them as
  role "tool" messages, Gemini as functionResponse parts).
- Tool-call ``arguments`` are a JSON *string* (as OpenAI sends them), so a
  streamed call can be assembled from fragments without re-encoding.
- Streams are a sequence of ``Event`` values modelled on the richest format
  (Anthropic): MessageStart, then blocks (BlockStart, deltas, BlockStop) with
  increasing indexes, then MessageDelta (stop reason + usage), MessageStop.
  Decoders of formats without explicit blocks (OpenAI, Gemini) synthesise the
  block boundaries; encoders that need less simply ignore what they need not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

Role = Literal["user", "assistant"]

# Stop reasons, dialect-neutral.
StopReason = Literal[
    "end_turn",  # natural end (openai "stop", gemini "STOP")
    "max_tokens",  # length limit (openai "length", gemini "MAX_TOKENS")
    "tool_use",  # the model called tools (openai "tool_calls")
    "stop_sequence",  # a stop sequence matched
    "content_filter",  # safety / refusal by the provider
    "error",
]


@dataclass(slots=True)
class CacheMark:
    """Anthropic-style prompt caching mark on a part (``cache_control``)."""

    type: str = "ephemeral"
    ttl: str | None = None


@dataclass(slots=True)
class TextPart:
    text: str
    cache: CacheMark | None = None
    type: Literal["text"] = "text"


@dataclass(slots=True)
class ImagePart:
    """An image given by URL or inline base64 data (exactly one of them)."""

    url: str | None = None
    data: str | None = None  # base64, no "data:" prefix
    media_type: str | None = None  # e.g. "image/png"; required with data
    detail: str | None = None  # openai "low" | "high" | "auto"
    cache: CacheMark | None = None
    type: Literal["image"] = "image"


@dataclass(slots=True)
class ThinkingPart:
    """Model reasoning. ``signature`` must survive multi-turn tool loops.

    - Anthropic: thinking{thinking, signature}; redacted_thinking{data} is
      ``redacted=True`` with the opaque payload in ``signature``.
    - Gemini: a part with thought=true; its thoughtSignature in ``signature``.
    - OpenAI Responses: a reasoning item; its id in ``id``, its
      encrypted_content in ``signature``, summary text in ``text``.
    - OpenAI Chat: ``reasoning_content`` (no signature).
    """

    text: str = ""
    signature: str | None = None
    redacted: bool = False
    id: str | None = None
    type: Literal["thinking"] = "thinking"


@dataclass(slots=True)
class ToolCallPart:
    id: str
    name: str
    arguments: str = "{}"  # JSON text
    signature: str | None = None  # Gemini thoughtSignature attached to a functionCall
    type: Literal["tool_call"] = "tool_call"


@dataclass(slots=True)
class ToolResultPart:
    call_id: str
    content: list[TextPart | ImagePart] = field(default_factory=list)
    is_error: bool = False
    name: str | None = None  # the called tool's name (Gemini needs it)
    cache: CacheMark | None = None
    type: Literal["tool_result"] = "tool_result"


Part: TypeAlias = TextPart | ImagePart | ThinkingPart | ToolCallPart | ToolResultPart


@dataclass(slots=True)
class Message:
    role: Role
    parts: list[Part] = field(default_factory=list)


@dataclass(slots=True)
class ToolDef:
    name: str
    description: str | None = None
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None
    cache: CacheMark | None = None


@dataclass(slots=True)
class ToolChoice:
    mode: Literal["auto", "none", "required", "tool"] = "auto"
    name: str | None = None  # with mode "tool"


@dataclass(slots=True)
class Reasoning:
    """Reasoning controls. ``effort`` is openai-style (minimal/low/medium/high);
    ``budget_tokens`` is anthropic/gemini-style. Either may be None."""

    effort: str | None = None
    budget_tokens: int | None = None
    include_thoughts: bool | None = None
    enabled: bool | None = None  # False = explicitly disabled


@dataclass(slots=True)
class ResponseFormat:
    type: Literal["text", "json_object", "json_schema"] = "text"
    schema: dict[str, Any] | None = None
    name: str | None = None
    strict: bool | None = None


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0  # all prompt tokens, cached ones included
    output_tokens: int = 0  # all completion tokens, reasoning ones included
    cached_input_tokens: int = 0  # read from cache
    cache_creation_tokens: int = 0  # written to cache (anthropic)
    reasoning_tokens: int = 0
    estimated: bool = False  # True when we counted because the upstream did not


@dataclass(slots=True)
class Request:
    model: str
    messages: list[Message] = field(default_factory=list)
    system: list[TextPart] = field(default_factory=list)
    tools: list[ToolDef] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    stream: bool = False
    include_usage: bool = False  # openai stream_options.include_usage
    reasoning: Reasoning | None = None
    response_format: ResponseFormat | None = None
    user: str | None = None
    metadata: dict[str, Any] | None = None
    vendor: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class Response:
    id: str
    model: str
    parts: list[TextPart | ThinkingPart | ToolCallPart] = field(default_factory=list)
    stop_reason: StopReason = "end_turn"
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=Usage)
    created: int = 0  # unix seconds
    vendor: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class ErrorInfo:
    status: int
    kind: str  # see omniroute.errors: invalid_request, rate_limit, overloaded...
    message: str
    retry_after: float | None = None


# ---------------------------------------------------------------- stream events


@dataclass(frozen=True, slots=True)
class MessageStart:
    id: str
    model: str
    usage: Usage | None = None  # anthropic gives input tokens up front


@dataclass(frozen=True, slots=True)
class BlockStart:
    """A new content block. ``kind`` is text | thinking | tool_call.

    For tool_call, ``id`` and ``name`` are set; for a redacted thinking block,
    ``redacted`` is True and the payload follows as a SignatureDelta."""

    index: int
    kind: Literal["text", "thinking", "tool_call"]
    id: str | None = None
    name: str | None = None
    redacted: bool = False


@dataclass(frozen=True, slots=True)
class TextDelta:
    index: int
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    index: int
    text: str


@dataclass(frozen=True, slots=True)
class SignatureDelta:
    index: int
    signature: str


@dataclass(frozen=True, slots=True)
class ToolArgsDelta:
    index: int
    partial_json: str


@dataclass(frozen=True, slots=True)
class BlockStop:
    index: int


@dataclass(frozen=True, slots=True)
class MessageDelta:
    stop_reason: StopReason | None = None
    stop_sequence: str | None = None
    usage: Usage | None = None  # cumulative totals so far


@dataclass(frozen=True, slots=True)
class MessageStop:
    pass


@dataclass(frozen=True, slots=True)
class StreamError:
    error: ErrorInfo


Event: TypeAlias = (
    MessageStart
    | BlockStart
    | TextDelta
    | ThinkingDelta
    | SignatureDelta
    | ToolArgsDelta
    | BlockStop
    | MessageDelta
    | MessageStop
    | StreamError
)

"""Helpers shared by the format tests: fixtures, SSE framing, a format
module's stream codec run over whole streams, the Gemini client boundary for
thought signatures, and pieces of the hypothesis strategies.

Each codec test file binds the format-specific ones to its module, e.g.
``decode_stream = partial(helpers.decode_stream, an)``.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from omniroute.formats import gemini, ir
from omniroute.formats.common import dump_json
from omniroute.formats.sse import SSEDecoder

FIXTURES = Path(__file__).parent.parent / "fixtures"


def load(*path: str) -> Any:
    """A JSON fixture below tests/fixtures, e.g. ``load("gemini", "request.json")``."""
    return json.loads(FIXTURES.joinpath(*path).read_text())


# -------------------------------------------------------------------- streams


def sse_events(raw: bytes) -> list[tuple[str | None, str]]:
    """(event name, data) of every SSE event in a whole stream."""
    dec = SSEDecoder()
    return [(e.event, e.data) for e in dec.feed(raw) + dec.close()]


def decode_stream(fmt: ModuleType, raw: bytes) -> list[ir.Event]:
    """The IR events ``fmt``'s StreamDecoder makes of a whole stream, close included."""
    dec = fmt.StreamDecoder()
    out: list[ir.Event] = []
    for event, data in sse_events(raw):
        out += dec.feed(event, data)
    out += dec.close()
    return out


def encode(fmt: ModuleType, events: list[ir.Event], model: str, **options: Any) -> bytes:
    """The bytes ``fmt``'s StreamEncoder writes for ``events``."""
    enc = fmt.StreamEncoder(model, **options)
    return b"".join(enc.encode(ev) for ev in events)


def collect(events: list[ir.Event], *, parse_args: bool = True) -> dict[str, Any]:
    """Text, thinking, signatures, tool calls ``[id, name, arguments]`` and
    the last stop reason of IR events; arguments as JSON values unless
    ``parse_args`` is false."""
    text = thinking = ""
    signatures: list[str] = []
    calls: dict[int, list[str]] = {}
    stop = None
    for ev in events:
        if isinstance(ev, ir.BlockStart) and ev.kind == "tool_call":
            calls[ev.index] = [ev.id or "", ev.name or "", ""]
        elif isinstance(ev, ir.TextDelta):
            text += ev.text
        elif isinstance(ev, ir.ThinkingDelta):
            thinking += ev.text
        elif isinstance(ev, ir.SignatureDelta):
            signatures.append(ev.signature)
        elif isinstance(ev, ir.ToolArgsDelta):
            calls[ev.index][2] += ev.partial_json
        elif isinstance(ev, ir.MessageDelta) and ev.stop_reason:
            stop = ev.stop_reason
    found = [[i, n, json.loads(a or "{}") if parse_args else a] for i, n, a in calls.values()]
    return {
        "text": text,
        "thinking": thinking,
        "signatures": signatures,
        "calls": found,
        "stop": stop,
    }


# ------------------------------------------- Gemini client thought signatures

# What a Gemini client is shown for a signature: base64 of this marker and the
# signature's UTF-8 (see the gemini module doc).
SIGNATURE_MARKER = b"omr1:"


def wrapped(sig: str) -> str:
    """The thoughtSignature a Gemini client is shown for an IR signature."""
    return base64.b64encode(SIGNATURE_MARKER + sig.encode()).decode()


def gemini_client_returns(sig: str) -> str:
    """A thoughtSignature a Gemini client was shown, as the gateway reads it
    when the client sends it back (the client-facing side wraps signatures)."""
    body = {"contents": [{"role": "user", "parts": [{"text": "q"}]},
                         {"role": "model", "parts": [{"text": "t", "thought": True,
                                                      "thoughtSignature": sig}]}]}  # fmt: skip
    (part,) = gemini.parse_request(body).messages[1].parts
    assert isinstance(part, ir.ThinkingPart) and part.signature
    return part.signature


def as_sent_back(parts: list[Any]) -> list[Any]:
    """Parts read from a client-facing Gemini answer, signatures as they come back."""
    return [
        dataclasses.replace(p, signature=gemini_client_returns(p.signature))
        if isinstance(p, ir.ThinkingPart) and p.signature
        else p
        for p in parts
    ]


def events_sent_back(events: list[ir.Event]) -> list[ir.Event]:
    """Events read from a client-facing Gemini stream, signatures as they come back."""
    return [
        dataclasses.replace(ev, signature=gemini_client_returns(ev.signature))
        if isinstance(ev, ir.SignatureDelta)
        else ev
        for ev in events
    ]


# ----------------------------------------------------------------- hypothesis


def props_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )


texts = st.text(min_size=1, max_size=30)
# Tool names as Anthropic and OpenAI Chat take them; Gemini and Responses
# tests draw from the smaller lower-case set.
names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,15}", fullmatch=True)
lower_names = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
call_ids = st.from_regex(r"call_[A-Za-z0-9]{4,12}", fullmatch=True)


def json_values_with(keys: st.SearchStrategy[str], max_text: int) -> st.SearchStrategy[Any]:
    """Small nested JSON values: objects keyed by ``keys``, strings up to ``max_text``."""
    return st.recursive(
        st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=max_text),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
        max_leaves=6,
    )


json_values = json_values_with(st.text(max_size=5), max_text=8)
# Tool-call arguments: the text of a JSON object.
arguments = st.dictionaries(names, json_values, max_size=3).map(dump_json)


def url_images(**fields: Any) -> st.SearchStrategy[ir.ImagePart]:
    return st.builds(
        ir.ImagePart,
        url=st.from_regex(r"https://example\.com/[a-z]{1,8}\.png", fullmatch=True),
        **fields,
    )


def data_images(media_types: list[str], **fields: Any) -> st.SearchStrategy[ir.ImagePart]:
    return st.builds(
        ir.ImagePart,
        data=st.from_regex(r"[A-Za-z0-9+/]{4,16}", fullmatch=True),
        media_type=st.sampled_from(media_types),
        **fields,
    )


def tool_defs(descriptions: st.SearchStrategy[str], **fields: Any) -> st.SearchStrategy[ir.ToolDef]:
    """Tools named from ``names`` whose parameters are objects of empty schemas."""
    return st.builds(
        ir.ToolDef,
        name=names,
        description=st.none() | descriptions,
        parameters=st.fixed_dictionaries(
            {
                "type": st.just("object"),
                "properties": st.dictionaries(names, st.just({}), max_size=2),
            }
        ),
        **fields,
    )


def tool_choices(name: str) -> st.SearchStrategy[ir.ToolChoice | None]:
    """No choice, a mode, or the tool ``name``."""
    modes = [ir.ToolChoice("auto"), ir.ToolChoice("none"), ir.ToolChoice("required")]
    return st.none() | st.sampled_from(modes) | st.just(ir.ToolChoice("tool", name))


@st.composite
def alternating_turns(
    draw: st.DrawFn,
    assistant_parts: st.SearchStrategy[list[ir.Part]],
    user_parts: Callable[[list[ir.ToolCallPart]], st.SearchStrategy[list[ir.Part]]],
) -> list[ir.Message]:
    """One to five turns, user first. The tool calls of an assistant turn get
    ids unique in the conversation; the next user turn is drawn from
    ``user_parts(calls)`` to answer them."""
    messages: list[ir.Message] = []
    calls: list[ir.ToolCallPart] = []
    for turn in range(draw(st.integers(1, 5))):
        if turn % 2:
            parts = draw(assistant_parts)
            calls = [p for p in parts if isinstance(p, ir.ToolCallPart)]
            for n, call in enumerate(calls):
                call.id = f"{call.id}_{turn}_{n}"
            messages.append(ir.Message("assistant", parts))
        else:
            messages.append(ir.Message("user", draw(user_parts(calls))))
            calls = []
    return messages


def final_stops(parts: list[Any]) -> st.SearchStrategy[str]:
    """A stop reason for an answer of ``parts``: "end_turn" is "tool_use"
    when they hold tool calls (a format without a stop reason for tool use
    says it by the calls)."""
    has_calls = any(isinstance(p, ir.ToolCallPart) for p in parts)
    return st.sampled_from(["max_tokens", "content_filter", "end_turn"]).map(
        lambda stop: "tool_use" if stop == "end_turn" and has_calls else stop
    )


def pieces(text: str) -> st.SearchStrategy[list[str]]:
    """``text`` cut at up to three places (a piece may be empty)."""

    def cut(cuts: list[int]) -> list[str]:
        bounds = sorted(cuts)
        return [text[a:b] for a, b in zip([0, *bounds], [*bounds, len(text)], strict=True)]

    return st.lists(st.integers(0, len(text)), max_size=3).map(cut)


def text_deltas(index: int, kind: str, chunks: list[str]) -> list[ir.Event]:
    """The deltas of a text block, or of a thinking block for any other ``kind``."""
    cls = ir.TextDelta if kind == "text" else ir.ThinkingDelta
    return [cls(index, chunk) for chunk in chunks]

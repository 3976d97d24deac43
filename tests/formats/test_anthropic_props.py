"""Property tests: Anthropic Messages codec round trips."""

from __future__ import annotations

import json
from typing import Any

import anthropic.types as at
import pydantic
from hypothesis import given
from hypothesis import strategies as st

from omniroute.formats import anthropic as an
from omniroute.formats import ir
from omniroute.formats.sse import SSEDecoder
from tests.formats import helpers
from tests.formats.helpers import (
    arguments,
    data_images,
    names,
    pieces,
    props_settings,
    text_deltas,
    texts,
    url_images,
)

SETTINGS = props_settings(120)
STREAM_EVENT: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(at.RawMessageStreamEvent)

ids = st.from_regex(r"toolu_[a-zA-Z0-9]{4,12}", fullmatch=True)
signatures = st.from_regex(r"[A-Za-z0-9+/]{8,40}", fullmatch=True)
caches = st.none() | st.builds(ir.CacheMark, ttl=st.none() | st.just("1h"))
images = st.one_of(
    url_images(cache=caches),
    data_images(["image/png", "image/jpeg", "image/gif"], cache=caches),
)
text_parts = st.builds(ir.TextPart, text=texts, cache=caches)
thinking_parts = st.one_of(
    st.builds(ir.ThinkingPart, text=texts, signature=signatures),
    st.builds(ir.ThinkingPart, signature=signatures, redacted=st.just(True)),
)


@st.composite
def conversations(draw: st.DrawFn) -> list[ir.Message]:
    """Alternating turns (Anthropic merges same-role neighbours), tool results
    first in the user turn after the calls they answer."""
    messages: list[ir.Message] = []
    pending: list[ir.ToolCallPart] = []
    for _ in range(draw(st.integers(1, 4))):
        user: list[ir.Part] = [
            ir.ToolResultPart(
                call_id=call.id,
                content=draw(st.lists(st.one_of(text_parts, images), max_size=2)),
                is_error=draw(st.booleans()),
                name=call.name,
                cache=draw(caches),
            )
            for call in pending
        ]
        user += draw(st.lists(st.one_of(text_parts, images), min_size=1, max_size=3))
        messages.append(ir.Message("user", user))
        parts: list[ir.Part] = list(draw(st.lists(thinking_parts, max_size=2)))
        parts += draw(st.lists(texts.map(ir.TextPart), max_size=1))
        call_ids = draw(st.lists(ids, min_size=0 if parts else 1, max_size=3, unique=True))
        pending = [ir.ToolCallPart(i, draw(names), draw(arguments)) for i in call_ids]
        messages.append(ir.Message("assistant", parts + pending))  # type: ignore[operator]
    return messages


tool_defs = helpers.tool_defs(texts, cache=caches)


@st.composite
def requests(draw: st.DrawFn) -> ir.Request:
    tools = draw(st.lists(tool_defs, max_size=3))
    thinking = draw(st.sampled_from(["off", "enabled", "disabled"]))
    modes = ["auto", "none"] if thinking == "enabled" else ["auto", "none", "required", "tool"]
    choice = None
    if tools and draw(st.booleans()):
        mode = draw(st.sampled_from(modes))
        choice = ir.ToolChoice(mode, draw(names) if mode == "tool" else None)  # type: ignore[arg-type]
    parallel = draw(st.none() | st.just(False)) if choice and choice.mode != "none" else None
    reasoning = None
    max_tokens = draw(st.integers(1, 100_000))
    sampling: dict[str, Any] = {
        "temperature": draw(st.none() | st.floats(0, 1)),
        "top_p": draw(st.none() | st.floats(0, 1)),
        "top_k": draw(st.none() | st.integers(1, 500)),
    }
    if thinking == "enabled":
        budget = draw(st.integers(1024, 60_000))
        # Anthropic thinking shows its (summarized) text: include_thoughts=True
        reasoning = ir.Reasoning(enabled=True, budget_tokens=budget, include_thoughts=True)
        max_tokens = draw(st.integers(budget + 1, budget + 50_000))
        sampling = {"temperature": draw(st.none() | st.just(1.0)), "top_p": None, "top_k": None}
    elif thinking == "disabled":
        reasoning = ir.Reasoning(enabled=False)
    messages = draw(conversations())
    if thinking == "enabled":  # a tool loop with thinking on keeps its signed thinking first
        for msg in messages:
            calling = any(isinstance(p, ir.ToolCallPart) for p in msg.parts)
            if calling and not isinstance(msg.parts[0], ir.ThinkingPart):
                msg.parts.insert(0, ir.ThinkingPart(draw(texts), draw(signatures)))
    return ir.Request(
        model=draw(names),
        messages=messages,
        system=draw(st.lists(text_parts, max_size=2)),
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=parallel,
        max_tokens=max_tokens,
        stop=draw(st.lists(texts, max_size=2)),
        stream=draw(st.booleans()),
        reasoning=reasoning,
        user=draw(st.none() | names),
        vendor={"anthropic": {"service_tier": "auto"}},
        **sampling,
    )


@given(requests())
@SETTINGS
def test_request_round_trip(req: ir.Request) -> None:
    wire = json.loads(json.dumps(an.render_request(req)))
    assert [m["role"] for m in wire["messages"]] == [m.role for m in req.messages]
    assert an.parse_request(wire) == req


@given(requests())
@SETTINGS
def test_rendered_request_obeys_anthropic_rules(req: ir.Request) -> None:
    """Fields Anthropic would reject never go out, whatever the IR holds."""
    req.max_tokens = None
    req.reasoning = ir.Reasoning(effort="high")
    req.temperature, req.top_k = 0.5, 10
    wire = an.render_request(req)
    thinking = wire.get("thinking")
    if thinking is not None:
        assert wire["max_tokens"] > thinking["budget_tokens"] >= 1024
        assert "temperature" not in wire and "top_k" not in wire
    roles = [m["role"] for m in wire["messages"]]
    assert all(a != b for a, b in zip(roles, roles[1:], strict=False))
    for message in wire["messages"]:
        kinds = [b["type"] for b in message["content"]]
        assert kinds == sorted(kinds, key=lambda k: k != "tool_result")
        assert all(b.get("text") != "" for b in message["content"])


stop_reasons = st.sampled_from(
    ["end_turn", "max_tokens", "tool_use", "stop_sequence", "content_filter"]
)


@st.composite
def responses(draw: st.DrawFn) -> ir.Response:
    parts: list[Any] = list(draw(st.lists(thinking_parts, max_size=2)))
    parts += draw(st.lists(texts.map(ir.TextPart), max_size=2))
    parts += draw(st.lists(st.builds(ir.ToolCallPart, ids, names, arguments), max_size=2))
    stop = draw(stop_reasons)
    cached, written = draw(st.integers(0, 500)), draw(st.integers(0, 500))
    usage = ir.Usage(
        input_tokens=cached + written + draw(st.integers(0, 10**6)),
        output_tokens=draw(st.integers(0, 10**6)),
        cached_input_tokens=cached,
        cache_creation_tokens=written,
    )
    return ir.Response(
        id=draw(st.from_regex(r"msg_[a-zA-Z0-9]{6,20}", fullmatch=True)),
        model=draw(names),
        parts=parts,
        stop_reason=stop,
        stop_sequence=draw(texts) if stop == "stop_sequence" else None,
        usage=usage,
    )


@given(responses())
@SETTINGS
def test_response_round_trip(resp: ir.Response) -> None:
    wire = an.render_response(resp)
    at.Message.model_validate(wire)
    assert an.parse_response(json.loads(json.dumps(wire))) == resp


@st.composite
def event_streams(draw: st.DrawFn) -> list[ir.Event]:
    usage = ir.Usage(input_tokens=draw(st.integers(0, 999)))
    events: list[ir.Event] = [ir.MessageStart(id="msg_x", model="up", usage=usage)]
    for index in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["text", "thinking", "redacted", "tool_call"]))
        if kind == "tool_call":
            events.append(ir.BlockStart(index, "tool_call", id=draw(ids), name=draw(names)))
            events += [ir.ToolArgsDelta(index, p) for p in draw(pieces(draw(arguments))) if p]
        elif kind == "redacted":
            events.append(ir.BlockStart(index, "thinking", redacted=True))
            events.append(ir.SignatureDelta(index, draw(signatures)))
        else:
            events.append(ir.BlockStart(index, kind))  # type: ignore[arg-type]
            events += text_deltas(index, kind, draw(st.lists(texts, min_size=1, max_size=3)))
            if kind == "thinking":
                events.append(ir.SignatureDelta(index, draw(signatures)))
        events.append(ir.BlockStop(index))
    final = ir.Usage(input_tokens=usage.input_tokens, output_tokens=draw(st.integers(1, 99)))
    events.append(ir.MessageDelta(stop_reason=draw(stop_reasons), usage=final))
    events.append(ir.MessageStop())
    return events


def summary(events: list[ir.Event]) -> dict[str, Any]:
    blocks: dict[int, list[Any]] = {}
    stop = usage = None
    for ev in events:
        if isinstance(ev, ir.BlockStart):
            blocks[ev.index] = [ev.kind, ev.redacted, ev.id, ev.name, ""]
        elif isinstance(ev, ir.TextDelta | ir.ThinkingDelta):
            blocks[ev.index][4] += ev.text
        elif isinstance(ev, ir.ToolArgsDelta):
            blocks[ev.index][4] += ev.partial_json
        elif isinstance(ev, ir.SignatureDelta):
            blocks[ev.index].append(ev.signature)
        elif isinstance(ev, ir.MessageDelta):
            stop = ev.stop_reason or stop
            usage = ev.usage or usage
    return {"blocks": list(blocks.values()), "stop": stop, "usage": usage}


@given(event_streams())
@SETTINGS
def test_stream_round_trip(events: list[ir.Event]) -> None:
    raw = helpers.encode(an, events, "client-model")
    sse = SSEDecoder()
    frames = sse.feed(raw) + sse.close()
    for frame in frames:
        if frame.event != "ping":
            STREAM_EVENT.validate_json(frame.data)
    dec = an.StreamDecoder()
    back: list[ir.Event] = []
    for frame in frames:
        back += dec.feed(frame.event, frame.data)
    assert summary(back) == summary(events)
    assert isinstance(back[-1], ir.MessageStop)

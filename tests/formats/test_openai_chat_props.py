"""Property tests: OpenAI Chat codec round trips and the shared helpers."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from omniroute.formats import ir
from omniroute.formats import openai_chat as oc
from omniroute.formats.common import (
    ThinkSplitter,
    parse_json_object,
    safe_error_text,
    split_think,
)
from omniroute.formats.sse import SSEDecoder
from tests.formats import helpers
from tests.formats.helpers import (
    arguments,
    data_images,
    json_values,
    names,
    pieces,
    props_settings,
    text_deltas,
    url_images,
)
from tests.formats.helpers import call_ids as ids

SETTINGS = props_settings(120)

# Text that the <think> splitter leaves alone (it only looks at the very start).
texts = helpers.texts.filter(lambda t: not t.lstrip().startswith("<"))
images = st.one_of(
    url_images(detail=st.sampled_from([None, "low", "high", "auto"])),
    data_images(["image/png", "image/jpeg", "image/webp"], detail=st.sampled_from([None, "high"])),
)


@st.composite
def conversations(draw: st.DrawFn) -> list[ir.Message]:
    """Alternating turns; a turn after tool calls carries their results."""
    messages: list[ir.Message] = []
    pending: list[ir.ToolCallPart] = []
    for _ in range(draw(st.integers(1, 5))):
        if pending:
            results: list[ir.Part] = [
                ir.ToolResultPart(
                    call_id=call.id,
                    content=[ir.TextPart(t) for t in draw(st.lists(texts, max_size=2))],
                    name=call.name,
                )
                for call in pending
            ]
            messages.append(ir.Message("user", results))
            pending = []
        user = draw(st.lists(st.one_of(texts.map(ir.TextPart), images), min_size=1, max_size=3))
        messages.append(ir.Message("user", list(user)))
        parts: list[ir.Part] = []
        if draw(st.booleans()):
            parts.append(ir.ThinkingPart(text=draw(texts)))
        if draw(st.booleans()):
            parts.append(ir.TextPart(draw(texts)))
        call_ids = draw(st.lists(ids, max_size=3, unique=True))
        pending = [ir.ToolCallPart(i, draw(names), draw(arguments)) for i in call_ids]
        parts += pending
        messages.append(ir.Message("assistant", parts))
    return messages


tool_defs = helpers.tool_defs(texts, strict=st.none() | st.booleans())
response_formats = st.one_of(
    st.none(),
    st.builds(ir.ResponseFormat, type=st.sampled_from(["text", "json_object"])),
    st.builds(
        ir.ResponseFormat,
        type=st.just("json_schema"),
        schema=st.just({"type": "object"}),
        name=names,
        strict=st.none() | st.booleans(),
    ),
)
efforts = st.none() | st.sampled_from(["minimal", "low", "medium", "high"]).map(
    lambda e: ir.Reasoning(effort=e)
)


@st.composite
def requests(draw: st.DrawFn) -> ir.Request:
    tools = draw(st.lists(tool_defs, max_size=3))
    choice = (
        None
        if not tools
        else draw(  # a tool_choice without tools is not sent
            st.none()
            | st.sampled_from(["auto", "none", "required"]).map(lambda m: ir.ToolChoice(m))  # type: ignore[arg-type]
            | names.map(lambda n: ir.ToolChoice("tool", n))
        )
    )
    system = draw(st.lists(texts.map(ir.TextPart), max_size=2))
    vendor: dict[str, Any] = {"frequency_penalty": draw(st.floats(-2, 2))}
    if system and draw(st.booleans()):
        vendor["_developer"] = True  # instructions sent as role developer
    stream = draw(st.booleans())
    return ir.Request(
        model=draw(names),
        messages=draw(conversations()),
        system=system,
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=draw(st.none() | st.booleans()) if tools else None,
        max_tokens=draw(st.none() | st.integers(1, 100_000)),
        temperature=draw(st.none() | st.floats(0, 2)),
        top_p=draw(st.none() | st.floats(0, 1)),
        stop=draw(st.lists(texts, max_size=2)),
        seed=draw(st.none() | st.integers(0, 2**31)),
        stream=stream,
        include_usage=stream,  # rendering always asks for usage when streaming
        reasoning=draw(efforts),
        response_format=draw(response_formats),
        user=draw(st.none() | names),
        metadata=draw(st.none() | st.dictionaries(names, names, min_size=1, max_size=2)),
        vendor={"openai": vendor},
    )


@given(requests())
@SETTINGS
def test_request_round_trip(req: ir.Request) -> None:
    wire = json.loads(json.dumps(oc.render_request(req)))
    back = oc.parse_request(wire)
    back.vendor["openai"].pop("_max_tokens_key", None)  # which limit field: a rendering note
    assert back == req


responses = st.builds(
    ir.Response,
    id=st.from_regex(r"chatcmpl-[a-zA-Z0-9]{6}", fullmatch=True),
    model=names,
    parts=st.tuples(
        st.none() | texts.map(ir.ThinkingPart),
        st.none() | texts.map(ir.TextPart),
        st.lists(st.builds(ir.ToolCallPart, id=ids, name=names, arguments=arguments), max_size=3),
    ).map(lambda t: [p for p in t[:2] if p is not None] + t[2]),
    stop_reason=st.sampled_from(["end_turn", "max_tokens", "tool_use", "content_filter"]),
    usage=st.builds(
        ir.Usage,
        input_tokens=st.integers(0, 10**6),
        output_tokens=st.integers(0, 10**6),
        cached_input_tokens=st.integers(0, 1000),
        reasoning_tokens=st.integers(0, 1000),
    ),
    created=st.integers(1, 2**31),
)


def expected_stop(stop: ir.StopReason, has_calls: bool) -> ir.StopReason:
    # Chat says "stop" for both; the presence of tool calls decides.
    return "tool_use" if has_calls and stop == "end_turn" else stop


@given(responses)
@SETTINGS
def test_response_round_trip(resp: ir.Response) -> None:
    wire = oc.render_response(resp)
    ChatCompletion.model_validate(wire)
    back = oc.parse_response(json.loads(json.dumps(wire)))
    has_calls = any(isinstance(p, ir.ToolCallPart) for p in resp.parts)
    want = dataclasses.replace(resp, stop_reason=expected_stop(resp.stop_reason, has_calls))
    assert back == want


@st.composite
def event_streams(draw: st.DrawFn) -> list[ir.Event]:
    events: list[ir.Event] = [ir.MessageStart(id="chatcmpl-x", model="up")]
    calls = 0
    for index in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["text", "thinking", "tool_call"]))
        if kind == "tool_call":
            calls += 1
            events.append(ir.BlockStart(index, "tool_call", id=draw(ids), name=draw(names)))
            events += [ir.ToolArgsDelta(index, p) for p in draw(pieces(draw(arguments))) if p]
        else:
            events.append(ir.BlockStart(index, kind))  # type: ignore[arg-type]
            events += text_deltas(index, kind, draw(st.lists(texts, min_size=1, max_size=3)))
        events.append(ir.BlockStop(index))
    stop = draw(st.sampled_from(["end_turn", "max_tokens", "tool_use", "content_filter"]))
    usage = ir.Usage(input_tokens=draw(st.integers(0, 999)), output_tokens=draw(st.integers(1, 99)))
    events.append(ir.MessageDelta(stop_reason=stop, usage=usage))  # type: ignore[arg-type]
    events.append(ir.MessageStop())
    return events


def summary(events: list[ir.Event]) -> dict[str, Any]:
    usages = [ev.usage for ev in events if isinstance(ev, ir.MessageDelta) and ev.usage]
    return helpers.collect(events, parse_args=False) | {"usage": usages[-1] if usages else None}


@given(event_streams())
@SETTINGS
def test_stream_round_trip(events: list[ir.Event]) -> None:
    raw = helpers.encode(oc, events, "client-model", include_usage=True)
    sse = SSEDecoder()
    frames = sse.feed(raw) + sse.close()
    assert frames[-1].data == "[DONE]"
    for frame in frames[:-1]:
        ChatCompletionChunk.model_validate_json(frame.data)
    dec = oc.StreamDecoder()
    back: list[ir.Event] = []
    for frame in frames:
        back += dec.feed(frame.event, frame.data)
    want = summary(events)
    want["stop"] = expected_stop(want["stop"], bool(want["calls"]))
    assert summary(back) == want


# ------------------------------------------------------------ shared helpers


@given(st.text(max_size=40), st.text(max_size=40), st.lists(st.integers(0, 100), max_size=6))
@SETTINGS
def test_think_splitter_is_chunking_independent(thought: str, answer: str, cuts: list[int]) -> None:
    content = f"<think>{thought}</think>{answer}"
    if "</think>" in thought:
        return
    splitter = ThinkSplitter()
    pieces: list[tuple[str, str]] = []
    bounds = sorted({min(c, len(content)) for c in cuts})
    for a, b in zip([0, *bounds], [*bounds, len(content)], strict=True):
        pieces += splitter.feed(content[a:b])
    pieces += splitter.flush()
    got_thought = "".join(t for k, t in pieces if k == "thinking")
    got_answer = "".join(t for k, t in pieces if k == "text")
    assert (got_thought, got_answer) == (thought, answer.lstrip())
    assert split_think(content) == (thought, answer.lstrip())


@given(st.text(max_size=40))
@SETTINGS
def test_think_splitter_leaves_plain_text(text: str) -> None:
    if text.lstrip().startswith("<think>"):
        return
    assert split_think(text) == ("", text)


@given(st.text(max_size=60))
@SETTINGS
def test_parse_json_object_never_raises(text: str) -> None:
    assert isinstance(parse_json_object(text), dict)


@given(st.dictionaries(names, json_values, max_size=4), st.integers(0, 200))
@SETTINGS
def test_parse_json_object_repairs_truncation(obj: dict[str, Any], cut: int) -> None:
    text = json.dumps(obj)
    assert parse_json_object(text) == obj
    assert isinstance(parse_json_object(text[: max(1, len(text) - cut)]), dict)


@given(st.text(max_size=1000), st.integers(10, 400))
@SETTINGS
def test_safe_error_text_is_bounded_and_single_line(text: str, limit: int) -> None:
    shown = safe_error_text(text, limit)
    assert len(shown) <= limit and "\n" not in shown


@given(st.from_regex(r"sk-[A-Za-z0-9]{20,40}", fullmatch=True), texts, texts)
@SETTINGS
def test_safe_error_text_hides_keys(key: str, before: str, after: str) -> None:
    assert key not in safe_error_text(f"{before} {key} {after}", 1000)

"""Property tests: Responses render -> parse keeps what the format can express."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from omniroute.formats import ir
from omniroute.formats import openai_responses as orr
from omniroute.formats.common import dump_json
from omniroute.formats.sse import SSEDecoder
from tests.formats.helpers import (
    alternating_turns,
    call_ids,
    encode,
    final_stops,
    props_settings,
    text_deltas,
    texts,
    tool_choices,
)
from tests.formats.helpers import lower_names as names

SETTINGS = props_settings(60)
EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)

rs_ids = st.from_regex(r"rs_[a-f0-9]{8,16}", fullmatch=True)
sigs = st.from_regex(r"gAAAA[A-Za-z0-9_=-]{4,40}", fullmatch=True)
args = st.dictionaries(names, st.integers() | st.text(max_size=8), max_size=3).map(dump_json)


@st.composite
def assistant_parts(draw: st.DrawFn, signed_only: bool = True) -> list[ir.Part]:
    parts: list[ir.Part] = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["text", "thinking", "call"]))
        if kind == "text":
            parts.append(ir.TextPart(draw(texts)))
        elif kind == "thinking":
            sig = draw(sigs) if signed_only else draw(st.none() | sigs)
            parts.append(ir.ThinkingPart(draw(st.just("") | texts), sig, id=draw(rs_ids)))
        else:
            parts.append(ir.ToolCallPart(draw(call_ids), draw(names), draw(args)))
    return parts


@st.composite
def user_parts(draw: st.DrawFn, calls: list[ir.ToolCallPart]) -> list[ir.Part]:
    user: list[ir.Part] = [
        ir.ToolResultPart(c.id, [ir.TextPart(draw(texts))], name=c.name) for c in calls
    ]
    for _ in range(draw(st.integers(0 if user else 1, 3))):
        if draw(st.booleans()):
            user.append(ir.TextPart(draw(texts)))
        else:
            url = draw(st.sampled_from(["https://x.test/a.png", "file-abc123"]))
            user.append(
                ir.ImagePart(url=url, detail=draw(st.sampled_from(["low", "high", "auto"])))
            )
    return user


@st.composite
def requests(draw: st.DrawFn) -> ir.Request:
    messages = draw(alternating_turns(assistant_parts(), user_parts))
    tools = [
        ir.ToolDef(
            name, draw(st.none() | texts), {"type": "object", "properties": {}}, draw(st.booleans())
        )
        for name in draw(st.lists(names, max_size=3, unique=True))
    ]
    req = ir.Request(model=draw(names), messages=messages, tools=tools)
    req.system = [ir.TextPart(t) for t in draw(st.lists(texts, max_size=1))]
    if tools:
        req.tool_choice = draw(tool_choices(tools[0].name))
        req.parallel_tool_calls = draw(st.none() | st.booleans())
    req.temperature = draw(st.none() | st.floats(0, 2, allow_nan=False))
    req.top_p = draw(st.none() | st.floats(0, 1, allow_nan=False))
    req.max_tokens = draw(st.none() | st.integers(1, 100000))
    req.stream = req.include_usage = draw(st.booleans())
    req.user = draw(st.none() | names)
    req.metadata = draw(st.none() | st.dictionaries(names, texts, max_size=2))
    req.reasoning = draw(
        st.none()
        | st.builds(
            ir.Reasoning,
            effort=st.sampled_from(["minimal", "low", "medium", "high"]),
            include_thoughts=st.none() | st.just(True),
        )
    )
    req.response_format = draw(
        st.none()
        | st.just(ir.ResponseFormat("text"))
        | st.just(ir.ResponseFormat("json_object"))
        | st.builds(
            ir.ResponseFormat,
            type=st.just("json_schema"),
            schema=st.just({"type": "object", "properties": {"a": {"type": "string"}}}),
            name=names,
            strict=st.none() | st.booleans(),
        )
    )
    return req


@SETTINGS
@given(requests())
def test_request_round_trip(req: ir.Request) -> None:
    body = json.loads(json.dumps(orr.render_request(req)))
    back = orr.parse_request(body)
    back.vendor = req.vendor = {}  # only our bookkeeping (store, include...) differs
    assert back == req


@st.composite
def responses(draw: st.DrawFn) -> ir.Response:
    parts = draw(assistant_parts(signed_only=False))
    stop = draw(final_stops(parts))
    output = draw(st.integers(0, 5000))
    usage = ir.Usage(
        input_tokens=draw(st.integers(0, 5000)),
        output_tokens=output,
        cached_input_tokens=draw(st.integers(0, 100)),
        cache_creation_tokens=draw(st.integers(0, 100)),
        reasoning_tokens=draw(st.integers(0, output)),
    )
    return ir.Response(
        id="resp_" + draw(st.from_regex(r"[A-Za-z0-9]{8,20}", fullmatch=True)),
        model=draw(names),
        parts=parts,  # type: ignore[arg-type]
        stop_reason=stop,
        usage=usage,
        created=draw(st.integers(1, 2**31)),
    )


@SETTINGS
@given(responses())
def test_response_round_trip(resp: ir.Response) -> None:
    body = json.loads(json.dumps(orr.render_response(resp)))
    Response.model_validate(body)
    assert orr.parse_response(body) == resp


# -------------------------------------------------------------------- streams


@st.composite
def event_streams(draw: st.DrawFn) -> list[ir.Event]:
    events: list[ir.Event] = [ir.MessageStart("msg_1", "m")]
    open_blocks: list[int] = []
    for index in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["text", "thinking", "tool_call"]))
        if kind == "tool_call":
            events.append(ir.BlockStart(index, kind, id=draw(call_ids), name=draw(names)))
            for piece in draw(st.lists(texts, max_size=3)):
                events.append(ir.ToolArgsDelta(index, piece))
        else:
            redacted = kind == "thinking" and draw(st.booleans())
            events.append(ir.BlockStart(index, kind, redacted=redacted))
            if not redacted:
                events += text_deltas(index, kind, draw(st.lists(texts, max_size=3)))
            if kind == "thinking" and (redacted or draw(st.booleans())):
                events.append(ir.SignatureDelta(index, draw(sigs)))
        open_blocks.append(index)
        if draw(st.integers(0, 4)):
            events.append(ir.BlockStop(open_blocks.pop()))
    stop = draw(st.sampled_from([None, "end_turn", "max_tokens", "content_filter"]))
    if stop is not None:
        events.append(ir.MessageDelta(stop, usage=ir.Usage(3, 9)))
    events.append(ir.MessageStop())
    return events


def summary(events: list[ir.Event]) -> dict[str, Any]:
    blocks: dict[int, list[Any]] = {}
    stop = None
    for ev in events:
        if isinstance(ev, ir.BlockStart):
            blocks[ev.index] = [
                ev.kind,
                ev.redacted,
                ev.id if ev.kind == "tool_call" else None,
                ev.name,
                "",
                None,
            ]
        elif isinstance(ev, ir.TextDelta | ir.ThinkingDelta):
            blocks[ev.index][4] += ev.text
        elif isinstance(ev, ir.ToolArgsDelta):
            blocks[ev.index][4] += ev.partial_json
        elif isinstance(ev, ir.SignatureDelta):
            blocks[ev.index][5] = (blocks[ev.index][5] or "") + ev.signature
        elif isinstance(ev, ir.MessageDelta) and ev.stop_reason:
            stop = ev.stop_reason
    ordered = [b for _, b in sorted(blocks.items())]
    for b in ordered:
        if b[0] == "tool_call" and not b[4]:
            b[4] = "{}"  # a call without arguments is sent as "{}"
    if stop in (None, "end_turn"):  # the format says tool use only by its function calls
        stop = "tool_use" if any(b[0] == "tool_call" for b in ordered) else "end_turn"
    return {"blocks": ordered, "stop": stop}


@SETTINGS
@given(event_streams())
def test_stream_round_trip(events: list[ir.Event]) -> None:
    raw = encode(orr, events, "m")
    sse = SSEDecoder()
    dec = orr.StreamDecoder()
    back: list[ir.Event] = []
    seq = []
    for e in sse.feed(raw) + sse.close():
        seq.append(EVENTS.validate_python(json.loads(e.data)).sequence_number)
        back += dec.feed(e.event, e.data)
    back += dec.close()
    assert seq == list(range(len(seq)))
    assert summary(back) == summary(events)
    assert isinstance(back[-1], ir.MessageStop)

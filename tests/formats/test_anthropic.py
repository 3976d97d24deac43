"""Anthropic Messages codec: fixtures both ways, streams, errors, SDK validity."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import anthropic.types as at
import pydantic
import pytest
from anthropic.lib.streaming._messages import accumulate_event

from omniroute import errors
from omniroute.formats import anthropic as an
from omniroute.formats import ir
from omniroute.formats.common import EFFORT_BUDGETS
from tests.formats import helpers
from tests.formats.helpers import collect, sse_events

FIXTURES = helpers.FIXTURES / "anthropic"
STREAM_EVENT: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(at.RawMessageStreamEvent)

load = partial(helpers.load, "anthropic")
decode_stream = partial(helpers.decode_stream, an)
encode = partial(helpers.encode, an, model="claude-test")


def sdk_final_message(raw: bytes) -> at.Message:
    """Run an encoded stream through the SDK's own event types and accumulator."""
    snapshot = None
    json_bufs: dict[int, bytes] = {}  # the SDK's buffers of partial tool input
    for event, data in sse_events(raw):
        obj = json.loads(data)
        assert obj["type"] == event  # the event: line names the data's type
        if event == "ping":
            continue
        snapshot = accumulate_event(
            event=STREAM_EVENT.validate_python(obj), current_snapshot=snapshot, json_bufs=json_bufs
        )
    assert snapshot is not None
    return at.Message.model_validate(snapshot.model_dump())


# ------------------------------------------------------------------ requests


def test_parse_request_fixture() -> None:
    req = an.parse_request(load("request.json"))
    assert req.model == "claude-sonnet-4-5-20250929" and req.max_tokens == 16000
    assert [p.text for p in req.system][1] == "Always answer in one sentence."
    assert req.system[1].cache == ir.CacheMark("ephemeral")
    assert req.reasoning == ir.Reasoning(enabled=True, budget_tokens=10000, include_thoughts=True)
    assert req.tool_choice == ir.ToolChoice("auto") and req.parallel_tool_calls is False
    assert [t.name for t in req.tools] == ["get_weather"]
    assert req.tools[0].cache == ir.CacheMark("ephemeral", "1h")
    user, assistant, results = req.messages
    assert isinstance(user.parts[1], ir.ImagePart) and user.parts[1].media_type == "image/png"
    assert isinstance(user.parts[2], ir.ImagePart) and user.parts[2].url
    thinking, redacted, text, call = assistant.parts
    assert isinstance(thinking, ir.ThinkingPart) and thinking.signature
    assert thinking.signature.startswith("EqQB")
    assert isinstance(redacted, ir.ThinkingPart) and redacted.redacted and redacted.signature
    assert text == ir.TextPart("Let me check the weather.")
    assert call == ir.ToolCallPart(
        "toolu_01A09q90qw90lq917835lq9",
        "get_weather",
        '{"location":"San Francisco, CA","unit":"celsius"}',
    )
    first, second = results.parts
    assert isinstance(first, ir.ToolResultPart) and first.name == "get_weather"
    assert isinstance(first.content[1], ir.ImagePart)
    assert isinstance(second, ir.ToolResultPart) and second.is_error
    assert second.content == [ir.TextPart("error: unknown")]
    assert req.user == "13803d75-b4b5-4c3e-b2a2-6f21399b021b"
    assert req.stop == ["\n\nHuman:"] and req.stream and req.temperature == 1.0
    vendor = req.vendor["anthropic"]
    assert vendor["service_tier"] == "auto"
    assert vendor["_server_tools"][0]["name"] == "web_search"
    assert vendor["_blocks"][0]["block"]["type"] == "document"


def test_render_request_round_trips_fixture() -> None:
    body = load("request.json")
    out = an.render_request(an.parse_request(body))
    assert set(out) == set(body)
    for key in ("model", "max_tokens", "system", "thinking", "tools", "tool_choice",
                "stop_sequences", "temperature", "metadata", "stream", "service_tier"):  # fmt: skip
        assert out[key] == body[key], key
    assert out["messages"][:2] == body["messages"][:2]  # document block back in place
    results = out["messages"][2]["content"]
    assert results[0] == body["messages"][2]["content"][0]
    assert results[1]["content"] == [{"type": "text", "text": "error: unknown"}]


def test_render_request_from_openai_shaped_ir() -> None:
    req = ir.Request(
        model="claude-x",
        system=[ir.TextPart("be brief")],
        messages=[
            ir.Message("user", [ir.TextPart("hi"), ir.ImagePart(url="data:image/gif;base64,R0lG")]),
            ir.Message("user", [ir.TextPart("again")]),
            ir.Message(
                "assistant",
                [
                    ir.ThinkingPart("unsigned"),
                    ir.TextPart(""),
                    ir.ToolCallPart("functions.get:0", "get", '{"a": 1'),
                ],
            ),
            ir.Message(
                "user",
                [ir.TextPart("also"), ir.ToolResultPart("functions.get:0", [ir.TextPart("r")])],
            ),
        ],
        tools=[ir.ToolDef("get", parameters={"properties": {}}, strict=True)],
        tool_choice=ir.ToolChoice("none"),
        reasoning=ir.Reasoning(effort="high"),
        response_format=ir.ResponseFormat("json_schema", {"type": "object"}, "out"),
        temperature=0.2,
        top_k=3,
        seed=7,
    )
    out = an.render_request(req)
    # the last assistant turn calls a tool without signed thinking: thinking stays off
    assert "thinking" not in out and out["max_tokens"] == an.DEFAULT_MAX_TOKENS
    assert out["temperature"] == 0.2 and out["top_k"] == 3 and "seed" not in out
    assert out["system"][0] == {"type": "text", "text": "be brief"}
    assert (
        "JSON Schema" in out["system"][1]["text"]
        and '{"type":"object"}' in out["system"][1]["text"]
    )
    msgs = out["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]  # merged: alternation
    assert msgs[0]["content"][1]["source"] == {
        "type": "base64",
        "media_type": "image/gif",
        "data": "R0lG",
    }
    assert msgs[0]["content"][2] == {"type": "text", "text": "again"}
    # unsigned thinking and empty text dropped; id made valid; bad JSON repaired
    assert msgs[1]["content"] == [
        {"type": "tool_use", "id": "functions_get_0", "name": "get", "input": {"a": 1}}
    ]
    assert msgs[2]["content"][0]["type"] == "tool_result"  # tool results lead the turn
    assert msgs[2]["content"][0]["tool_use_id"] == "functions_get_0"
    assert out["tools"] == [{"name": "get", "input_schema": {"properties": {}, "type": "object"}}]
    assert out["tool_choice"] == {"type": "none"}


@pytest.mark.parametrize(
    ("reasoning", "max_tokens", "tool_choice", "thinking", "want_max"),
    [
        (None, None, None, None, an.DEFAULT_MAX_TOKENS),
        (ir.Reasoning(effort="low"), None, None, {"type": "enabled", "budget_tokens": 4096},
         an.DEFAULT_MAX_TOKENS),
        (ir.Reasoning(budget_tokens=500), None, None, {"type": "enabled", "budget_tokens": 1024},
         an.DEFAULT_MAX_TOKENS),
        (ir.Reasoning(effort="high"), 2000, None, {"type": "enabled", "budget_tokens": 1024},
         2000),
        (ir.Reasoning(effort="high"), 900, None, None, 900),
        (ir.Reasoning(enabled=False), None, None, {"type": "disabled"}, an.DEFAULT_MAX_TOKENS),
        (ir.Reasoning(effort="none"), 10, None, {"type": "disabled"}, 10),
        (ir.Reasoning(effort="medium"), None, ir.ToolChoice("required"), None,
         an.DEFAULT_MAX_TOKENS),
        (ir.Reasoning(enabled=True), None, None, {"type": "enabled", "budget_tokens": 8192},
         12288),
    ],
)  # fmt: skip
def test_thinking_budget_rules(
    reasoning: ir.Reasoning | None,
    max_tokens: int | None,
    tool_choice: ir.ToolChoice | None,
    thinking: dict[str, Any] | None,
    want_max: int,
) -> None:
    req = ir.Request(
        model="c",
        messages=[ir.Message("user", [ir.TextPart("x")])],
        reasoning=reasoning,
        max_tokens=max_tokens,
        tool_choice=tool_choice,
        tools=[ir.ToolDef("t")],
    )
    out = an.render_request(req)
    assert out.get("thinking") == thinking
    assert out["max_tokens"] == want_max
    if thinking and thinking.get("budget_tokens"):
        assert out["max_tokens"] > thinking["budget_tokens"]


def test_thinking_needs_signed_thinking_in_a_tool_loop() -> None:
    call = ir.ToolCallPart("toolu_1", "t", "{}")
    result = ir.Message("user", [ir.ToolResultPart("toolu_1", [ir.TextPart("ok")])])

    def render(*assistant: ir.Part) -> dict[str, Any]:
        req = ir.Request(
            model="c",
            messages=[
                ir.Message("user", [ir.TextPart("q")]),
                ir.Message("assistant", list(assistant)),
                result,
            ],
            reasoning=ir.Reasoning(effort="low"),
            temperature=0.5,
        )
        return an.render_request(req)

    unsigned = render(ir.ThinkingPart("from another model"), call)
    assert "thinking" not in unsigned and unsigned["temperature"] == 0.5
    signed = render(ir.ThinkingPart("mine", signature="sig"), call)
    assert signed["thinking"] == {"type": "enabled", "budget_tokens": EFFORT_BUDGETS["low"]}
    assert "temperature" not in signed
    assert signed["messages"][1]["content"][0]["type"] == "thinking"
    no_tools = render(ir.TextPart("plain answer"))
    assert no_tools["thinking"]["type"] == "enabled"


def test_adaptive_thinking_round_trips() -> None:
    body = {"model": "c", "max_tokens": 100, "thinking": {"type": "adaptive"},
            "messages": [{"role": "user", "content": "x"}]}  # fmt: skip
    req = an.parse_request(body)
    assert req.reasoning == ir.Reasoning(enabled=True, include_thoughts=True)
    assert an.render_request(req)["thinking"] == {"type": "adaptive"}


@pytest.mark.parametrize("kind", ["enabled", "adaptive"])
@pytest.mark.parametrize(("display", "shown"), [(None, True), ("summarized", True),
                                                ("omitted", False)])  # fmt: skip
def test_thinking_on_asks_for_visible_thoughts(kind: str, display: str | None, shown: bool) -> None:
    """Anthropic thinking comes back as text unless the client said
    ``display: "omitted"``; the IR says so, and the client's own display
    choice goes back to an Anthropic upstream."""
    thinking: dict[str, Any] = {"type": kind}
    if kind == "enabled":
        thinking["budget_tokens"] = 2048
    if display is not None:
        thinking["display"] = display
    body = {"model": "c", "max_tokens": 4096, "thinking": thinking,
            "messages": [{"role": "user", "content": "x"}]}  # fmt: skip
    req = an.parse_request(body)
    assert req.reasoning is not None and req.reasoning.enabled is True
    assert req.reasoning.include_thoughts is shown
    assert an.render_request(req)["thinking"] == thinking


def test_disabled_thinking_says_nothing_about_thoughts() -> None:
    body = {"model": "c", "max_tokens": 10, "thinking": {"type": "disabled"},
            "messages": [{"role": "user", "content": "x"}]}  # fmt: skip
    assert an.parse_request(body).reasoning == ir.Reasoning(enabled=False)


def test_tool_choice_forms() -> None:
    base = {"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
            "tools": [{"name": "t", "input_schema": {"type": "object"}}]}  # fmt: skip
    for wire, mode in (("auto", "auto"), ("any", "required"), ("none", "none")):
        req = an.parse_request(base | {"tool_choice": {"type": wire}})
        assert req.tool_choice == ir.ToolChoice(mode)  # type: ignore[arg-type]
        assert an.render_request(req)["tool_choice"] == {"type": wire}
    req = an.parse_request(base | {"tool_choice": {"type": "tool", "name": "t"}})
    assert req.tool_choice == ir.ToolChoice("tool", "t")
    assert an.render_request(req)["tool_choice"] == {"type": "tool", "name": "t"}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "'model'"),
        ({"model": "c"}, "'messages'"),
        ({"model": "c", "messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
        ({"model": "c", "messages": [{"role": "system", "content": "x"}]}, "user or assistant"),
        ({"model": "c", "messages": [{"role": "user", "content": 1}]}, "messages[0].content"),
        ({"model": "c", "messages": [{"role": "user", "content": [{"type": "text"}]}]},
         "messages[0].content[0].text"),
        ({"model": "c", "messages": [{"role": "user", "content": [
            {"type": "tool_result"}]}]}, "tool_use_id"),
        ({"model": "c", "messages": [{"role": "assistant", "content": [
            {"type": "tool_use", "input": {}}]}]}, "id and name"),
        ({"model": "c", "messages": [{"role": "user", "content": "x"}], "max_tokens": "9"},
         "'max_tokens'"),
        ({"model": "c", "messages": [{"role": "user", "content": "x"}], "thinking": {
            "type": "enabled"}}, "budget_tokens"),
        ({"model": "c", "messages": [{"role": "user", "content": "x"}], "tool_choice": {
            "type": "sometimes"}}, "tool_choice"),
        ({"model": "c", "messages": [{"role": "user", "content": "x"}], "system": [
            {"type": "image"}]}, "system[0]"),
        ({"model": "c", "messages": [{"role": "user", "content": "x"}], "stream": 1},
         "'stream'"),
        ({"model": "c", "messages": [{"role": "user", "content": "x"}], "tools": [{}]},
         "tools[0].name"),
    ],
)  # fmt: skip
def test_parse_request_rejects_invalid_input(body: dict[str, Any], needle: str) -> None:
    with pytest.raises(errors.BadRequest) as info:
        an.parse_request(body)
    assert needle in info.value.message


def test_count_tokens_estimate_grows_with_content() -> None:
    small = an.parse_request(load("request.json"))
    base = an.count_tokens_estimate(small)
    assert base > 0
    small.messages.append(ir.Message("user", [ir.TextPart("x" * 400)]))
    assert an.count_tokens_estimate(small) >= base + 100
    small.tools.append(ir.ToolDef("another", "a tool with a description"))
    assert an.count_tokens_estimate(small) > base + 100


# ----------------------------------------------------------------- responses


def test_parse_response_text_converts_cached_usage() -> None:
    resp = an.parse_response(load("response_text.json"))
    assert resp.parts == [ir.TextPart("Hello! How can I help you today?")]
    assert resp.usage == ir.Usage(input_tokens=2060, output_tokens=10, cached_input_tokens=2048)
    assert an.render_response(resp)["usage"] == {
        "input_tokens": 12,
        "output_tokens": 10,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 2048,
    }


def test_parse_response_tool_use_and_thinking() -> None:
    resp = an.parse_response(load("response_tool_use.json"))
    assert resp.stop_reason == "tool_use"
    assert resp.parts[1] == ir.ToolCallPart(
        "toolu_01A09q90qw90lq917835lq9",
        "get_weather",
        '{"location":"San Francisco, CA","unit":"celsius"}',
    )
    assert resp.usage.input_tokens == 484 and resp.usage.cache_creation_tokens == 100
    thinking = an.parse_response(load("response_thinking.json"))
    first, second, _ = thinking.parts
    assert isinstance(first, ir.ThinkingPart) and first.signature and "12231" in first.text
    assert isinstance(second, ir.ThinkingPart) and second.redacted


@pytest.mark.parametrize(
    "name", ["response_text.json", "response_tool_use.json", "response_thinking.json"]
)
def test_render_response_matches_fixture_and_sdk(name: str) -> None:
    body = load(name)
    out = an.render_response(an.parse_response(body))
    at.Message.model_validate(out)
    for key in ("id", "type", "role", "model", "content", "stop_reason", "stop_sequence"):
        assert out[key] == body[key], key
    for key, value in out["usage"].items():
        assert body["usage"].get(key, 0) == value, key


@pytest.mark.parametrize(
    ("stop", "wire"),
    [("end_turn", "end_turn"), ("max_tokens", "max_tokens"), ("tool_use", "tool_use"),
     ("stop_sequence", "stop_sequence"), ("content_filter", "refusal"), ("error", "end_turn")],
)  # fmt: skip
def test_render_response_stop_reasons(stop: ir.StopReason, wire: str) -> None:
    resp = ir.Response(
        id="chatcmpl-1",
        model="m",
        parts=[ir.ThinkingPart("unsigned"), ir.TextPart("x")],
        stop_reason=stop,
        stop_sequence="END" if stop == "stop_sequence" else None,
        usage=ir.Usage(input_tokens=3, output_tokens=1, estimated=True),
    )
    out = an.render_response(resp)
    msg = at.Message.model_validate(out)
    assert msg.stop_reason == wire and msg.id.startswith("msg_")
    assert out["content"][0] == {"type": "thinking", "thinking": "unsigned", "signature": ""}
    assert msg.usage.input_tokens == 3


def test_pause_turn_survives_json_round_trip() -> None:
    body = load("response_text.json") | {"stop_reason": "pause_turn"}
    resp = an.parse_response(body)
    assert resp.stop_reason == "end_turn"
    assert an.render_response(resp)["stop_reason"] == "pause_turn"


# ------------------------------------------------------------------- streams


def test_decode_text_stream() -> None:
    events = decode_stream((FIXTURES / "stream_text.sse").read_bytes())
    assert events[0] == ir.MessageStart(
        "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",
        "claude-sonnet-4-5-20250929",
        ir.Usage(input_tokens=25, output_tokens=1),
    )
    got = collect(events)
    assert got["text"] == "Hello!" and got["stop"] == "end_turn"
    delta = [e for e in events if isinstance(e, ir.MessageDelta)][0]
    assert delta.usage == ir.Usage(input_tokens=25, output_tokens=15)
    assert isinstance(events[-1], ir.MessageStop)


def test_decode_tool_use_stream() -> None:
    got = collect(decode_stream((FIXTURES / "stream_tool_use.sse").read_bytes()))
    assert got["text"] == "Okay, let's check the weather for San Francisco, CA:"
    assert got["calls"] == [
        ["toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather",
         {"location": "San Francisco, CA", "unit": "fahrenheit"}]
    ]  # fmt: skip
    assert got["stop"] == "tool_use"


def test_decode_thinking_stream_keeps_signatures() -> None:
    events = decode_stream((FIXTURES / "stream_thinking.sse").read_bytes())
    got = collect(events)
    assert got["thinking"].startswith("Let me solve this") and got["text"] == "27 * 453 = 12,231"
    assert got["signatures"] == [
        "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds...",
        "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP",
    ]
    starts = [e for e in events if isinstance(e, ir.BlockStart)]
    assert [(s.index, s.kind, s.redacted) for s in starts] == [
        (0, "thinking", False),
        (1, "thinking", True),
        (2, "text", False),
    ]
    start = events[0]
    assert isinstance(start, ir.MessageStart) and start.usage is not None
    assert start.usage.input_tokens == 1240 and start.usage.cached_input_tokens == 1200


def test_decode_error_event() -> None:
    events = decode_stream((FIXTURES / "stream_error.sse").read_bytes())
    err = events[-1]
    assert isinstance(err, ir.StreamError)
    assert err.error == ir.ErrorInfo(status=503, kind="overloaded", message="Overloaded")
    assert not any(isinstance(e, ir.MessageStop) for e in events)


def test_decoder_skips_unknown_and_server_tool_blocks() -> None:
    dec = an.StreamDecoder()
    feed = [
        {"type": "message_start", "message": {"id": "msg_1", "model": "c", "usage": {}}},
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search"}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "input_json_delta", "partial_json": "{}"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "brand_new_event", "x": 1},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": "A"}},
        {"type": "content_block_delta", "index": 1,
         "delta": {"type": "citations_delta", "citation": {}}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "B"}},
    ]  # fmt: skip
    events: list[ir.Event] = []
    for obj in feed:
        events += dec.feed(obj["type"], json.dumps(obj))
    events += dec.close()  # no message_stop: close what is open
    assert events[1:] == [
        ir.BlockStart(0, "text"),
        ir.TextDelta(0, "A"),
        ir.TextDelta(0, "B"),
        ir.BlockStop(0),
        ir.MessageStop(),
    ]
    with pytest.raises(errors.UpstreamProtocolError):
        an.StreamDecoder().feed("message_start", "{not json")


@pytest.mark.parametrize("name", ["stream_text.sse", "stream_tool_use.sse", "stream_thinking.sse"])
def test_reencode_fixture_stream_sdk_accumulates(name: str) -> None:
    raw = (FIXTURES / name).read_bytes()
    events = decode_stream(raw)
    encoded = encode(events, model="claude-client")
    ours = sdk_final_message(encoded)
    theirs = sdk_final_message(raw)
    assert ours.model == "claude-client" and ours.id == theirs.id
    assert [b.model_dump() for b in ours.content] == [b.model_dump() for b in theirs.content]
    assert ours.stop_reason == theirs.stop_reason
    assert ours.usage.output_tokens == theirs.usage.output_tokens
    assert collect(decode_stream(encoded)) == collect(events)
    names = [e for e, _ in sse_events(encoded)]
    assert names[:2] == ["message_start", "ping"] and names[-2:] == [
        "message_delta",
        "message_stop",
    ]


def test_encoder_serialises_interleaved_blocks() -> None:
    """OpenAI-style: tool 1 still open when tool 2 starts; sparse end."""
    events: list[ir.Event] = [
        ir.MessageStart("chatcmpl-1", "gpt"),
        ir.BlockStart(0, "text"),
        ir.TextDelta(0, "Hi"),
        ir.BlockStart(1, "tool_call", id="call_1", name="a"),
        ir.ToolArgsDelta(1, '{"x":1}'),
        ir.BlockStart(2, "tool_call", id="call_2", name="b"),
        ir.ToolArgsDelta(2, '{"y":'),
        ir.ToolArgsDelta(2, "2}"),
        ir.BlockStop(1),
        ir.BlockStop(2),
        ir.MessageStop(),  # no MessageDelta at all
    ]
    raw = encode(events)
    msg = sdk_final_message(raw)
    assert [b.type for b in msg.content] == ["text", "tool_use", "tool_use"]
    assert msg.content[1].model_dump()["input"] == {"x": 1}
    assert msg.content[2].model_dump()["input"] == {"y": 2}
    assert msg.stop_reason == "tool_use"
    opened = 0
    for event, data in sse_events(raw):
        obj = json.loads(data)
        if event == "content_block_start":
            assert opened == 0
            opened += 1
            assert obj["index"] == [0, 1, 2][obj["index"]]
        elif event == "content_block_stop":
            opened -= 1
    assert opened == 0


def test_encoder_redacted_and_sparse_deltas() -> None:
    events: list[ir.Event] = [
        ir.BlockStart(0, "thinking", redacted=True),
        ir.SignatureDelta(0, "opaque"),
        ir.BlockStop(0),
        ir.TextDelta(1, "no start"),  # a sparse decoder: block opened on demand
        ir.MessageDelta("max_tokens", usage=ir.Usage(input_tokens=7, output_tokens=2)),
        ir.MessageStop(),
    ]
    raw = encode(events)
    msg = sdk_final_message(raw)
    assert msg.content[0].model_dump() == {"type": "redacted_thinking", "data": "opaque"}
    assert msg.content[1].model_dump()["text"] == "no start"
    assert msg.stop_reason == "max_tokens" and msg.usage.output_tokens == 2
    assert msg.id.startswith("msg_")


def test_encoder_error_stops_everything() -> None:
    enc = an.StreamEncoder("c")
    out = enc.encode(ir.MessageStart("msg_1", "c"))
    out += enc.encode(ir.BlockStart(0, "text"))
    err = ir.ErrorInfo(status=529, kind="overloaded", message="Overloaded")
    out += enc.encode(ir.StreamError(err))
    out += enc.encode(ir.TextDelta(0, "late")) + enc.encode(ir.MessageStop())
    events = sse_events(out)
    assert events[-1] == ("error", json.dumps(an.render_error(err), separators=(",", ":")))
    assert not any(e in ("message_stop", "message_delta") for e, _ in events)
    at.ErrorResponse.model_validate(json.loads(events[-1][1]))


# -------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kind", "etype"),
    [("invalid_request", "invalid_request_error"), ("authentication", "authentication_error"),
     ("permission", "permission_error"), ("not_found", "not_found_error"),
     ("rate_limit", "rate_limit_error"), ("api_error", "api_error"),
     ("overloaded", "overloaded_error"), ("timeout", "timeout_error"),
     ("something_new", "api_error")],
)  # fmt: skip
def test_render_error_sdk_valid(kind: str, etype: str) -> None:
    body = an.render_error(ir.ErrorInfo(status=500, kind=kind, message="m"))
    assert body == {"type": "error", "error": {"type": etype, "message": "m"}}
    at.ErrorResponse.model_validate(body)
    frame = an.error_event(ir.ErrorInfo(status=500, kind=kind, message="m"))
    assert frame.startswith(b"event: error\ndata: {") and frame.endswith(b"}\n\n")


def test_render_error_request_too_large() -> None:
    body = an.render_error(ir.ErrorInfo(413, "request_too_large", "too big"))
    assert body["error"]["type"] == "request_too_large"


def test_parse_error_bodies() -> None:
    info = an.parse_error(529, (FIXTURES / "error.json").read_bytes())
    assert info == ir.ErrorInfo(status=529, kind="overloaded", message="Overloaded")
    auth = an.parse_error(401, (FIXTURES / "error_auth.json").read_bytes())
    assert auth.kind == "authentication" and auth.message == "invalid x-api-key"
    html = an.parse_error(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>")
    assert html.message == "502 Bad Gateway" and html.kind == "api_error"
    secret = an.parse_error(401, b"bad key sk-ant-api03-abcdefghijklmnopqrstu")
    assert "sk-ant" not in secret.message


def test_encoder_estimates_output_when_upstream_gives_only_input() -> None:
    events: list[ir.Event] = [
        ir.MessageStart("msg_1", "c", ir.Usage(input_tokens=50, cached_input_tokens=40)),
        ir.BlockStart(0, "text"),
        ir.TextDelta(0, "x" * 41),
        ir.BlockStop(0),
        ir.MessageStop(),
    ]
    raw = encode(events)
    start = json.loads(sse_events(raw)[0][1])
    assert start["message"]["usage"]["input_tokens"] == 10  # cached ones reported apart
    assert start["message"]["usage"]["cache_read_input_tokens"] == 40
    msg = sdk_final_message(raw)
    assert msg.usage.output_tokens == 11 and msg.stop_reason == "end_turn"

"""OpenAI Chat Completions codec: fixtures both ways, streams, errors, SDK validity."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.shared import ErrorObject

from omniroute import errors
from omniroute.formats import ir
from omniroute.formats import openai_chat as oc
from tests.formats import helpers
from tests.formats.helpers import sse_events

FIXTURES = helpers.FIXTURES / "openai"

load = partial(helpers.load, "openai")
decode_stream = partial(helpers.decode_stream, oc)
encode = partial(helpers.encode, oc, model="m", include_usage=True)
# Tool-call arguments kept as the texts sent.
collect = partial(helpers.collect, parse_args=False)


def chunks_of(raw: bytes) -> list[dict[str, Any]]:
    """The JSON chunks of an encoded stream, checking it ends with [DONE]."""
    events = sse_events(raw)
    assert events[-1][1] == "[DONE]"
    return [json.loads(data) for _, data in events[:-1]]


# ------------------------------------------------------------------ requests


def test_parse_request_fixture() -> None:
    req = oc.parse_request(load("request.json"))
    assert req.model == "o4-mini"
    assert [p.text for p in req.system] == ["You are a helpful assistant."]
    assert [m.role for m in req.messages] == ["user", "assistant", "user"]
    user = req.messages[0].parts
    assert isinstance(user[1], ir.ImagePart) and user[1].url and user[1].detail == "high"
    assert isinstance(user[2], ir.ImagePart) and user[2].media_type == "image/png"
    assert user[2].data and user[2].data.startswith("iVBOR")
    calls = req.messages[1].parts
    assert [(c.id, c.name) for c in calls if isinstance(c, ir.ToolCallPart)] == [
        ("call_abc123", "get_current_weather"),
        ("call_def456", "get_current_time"),
    ]
    results = req.messages[2].parts  # two tool messages merged into one user turn
    assert all(isinstance(r, ir.ToolResultPart) for r in results)
    assert [(r.call_id, r.name) for r in results if isinstance(r, ir.ToolResultPart)] == [
        ("call_abc123", "get_current_weather"),
        ("call_def456", "get_current_time"),
    ]
    assert [t.name for t in req.tools] == ["get_current_weather", "get_current_time"]
    assert req.tools[0].strict is False
    assert req.tool_choice == ir.ToolChoice(mode="auto")
    assert req.parallel_tool_calls is True
    assert req.reasoning == ir.Reasoning(effort="low")
    assert req.max_tokens == 1024 and req.temperature == 0.7 and req.top_p == 1.0
    assert req.stop == ["\n\nUser:"] and req.seed == 42 and req.user == "user-1234"
    assert req.metadata == {"session": "abc"}
    assert req.stream and req.include_usage
    assert req.response_format == ir.ResponseFormat(type="text")
    vendor = req.vendor["openai"]
    assert vendor["frequency_penalty"] == 0.1 and vendor["logit_bias"] == {"50256": -100}


def test_render_request_round_trips_fixture() -> None:
    body = load("request.json")
    out = oc.render_request(oc.parse_request(body))
    for key in ("model", "tools", "tool_choice", "parallel_tool_calls", "response_format",
                "reasoning_effort", "max_completion_tokens", "temperature", "stop", "seed",
                "user", "metadata", "frequency_penalty", "logit_bias"):  # fmt: skip
        assert out[key] == body[key], key
    assert out["stream"] is True and out["stream_options"] == {"include_usage": True}
    assert out["messages"][0] == {"role": "developer", "content": "You are a helpful assistant."}
    assert out["messages"][1] == body["messages"][1]
    assert out["messages"][2]["tool_calls"] == body["messages"][2]["tool_calls"]
    assert out["messages"][3] == body["messages"][3]
    assert out["messages"][4]["tool_call_id"] == "call_def456"
    assert out["messages"][4]["content"] == "14:05"
    assert "n" not in out


def test_render_request_from_foreign_ir() -> None:
    req = ir.Request(
        model="gpt-x",
        system=[ir.TextPart("sys")],
        messages=[
            ir.Message("user", [ir.TextPart("hi")]),
            ir.Message(
                "assistant",
                [
                    ir.ThinkingPart("signed", signature="sig"),
                    ir.ThinkingPart("plain"),
                    ir.TextPart("a"),
                    ir.TextPart("b"),
                    ir.ToolCallPart("toolu_1", "f", '{"x":1}'),
                ],
            ),
            ir.Message(
                "user",
                [
                    ir.ToolResultPart(
                        "toolu_1",
                        [ir.TextPart("ok"), ir.ImagePart(data="AAAA", media_type="image/jpeg")],
                        is_error=True,
                    ),
                    ir.TextPart("next"),
                ],
            ),
        ],
        reasoning=ir.Reasoning(budget_tokens=20000),
        max_tokens=500,
        top_k=5,
        stream=True,
    )
    out = oc.render_request(req)
    msgs = out["messages"]
    assert msgs[0] == {"role": "system", "content": "sys"}
    assert msgs[2] == {
        "role": "assistant",
        "content": "ab",
        "reasoning_content": "plain",  # signed thinking is not sent to OpenAI upstreams
        "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": '{"x":1}'}}
        ],
    }
    assert msgs[3] == {"role": "tool", "tool_call_id": "toolu_1", "content": "ok"}
    assert msgs[4]["content"][0]["image_url"]["url"] == "data:image/jpeg;base64,AAAA"
    assert msgs[5] == {"role": "user", "content": "next"}
    assert out["reasoning_effort"] == "high"
    assert out["max_completion_tokens"] == 500 and "max_tokens" not in out
    assert "top_k" not in out
    assert out["stream_options"] == {"include_usage": True}


def test_legacy_functions_and_missing_ids_are_stable() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None,
             "function_call": {"name": "lookup", "arguments": "{}"}},
            {"role": "function", "name": "lookup", "content": "found"},
            {"role": "assistant", "tool_calls": [
                {"type": "function", "function": {"name": "g", "arguments": {"a": 1}}}]},
        ],
        "functions": [{"name": "lookup", "parameters": {"type": "object"}}],
        "function_call": {"name": "lookup"},
    }  # fmt: skip
    first = oc.parse_request(body)
    second = oc.parse_request(json.loads(json.dumps(body)))
    call = first.messages[1].parts[0]
    result = first.messages[2].parts[0]
    assert isinstance(call, ir.ToolCallPart) and isinstance(result, ir.ToolResultPart)
    assert call.id.startswith("call_") and result.call_id == call.id
    assert result.name == "lookup"
    generated = first.messages[3].parts[0]
    assert isinstance(generated, ir.ToolCallPart) and generated.arguments == '{"a":1}'
    assert first.messages == second.messages  # same conversation -> same ids
    assert first.tools[0].name == "lookup"
    assert first.tool_choice == ir.ToolChoice(mode="tool", name="lookup")


def test_audio_parts_kept_for_openai_upstream() -> None:
    audio = {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}}
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": [audio, {"type": "text", "text": "transcribe"}]}],
    }
    req = oc.parse_request(body)
    assert req.messages[0].parts == [ir.TextPart("transcribe")]
    assert oc.render_request(req)["messages"] == body["messages"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "'model'"),
        ({"model": "m"}, "'messages'"),
        ({"model": "m", "messages": []}, "'messages'"),
        ({"model": 3, "messages": [{"role": "user", "content": "x"}]}, "'model'"),
        ({"model": "m", "messages": [{"role": "bot", "content": "x"}]}, "messages[0].role"),
        ({"model": "m", "messages": ["hi"]}, "messages[0]"),
        ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2}, "'n'"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"},
         "'temperature'"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"},
         "'stream'"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": True},
         "'max_tokens'"),
        ({"model": "m", "messages": [{"role": "tool", "content": "x"}]}, "tool_call_id"),
        ({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}]}]}, "image_url.url"),
        ({"model": "m", "messages": [{"role": "user", "content": [{"type": "video"}]}]},
         "'video'"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}],
          "response_format": {"type": "yaml"}}, "response_format"),
    ],
)  # fmt: skip
def test_parse_request_rejects_invalid_input(body: dict[str, Any], needle: str) -> None:
    with pytest.raises(errors.BadRequest) as info:
        oc.parse_request(body)
    assert needle in info.value.message


def test_stream_absent_means_false_and_json_schema_parsed() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    req = oc.parse_request(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "out", "schema": schema, "strict": True},
            },
        }
    )
    assert req.stream is False
    assert req.response_format == ir.ResponseFormat("json_schema", schema, "out", True)
    assert oc.render_request(req)["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "out", "schema": schema, "strict": True},
    }


# ----------------------------------------------------------------- responses


def test_parse_response_text() -> None:
    resp = oc.parse_response(load("response_text.json"))
    assert resp.parts == [ir.TextPart("Hello! How can I assist you today?")]
    assert resp.stop_reason == "end_turn"
    assert resp.usage == ir.Usage(input_tokens=19, output_tokens=10)
    assert resp.id == "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT" and resp.created == 1741569952


def test_parse_response_tool_calls_and_cached_usage() -> None:
    resp = oc.parse_response(load("response_tool_call.json"))
    assert resp.stop_reason == "tool_use"
    assert [(p.id, p.name) for p in resp.parts if isinstance(p, ir.ToolCallPart)] == [
        ("call_abc123", "get_current_weather"),
        ("call_xyz789", "get_current_time"),
    ]
    first = resp.parts[0]
    assert isinstance(first, ir.ToolCallPart)
    assert json.loads(first.arguments) == {"location": "Boston, MA"}
    assert resp.usage.cached_input_tokens == 64


def test_parse_response_reasoning_and_think_tags() -> None:
    resp = oc.parse_response(load("response_reasoning.json"))
    assert isinstance(resp.parts[0], ir.ThinkingPart) and "tenths" in resp.parts[0].text
    assert resp.parts[1] == ir.TextPart("9.11 is smaller than 9.8.")
    assert resp.usage.reasoning_tokens == 230
    tagged = oc.parse_response(load("response_think_tags.json"))
    assert isinstance(tagged.parts[0], ir.ThinkingPart)
    assert "greet back" in tagged.parts[0].text
    assert tagged.parts[1] == ir.TextPart("Hello there!")


def test_parse_response_without_usage_estimates() -> None:
    body = load("response_text.json")
    del body["usage"]
    usage = oc.parse_response(body).usage
    assert usage.estimated and usage.output_tokens == 9  # 34 chars / 4, rounded up


@pytest.mark.parametrize(
    "name", ["response_text.json", "response_tool_call.json", "response_reasoning.json"]
)
def test_render_response_is_sdk_valid_and_faithful(name: str) -> None:
    body = load(name)
    resp = oc.parse_response(body)
    out = oc.render_response(resp)
    parsed = ChatCompletion.model_validate(out)
    message = parsed.choices[0].message
    assert parsed.choices[0].finish_reason == body["choices"][0]["finish_reason"]
    assert message.content == body["choices"][0]["message"]["content"]
    assert out["choices"][0]["message"].get("reasoning_content") == body["choices"][0][
        "message"
    ].get("reasoning_content")
    want_calls = body["choices"][0]["message"].get("tool_calls")
    got_calls = [c.model_dump(exclude_none=True) for c in message.tool_calls or []] or None
    assert got_calls == want_calls
    assert parsed.usage is not None
    assert parsed.usage.prompt_tokens == body["usage"]["prompt_tokens"]
    assert parsed.usage.completion_tokens == body["usage"]["completion_tokens"]
    assert "system_fingerprint" not in out and "service_tier" not in out


def test_render_response_from_anthropic_shaped_ir() -> None:
    resp = ir.Response(
        id="msg_01",
        model="claude-x",
        parts=[
            ir.ThinkingPart("hmm", signature="sig"),
            ir.TextPart("Hi"),
            ir.ToolCallPart("toolu_9", "f", "{}"),
        ],
        stop_reason="tool_use",
        usage=ir.Usage(input_tokens=10, output_tokens=3, estimated=True),
    )
    out = oc.render_response(resp)
    parsed = ChatCompletion.model_validate(out)
    assert parsed.id.startswith("chatcmpl") and parsed.model == "claude-x"
    assert parsed.choices[0].finish_reason == "tool_calls"
    assert out["choices"][0]["message"]["reasoning_content"] == "hmm"
    assert parsed.usage is not None and parsed.usage.total_tokens == 13


# ------------------------------------------------------------------- streams


def test_decode_text_stream() -> None:
    events = decode_stream((FIXTURES / "stream_text.sse").read_bytes())
    assert isinstance(events[0], ir.MessageStart) and events[0].id == "chatcmpl-123"
    assert isinstance(events[-1], ir.MessageStop)
    got = collect(events)
    assert got["text"] == "Hello! How can I help?" and got["stop"] == "end_turn"
    usages = [e.usage for e in events if isinstance(e, ir.MessageDelta) and e.usage]
    assert usages[-1] == ir.Usage(input_tokens=9, output_tokens=6)
    starts = [e for e in events if isinstance(e, ir.BlockStart)]
    stops = [e for e in events if isinstance(e, ir.BlockStop)]
    assert [s.index for s in starts] == [s.index for s in stops] == [0]


def test_decode_tool_call_stream() -> None:
    events = decode_stream((FIXTURES / "stream_tool_call.sse").read_bytes())
    got = collect(events)
    assert got["stop"] == "tool_use"
    assert got["calls"] == [
        ["call_DdmO9pD3xa9XTPNJ32zg2hcA", "get_current_weather",
         '{"location": "Boston, MA"}'],
        ["call_ZY3pT2Ld8kq0Rw5uH1sNcXbE", "get_current_time",
         '{"timezone": "America/New_York"}'],
    ]  # fmt: skip
    starts = [e.index for e in events if isinstance(e, ir.BlockStart)]
    assert starts == [0, 1]


def test_decode_reasoning_stream_has_separate_blocks() -> None:
    events = decode_stream((FIXTURES / "stream_reasoning.sse").read_bytes())
    got = collect(events)
    assert got["thinking"] == "Compare the tenths digit: 1 < 8."
    assert got["text"] == "9.11 is smaller."
    kinds = [(e.index, e.kind) for e in events if isinstance(e, ir.BlockStart)]
    assert kinds == [(0, "thinking"), (1, "text")]
    delta = [e for e in events if isinstance(e, ir.MessageDelta)][0]
    assert delta.usage is not None and delta.usage.reasoning_tokens == 12


def test_decode_think_tags_split_across_chunks() -> None:
    events = decode_stream((FIXTURES / "stream_think_tags.sse").read_bytes())
    got = collect(events)
    assert got["thinking"] == "\nGreeting; greet back.\n"
    assert got["text"] == "Hello there!"


def test_decode_error_line_becomes_stream_error() -> None:
    events = decode_stream((FIXTURES / "stream_error.sse").read_bytes())
    err = events[-1]
    assert isinstance(err, ir.StreamError)
    assert err.error.kind == "api_error" and err.error.status == 502
    assert "server had an error" in err.error.message
    assert not any(isinstance(e, ir.MessageStop) for e in events)


def test_decoder_rejects_non_json_and_skips_unknown() -> None:
    dec = oc.StreamDecoder()
    assert dec.feed(None, '{"id":"x","choices":[{"index":0,"delta":{"weird":1}}],"extra":2}') == [
        ir.MessageStart(id="x", model="")
    ]
    assert dec.feed(None, "[1, 2]") == []
    with pytest.raises(errors.UpstreamProtocolError):
        dec.feed(None, "not json")


def test_decoder_close_without_done_and_nameless_fragments() -> None:
    def chunk(call: dict[str, Any]) -> str:
        return json.dumps({"id": "a", "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]})

    dec = oc.StreamDecoder()
    events = dec.feed(None, chunk({"index": 0, "id": "call_q", "function": {"arguments": '{"k"'}}))
    events += dec.feed(None, chunk({"index": 0, "function": {"name": "late", "arguments": ":2}"}}))
    events += dec.close()
    got = collect(events)
    assert got["calls"] == [["call_q", "late", '{"k":2}']]
    assert got["stop"] == "tool_use"
    assert isinstance(events[-1], ir.MessageStop)
    assert dec.close() == []


@pytest.mark.parametrize(
    "name", ["stream_text.sse", "stream_tool_call.sse", "stream_reasoning.sse"]
)
def test_reencode_fixture_stream_is_sdk_valid(name: str) -> None:
    events = decode_stream((FIXTURES / name).read_bytes())
    raw = encode(events, model="my-model")
    chunks = chunks_of(raw)
    parsed = [ChatCompletionChunk.model_validate(c) for c in chunks]
    assert len({(c.id, c.created, c.model) for c in parsed}) == 1
    assert parsed[0].model == "my-model"
    assert parsed[0].choices[0].delta.role == "assistant"
    finals = [c for c in parsed if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1
    assert parsed[-1].choices == [] and parsed[-1].usage is not None
    assert collect(decode_stream(raw)) == collect(events)


def test_encoder_tool_indexes_count_tool_calls_only() -> None:
    events: list[ir.Event] = [
        ir.MessageStart("msg_1", "x"),
        ir.BlockStart(0, "thinking"),
        ir.ThinkingDelta(0, "t"),
        ir.SignatureDelta(0, "sig"),
        ir.BlockStop(0),
        ir.BlockStart(1, "text"),
        ir.TextDelta(1, "hi"),
        ir.BlockStop(1),
        ir.BlockStart(2, "tool_call", id="toolu_a", name="f"),
        ir.ToolArgsDelta(2, '{"a":'),
        ir.ToolArgsDelta(2, "1}"),
        ir.BlockStop(2),
        ir.BlockStart(3, "tool_call", id="toolu_b", name="g"),
        ir.BlockStop(3),
        ir.MessageStop(),  # no MessageDelta: finish reason inferred
    ]
    chunks = chunks_of(encode(events, include_usage=False))
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks
             if c["choices"] and "tool_calls" in c["choices"][0]["delta"]]  # fmt: skip
    assert [c["index"] for c in calls] == [0, 0, 0, 1]
    assert calls[0] == {"index": 0, "id": "toolu_a", "type": "function",
                        "function": {"name": "f", "arguments": ""}}  # fmt: skip
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert all(c["choices"] for c in chunks)  # no usage chunk without include_usage
    for c in chunks:
        ChatCompletionChunk.model_validate(c)


def test_encoder_usage_estimated_when_missing_and_error_ends_stream() -> None:
    raw = encode([ir.BlockStart(0, "text"), ir.TextDelta(0, "12345678"), ir.MessageStop()])
    chunks = chunks_of(raw)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["usage"]["completion_tokens"] == 2
    enc = oc.StreamEncoder("m", include_usage=True)
    out = enc.encode(ir.TextDelta(0, "a"))
    err = ir.ErrorInfo(status=429, kind="rate_limit", message="slow down")
    out += enc.encode(ir.StreamError(err))
    out += enc.encode(ir.MessageStop())
    events = sse_events(out)
    assert json.loads(events[-1][1]) == oc.render_error(err)
    assert all(data != "[DONE]" for _, data in events)


# -------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kind", "etype"),
    [
        ("invalid_request", "invalid_request_error"),
        ("authentication", "authentication_error"),
        ("permission", "permission_error"),
        ("not_found", "not_found_error"),
        ("rate_limit", "rate_limit_error"),
        ("overloaded", "server_error"),
        ("api_error", "server_error"),
    ],
)
def test_render_error(kind: str, etype: str) -> None:
    body = oc.render_error(ir.ErrorInfo(status=400, kind=kind, message="boom"))
    assert body == {"error": {"message": "boom", "type": etype, "param": None, "code": kind}}
    ErrorObject.model_validate(body["error"])
    frame = oc.error_event(ir.ErrorInfo(status=400, kind=kind, message="boom"))
    assert frame == b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


def test_parse_error_fixture_redacts_key() -> None:
    info = oc.parse_error(401, (FIXTURES / "error.json").read_bytes())
    assert info.status == 401 and info.kind == "authentication"
    assert "Incorrect API key provided" in info.message
    assert "sk-proj-abcdefghijklmnopqrstuvwx" not in info.message
    limited = oc.parse_error(429, (FIXTURES / "error_rate_limit.json").read_bytes())
    assert limited.kind == "rate_limit" and "Rate limit reached" in limited.message


def test_parse_error_tolerates_html_and_junk() -> None:
    html = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1>" + (
        b"x" * 1000
    )
    info = oc.parse_error(502, html)
    assert info.kind == "api_error" and info.message.startswith("502 Bad Gateway")
    assert len(info.message) <= 300 and "<" not in info.message
    assert oc.parse_error(503, b"").message == "upstream HTTP 503"
    assert oc.parse_error(500, b'{"error": "plain string"}').message == "plain string"
    assert (
        oc.parse_error(400, b"Bearer abc.def.ghi rejected").message == "Bearer [redacted] rejected"
    )

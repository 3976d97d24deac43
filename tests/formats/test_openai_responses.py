"""OpenAI Responses codec: fixtures both ways, streams, history, errors, SDK validity."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest
from openai import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from omniroute import errors
from omniroute.formats import ir
from omniroute.formats import openai_responses as orr
from tests.formats import helpers
from tests.formats.helpers import sse_events

FIXTURES = helpers.FIXTURES / "openai-responses"
EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)

load = partial(helpers.load, "openai-responses")
decode_stream = partial(helpers.decode_stream, orr)
encode = partial(helpers.encode, orr, model="gpt-x")


def sdk_events(raw: bytes) -> list[Any]:
    """Every event validated by the SDK, checked for the SSE event name and
    sequence numbers, then run through the SDK's own stream accumulator."""
    events = []
    for name, data in sse_events(raw):
        payload = json.loads(data)
        assert name == payload["type"]
        events.append(EVENTS.validate_python(payload))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    state = ResponseStreamState(input_tools=[], text_format=omit)
    for event in events:
        if event.type != "response.failed":
            state.handle_event(event)
    return events


def blocks(events: list[ir.Event]) -> list[tuple[str, str, str | None, str | None]]:
    """(kind, text or arguments, id, signature) per IR block, in order."""
    out: dict[int, list[Any]] = {}
    for ev in events:
        if isinstance(ev, ir.BlockStart):
            out[ev.index] = [ev.kind, "", ev.id, None]
        elif isinstance(ev, ir.TextDelta | ir.ThinkingDelta):
            out[ev.index][1] += ev.text
        elif isinstance(ev, ir.ToolArgsDelta):
            out[ev.index][1] += ev.partial_json
        elif isinstance(ev, ir.SignatureDelta):
            out[ev.index][3] = (out[ev.index][3] or "") + ev.signature
    return [tuple(v) for _, v in sorted(out.items())]  # type: ignore[misc]


def stop_of(events: list[ir.Event]) -> str | None:
    stops = [e.stop_reason for e in events if isinstance(e, ir.MessageDelta) and e.stop_reason]
    return stops[-1] if stops else None


# ------------------------------------------------------------------ requests


def test_parse_request_fixture() -> None:
    req = orr.parse_request(load("request.json"))
    assert req.model == "gpt-5-codex" and req.stream and req.include_usage
    assert [p.text for p in req.system] == [
        "You are Codex, a coding agent. Be concise.",
        "<permissions>workspace-write</permissions>",
    ]
    assert [m.role for m in req.messages] == ["user", "assistant", "user"]
    text, image = req.messages[0].parts
    assert isinstance(text, ir.TextPart) and text.text.startswith("List the files")
    assert isinstance(image, ir.ImagePart) and image.media_type == "image/png"
    assert image.data and image.data.startswith("iVBOR") and image.detail == "auto"
    thinking, call = req.messages[1].parts
    assert isinstance(thinking, ir.ThinkingPart)
    assert thinking.id == "rs_68af2ebc5a3c81909b1f54f2b4e0c6c70b2d1e3c7a9f0e11"
    assert thinking.signature and thinking.signature.startswith("gAAAAAB")
    assert thinking.text.startswith("**Listing files**")
    assert call == ir.ToolCallPart(
        "call_Xy7Q2mN9pLr4TzKb8VwE1sAd", "shell", '{"command":["ls","-la"],"workdir":"/repo"}'
    )
    result, follow = req.messages[2].parts
    assert isinstance(result, ir.ToolResultPart) and result.call_id == call.id
    assert result.name == "shell" and result.content[0].text.startswith("total 16")  # type: ignore[union-attr]
    assert follow == ir.TextPart("Thanks. Now summarise README.md.")
    (tool,) = req.tools
    assert (tool.name, tool.strict) == ("shell", False)
    assert tool.parameters["required"] == ["command"]
    assert req.tool_choice == ir.ToolChoice("auto") and req.parallel_tool_calls is False
    assert req.reasoning == ir.Reasoning(effort="medium", include_thoughts=True)
    vendor = req.vendor["openai-responses"]
    assert vendor["tools"] == [{"type": "web_search"}]
    assert vendor["store"] is False and vendor["include"] == ["reasoning.encrypted_content"]
    assert vendor["extra"] == {"prompt_cache_key": "8c1d6b0e-3f5a-4e2b-9d7c-0a1b2c3d4e5f"}
    assert orr.previous_response_id(req) is None


def test_render_request_round_trips_fixture() -> None:
    body = load("request.json")
    out = orr.render_request(orr.parse_request(body))
    assert out["instructions"] == (
        "You are Codex, a coding agent. Be concise.\n\n<permissions>workspace-write</permissions>"
    )
    items = out["input"]
    assert [i["type"] for i in items] == [
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert items[0]["content"] == body["input"][1]["content"]
    assert items[1] == {k: v for k, v in body["input"][2].items()}
    assert items[2] == {k: v for k, v in body["input"][3].items() if k != "id"}
    assert items[3] == body["input"][4]
    assert items[4]["content"] == [
        {"type": "input_text", "text": "Thanks. Now summarise README.md."}
    ]
    assert out["tools"] == body["tools"]
    for key in ("tool_choice", "parallel_tool_calls", "reasoning", "store", "stream", "include"):
        assert out[key] == body[key], key
    assert out["prompt_cache_key"] == body["prompt_cache_key"]


def test_render_request_from_foreign_ir() -> None:
    req = ir.Request(
        model="gpt-5",
        system=[ir.TextPart("sys")],
        messages=[
            ir.Message(
                "user",
                [
                    ir.TextPart("hi"),
                    ir.ImagePart(data="AAAA", media_type="image/jpeg"),
                    ir.ImagePart(url="file-abc123"),
                ],
            ),
            ir.Message(
                "assistant",
                [
                    ir.ThinkingPart("claude thought", signature="EqQBCkYIBxgCKkA"),  # no id
                    ir.ThinkingPart("unsigned chat reasoning"),
                    ir.ThinkingPart("", signature="opaque", redacted=True),
                    ir.TextPart("Looking."),
                    ir.ToolCallPart("toolu_01", "read", '{"p":1}'),
                ],
            ),
            ir.Message(
                "user",
                [
                    ir.ToolResultPart(
                        "toolu_01", [ir.TextPart("data"), ir.ImagePart(url="https://x/y.png")]
                    )
                ],
            ),
        ],
        tools=[
            ir.ToolDef("read", "Read", {"type": "object", "properties": {"p": {"type": "integer"}}})
        ],
        tool_choice=ir.ToolChoice("tool", "read"),
        reasoning=ir.Reasoning(budget_tokens=20000, include_thoughts=True),
        response_format=ir.ResponseFormat("json_schema", schema={"type": "object"}),
        max_tokens=500,
        top_k=5,
        stop=["x"],
        seed=3,
    )
    out = orr.render_request(req)
    assert out["instructions"] == "sys"
    user = out["input"][0]["content"]
    assert user[1] == {
        "type": "input_image",
        "detail": "auto",
        "image_url": "data:image/jpeg;base64,AAAA",
    }
    assert user[2] == {"type": "input_image", "detail": "auto", "file_id": "file-abc123"}
    reasoning = out["input"][1]
    assert reasoning["type"] == "reasoning" and reasoning["id"].startswith("rs_")
    assert reasoning["encrypted_content"] == "EqQBCkYIBxgCKkA"
    assert reasoning["summary"] == [{"type": "summary_text", "text": "claude thought"}]
    # Unsigned and redacted thinking cannot be checked by OpenAI: left out.
    assert [i["type"] for i in out["input"][2:]] == [
        "message",
        "function_call",
        "function_call_output",
    ]
    result = out["input"][-1]["output"]
    assert result == [
        {"type": "input_text", "text": "data"},
        {"type": "input_image", "detail": "auto", "image_url": "https://x/y.png"},
    ]
    assert out["tools"][0]["strict"] is False
    assert out["tool_choice"] == {"type": "function", "name": "read"}
    assert out["reasoning"] == {"effort": "high", "summary": "auto"}
    assert out["include"] == ["reasoning.encrypted_content"]
    assert out["store"] is False and out["stream"] is False
    assert out["text"] == {
        "format": {"type": "json_schema", "name": "response", "schema": {"type": "object"}}
    }
    assert out["max_output_tokens"] == 500
    assert not {"top_k", "stop", "seed"} & set(out)


def test_string_input_and_previous_response_id() -> None:
    req = orr.parse_request({"model": "m", "input": "hello"})
    assert req.messages == [ir.Message("user", [ir.TextPart("hello")])]
    cont = orr.parse_request({"model": "m", "previous_response_id": "resp_1"})
    assert cont.messages == [] and orr.previous_response_id(cont) == "resp_1"
    assert orr.render_request(cont)["previous_response_id"] == "resp_1"


def test_items_without_ir_form_keep_their_place() -> None:
    body = {
        "model": "m",
        "input": [
            {"role": "user", "content": "run it"},
            {
                "type": "local_shell_call",
                "id": "ls_1",
                "call_id": "c9",
                "status": "completed",
                "action": {"type": "exec", "command": ["ls"]},
            },
            {"type": "local_shell_call_output", "id": "ls_1", "output": "a\nb"},
            {"role": "user", "content": "and?"},
        ],
        "tools": [{"type": "local_shell"}, {"type": "custom", "name": "apply_patch"}],
        "tool_choice": {
            "type": "allowed_tools",
            "mode": "auto",
            "tools": [{"type": "local_shell"}],
        },
    }
    req = orr.parse_request(body)
    assert [m.parts for m in req.messages] == [[ir.TextPart("run it")], [ir.TextPart("and?")]]
    out = orr.render_request(req)
    assert out["input"][1:3] == body["input"][1:3]
    assert out["input"][3]["content"] == [{"type": "input_text", "text": "and?"}]
    assert out["tools"] == body["tools"] and out["tool_choice"] == body["tool_choice"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"input": "x"}, "model"),
        ({"model": 3, "input": "x"}, "model"),
        ({"model": "m"}, "input"),
        ({"model": "m", "input": {"role": "user"}}, "input"),
        ({"model": "m", "input": ["x"]}, "input[0]"),
        ({"model": "m", "input": [{"role": "tool", "content": "x"}]}, "role"),
        ({"model": "m", "input": [{"role": "user", "content": 5}]}, "content"),
        ({"model": "m", "input": [{"type": "function_call", "name": "f"}]}, "call_id"),
        ({"model": "m", "input": [{"type": "function_call_output", "output": "x"}]}, "call_id"),
        (
            {"model": "m", "input": [{"role": "user", "content": [{"type": "input_image"}]}]},
            "image_url",
        ),
        ({"model": "m", "input": "x", "temperature": "hot"}, "temperature"),
        ({"model": "m", "input": "x", "max_output_tokens": True}, "max_output_tokens"),
        ({"model": "m", "input": "x", "tools": [{"type": "function"}]}, "name"),
        ({"model": "m", "input": "x", "tools": {}}, "tools"),
        ({"model": "m", "input": "x", "stream": "yes"}, "stream"),
    ],
)
def test_parse_request_rejects_invalid_input(body: dict[str, Any], needle: str) -> None:
    with pytest.raises(errors.BadRequest) as info:
        orr.parse_request(body)
    assert needle in info.value.message


# ----------------------------------------------------------------- responses


def test_parse_response_text() -> None:
    resp = orr.parse_response(load("response_text.json"))
    assert resp.id == "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b"
    assert resp.created == 1741476542 and resp.model == "gpt-4.1-2025-04-14"
    assert len(resp.parts) == 1 and resp.parts[0].text.startswith("In a peaceful grove")  # type: ignore[union-attr]
    assert resp.stop_reason == "end_turn"
    assert resp.usage == ir.Usage(input_tokens=36, output_tokens=87)


def test_parse_response_tool_calls() -> None:
    resp = orr.parse_response(load("response_tool_call.json"))
    assert [(p.id, json.loads(p.arguments)["location"]) for p in resp.parts] == [  # type: ignore[union-attr]
        ("call_unLAR8MvFNptuiZK6K6HCy5k", "Boston, MA"),
        ("call_9pQz2LmWcX0aVbN1rT8yKd3F", "Paris, France"),
    ]
    assert resp.stop_reason == "tool_use"
    assert resp.usage == ir.Usage(input_tokens=291, output_tokens=46, cached_input_tokens=128)


def test_parse_response_reasoning() -> None:
    resp = orr.parse_response(load("response_reasoning.json"))
    thinking, call = resp.parts
    assert isinstance(thinking, ir.ThinkingPart)
    assert thinking.id == "rs_6820f383d7c08191846711c5df8233bc0ac5ba57aafcbac7"
    assert thinking.text == (
        "**Checking the weather tool**\n\nThe user wants Paris weather, so I should call"
        " get_weather.\n\n**Choosing units**\n\nCelsius suits a location in France."
    )
    assert thinking.signature and thinking.signature.startswith("gAAAAABoIPOF")
    assert isinstance(call, ir.ToolCallPart) and call.name == "get_weather"
    assert resp.usage == ir.Usage(81, 1035, reasoning_tokens=832)


def test_parse_response_incomplete_and_refusal() -> None:
    body = load("response_text.json") | {
        "status": "incomplete",
        "incomplete_details": {"reason": "content_filter"},
    }
    assert orr.parse_response(body).stop_reason == "content_filter"
    body["incomplete_details"] = {"reason": "max_output_tokens"}
    assert orr.parse_response(body).stop_reason == "max_tokens"
    refusal = load("response_text.json")
    refusal["output"][0]["content"] = [{"type": "refusal", "refusal": "I can't help with that."}]
    resp = orr.parse_response(refusal)
    assert resp.parts == [ir.TextPart("I can't help with that.")]
    assert resp.stop_reason == "content_filter"


@pytest.mark.parametrize(
    "name", ["response_text.json", "response_tool_call.json", "response_reasoning.json"]
)
def test_render_response_is_sdk_valid_and_faithful(name: str) -> None:
    body = load(name)
    out = orr.render_response(orr.parse_response(body))
    sdk = Response.model_validate(out)
    assert sdk.id == body["id"] and sdk.status == "completed"
    assert (
        out["usage"]["input_tokens_details"]["cached_tokens"]
        == body["usage"]["input_tokens_details"]["cached_tokens"]
    )
    assert out["usage"]["output_tokens_details"] == body["usage"]["output_tokens_details"]
    original = body["output"]
    rendered = out["output"]
    assert [i["type"] for i in rendered] == [i["type"] for i in original]
    for mine, theirs in zip(rendered, original, strict=True):
        if mine["type"] == "reasoning":
            # several summary parts come back as one (joined by a blank line)
            joined = "\n\n".join(p["text"] for p in theirs["summary"])
            assert mine["summary"] == [{"type": "summary_text", "text": joined}]
            assert mine["id"] == theirs["id"]
            assert mine["encrypted_content"] == theirs["encrypted_content"]
        elif mine["type"] == "function_call":
            assert {k: mine[k] for k in ("call_id", "name", "arguments")} == {
                k: theirs[k] for k in ("call_id", "name", "arguments")
            }
        else:
            assert [c["text"] for c in mine["content"]] == [c["text"] for c in theirs["content"]]
    assert sdk.output_text == "".join(
        c["text"] for i in original if i["type"] == "message" for c in i["content"]
    )


def test_render_response_from_foreign_ir() -> None:
    resp = ir.Response(
        id="msg_01XFDUDYJgAACzvnptvVoYEL",
        model="claude-sonnet-4-5",
        created=1_700_000_000,
        parts=[
            ir.ThinkingPart("Let me check.", signature="ErUBCkYIBxgC"),
            ir.ThinkingPart("", signature="EmwKAhgBEgy3va3pzix", redacted=True),
            ir.TextPart("Part one. "),
            ir.TextPart("Part two."),
            ir.ToolCallPart("toolu_01A", "get_weather", '{"city":"Paris"}'),
        ],
        stop_reason="max_tokens",
        usage=ir.Usage(10, 30, cached_input_tokens=4, cache_creation_tokens=6, reasoning_tokens=12),
    )
    out = orr.render_response(resp)
    sdk = Response.model_validate(out)
    assert out["id"].startswith("resp_") and out["id"] == orr.render_response(resp)["id"]
    assert sdk.status == "incomplete" and out["incomplete_details"] == {
        "reason": "max_output_tokens"
    }
    kinds = [i["type"] for i in out["output"]]
    assert kinds == ["reasoning", "reasoning", "message", "function_call"]
    assert out["output"][0]["encrypted_content"] == "ErUBCkYIBxgC"
    assert out["output"][1]["id"].startswith("rs_redacted_")
    assert [c["text"] for c in out["output"][2]["content"]] == ["Part one. ", "Part two."]
    assert out["output"][3]["call_id"] == "toolu_01A" and out["output"][3]["id"].startswith("fc_")
    assert out["usage"] == {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 6},
        "output_tokens": 30,
        "output_tokens_details": {"reasoning_tokens": 12},
        "total_tokens": 40,
    }
    # The client echoes the output back: signatures, redaction and call ids survive.
    again = orr.parse_request({"model": "m", "input": out["output"]})
    parts = again.messages[0].parts
    assert isinstance(parts[0], ir.ThinkingPart) and parts[0].signature == "ErUBCkYIBxgC"
    assert (
        isinstance(parts[1], ir.ThinkingPart)
        and parts[1].redacted
        and parts[1].signature == "EmwKAhgBEgy3va3pzix"
    )
    assert isinstance(parts[4], ir.ToolCallPart) and parts[4].id == "toolu_01A"


# -------------------------------------------------------------------- streams


def test_decode_text_stream() -> None:
    events = decode_stream((FIXTURES / "stream_text.sse").read_bytes())
    assert isinstance(events[0], ir.MessageStart)
    assert events[0].id == "resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654"
    assert blocks(events) == [("text", "Hi there! How can I help?", None, None)]
    assert stop_of(events) == "end_turn" and isinstance(events[-1], ir.MessageStop)
    usage = [e.usage for e in events if isinstance(e, ir.MessageDelta)][-1]
    assert usage == ir.Usage(input_tokens=37, output_tokens=11)


def test_decode_tool_call_stream() -> None:
    events = decode_stream((FIXTURES / "stream_tool_call.sse").read_bytes())
    assert blocks(events) == [
        ("tool_call", '{"location":"Paris, France"}', "call_ki2Hw8OTsZ5vCRrDqQA7Nvbg", None)
    ]
    assert stop_of(events) == "tool_use"


def test_decode_reasoning_stream() -> None:
    events = decode_stream((FIXTURES / "stream_reasoning.sse").read_bytes())
    (thinking, text) = blocks(events)
    assert thinking[0] == "thinking" and thinking[1].startswith("**Considering the question**")
    assert thinking[2] == "rs_68a3c2f1a0c88197a1b2c3d4e5f6a7b80a1b2c3d4e5f6a7b"
    assert thinking[3] and thinking[3].startswith("gAAAAABoo8L1")
    assert text == ("text", "2 + 2 = 4.", None, None)
    usage = [e.usage for e in events if isinstance(e, ir.MessageDelta)][-1]
    assert usage is not None and usage.reasoning_tokens == 192


def test_decode_failed_stream() -> None:
    events = decode_stream((FIXTURES / "stream_error.sse").read_bytes())
    assert isinstance(events[-1], ir.StreamError)
    assert (events[-1].error.status, events[-1].error.kind) == (429, "rate_limit")
    assert "try again" in events[-1].error.message


def test_decoder_edge_cases() -> None:
    dec = orr.StreamDecoder()
    with pytest.raises(errors.UpstreamProtocolError):
        dec.feed("response.created", "{oops")
    assert dec.feed(None, "[DONE]") == []
    unknown = dec.feed(None, json.dumps({"type": "response.audio.delta", "delta": "x", "new": 1}))
    assert [type(e) for e in unknown] == [ir.MessageStart]
    # A stream cut before response.completed still ends well-formed.
    dec = orr.StreamDecoder()
    events = dec.feed(
        None,
        json.dumps(
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {"type": "function_call", "call_id": "c1", "name": "f", "arguments": ""},
            }
        ),
    )
    events += dec.feed(
        None,
        json.dumps(
            {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "{}"}
        ),
    )
    events += dec.close()
    assert blocks(events) == [("tool_call", "{}", "c1", None)]
    assert stop_of(events) == "tool_use" and isinstance(events[-1], ir.MessageStop)
    err = orr.StreamDecoder().feed(
        "error",
        json.dumps({"type": "error", "code": "server_error", "message": "boom", "param": None}),
    )
    assert (
        isinstance(err[-1], ir.StreamError)
        and err[-1].error.kind == "api_error"
        and err[-1].error.status == 502
    )


@pytest.mark.parametrize(
    "name", ["stream_text.sse", "stream_tool_call.sse", "stream_reasoning.sse"]
)
def test_reencode_fixture_stream_is_sdk_valid(name: str) -> None:
    events = decode_stream((FIXTURES / name).read_bytes())
    raw = encode(events)
    sdk = sdk_events(raw)
    assert sdk[0].type == "response.created" and sdk[1].type == "response.in_progress"
    assert sdk[-1].type == "response.completed" and sdk[-1].response.usage is not None
    again = decode_stream(raw)
    assert blocks(again) == blocks(events)
    assert stop_of(again) == stop_of(events)


def test_encoder_event_order_and_indexes() -> None:
    events: list[ir.Event] = [
        ir.MessageStart("msg_1", "claude"),
        ir.BlockStart(0, "thinking"),
        ir.ThinkingDelta(0, "think"),
        ir.SignatureDelta(0, "c2ln"),
        ir.BlockStop(0),
        ir.BlockStart(1, "text"),
        ir.TextDelta(1, "hello"),
        ir.BlockStop(1),
        # two calls open at once, as the chat decoder produces them
        ir.BlockStart(2, "tool_call", id="call_a", name="f"),
        ir.BlockStart(3, "tool_call", id="call_b", name="g"),
        ir.ToolArgsDelta(2, '{"x":'),
        ir.ToolArgsDelta(3, "{}"),
        ir.ToolArgsDelta(2, "1}"),
        ir.MessageDelta("tool_use", usage=ir.Usage(5, 9)),
        ir.MessageStop(),
    ]
    sdk = sdk_events(encode(events))
    kinds = [e.type for e in sdk]
    assert kinds[:8] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
    ]
    assert kinds[-1] == "response.completed"
    final = sdk[-1].response
    assert [o.type for o in final.output] == [
        "reasoning",
        "message",
        "function_call",
        "function_call",
    ]
    assert final.output[0].encrypted_content == "c2ln"
    assert [(o.call_id, o.arguments) for o in final.output[2:]] == [
        ("call_a", '{"x":1}'),
        ("call_b", "{}"),
    ]
    assert final.usage.output_tokens == 9
    added = [e for e in sdk if e.type == "response.output_item.added"]
    assert [e.output_index for e in added] == [0, 1, 2, 3]


def test_encoder_sparse_stream_and_incomplete() -> None:
    events: list[ir.Event] = [
        ir.BlockStart(0, "text"),
        ir.TextDelta(0, "cut off here"),
        ir.MessageDelta("max_tokens"),
        ir.MessageStop(),
    ]
    sdk = sdk_events(encode(events))
    assert sdk[-1].type == "response.incomplete"
    assert sdk[-1].response.incomplete_details.reason == "max_output_tokens"
    assert sdk[-1].response.usage.output_tokens == 3  # estimated from 12 characters
    assert sdk[-1].response.output[0].content[0].text == "cut off here"


def test_encoder_error_ends_the_stream() -> None:
    enc = orr.StreamEncoder("gpt-x")
    out = enc.encode(ir.MessageStart("r", "gpt-x"))
    out += enc.encode(ir.BlockStart(0, "text"))
    out += enc.encode(ir.TextDelta(0, "partial"))
    out += enc.encode(ir.StreamError(ir.ErrorInfo(503, "overloaded", "upstream overloaded")))
    assert enc.encode(ir.MessageStop()) == b"" and enc.encode(ir.TextDelta(0, "x")) == b""
    sdk = sdk_events(out)
    assert sdk[-1].type == "response.failed"
    assert sdk[-1].response.status == "failed"
    assert sdk[-1].response.error.code == "server_error"
    assert sdk[-1].response.error.message == "upstream overloaded"
    lone = sdk_events(orr.error_event(ir.ErrorInfo(429, "rate_limit", "slow down")))
    assert (
        lone[-1].type == "response.failed" and lone[-1].response.error.code == "rate_limit_exceeded"
    )


# -------------------------------------------------------------------- history


def test_previous_response_id_history() -> None:
    turn1 = orr.parse_request(load("request.json"))
    answer = orr.parse_response(load("response_reasoning.json"))
    rendered = orr.render_response(answer)
    stored = orr.input_items_from_request(turn1) + orr.output_items(answer)
    assert orr.output_items(answer) == rendered["output"]
    stored = json.loads(json.dumps(stored))  # what a store would give back
    turn2 = orr.parse_request(
        {
            "model": "gpt-5-codex",
            "previous_response_id": rendered["id"],
            "input": [
                {
                    "type": "function_call_output",
                    "call_id": "call_Hb3qJ7cT9kLmN2pR5sV8xZ1a",
                    "output": "18C",
                }
            ],
        }
    )
    assert orr.previous_response_id(turn2) == rendered["id"]
    orr.apply_history(turn2, stored)
    assert orr.previous_response_id(turn2) is None
    roles = [m.role for m in turn2.messages]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    thinking = turn2.messages[3].parts[0]
    assert isinstance(thinking, ir.ThinkingPart) and thinking.id == answer.parts[0].id  # type: ignore[union-attr]
    result = turn2.messages[4].parts[0]
    assert isinstance(result, ir.ToolResultPart) and result.name == "get_weather"
    assert "previous_response_id" not in orr.render_request(turn2)


# --------------------------------------------------------------------- errors


def test_errors_use_the_openai_shape() -> None:
    body = orr.render_error(ir.ErrorInfo(404, "not_found", "no such model"))
    assert body["error"]["message"] == "no such model" and set(body["error"]) == {
        "message",
        "type",
        "param",
        "code",
    }
    info = orr.parse_error(404, (FIXTURES / "error.json").read_bytes())
    assert (info.status, info.kind) == (404, "not_found")
    assert "gpt-9-turbo" in info.message


def test_history_keeps_items_without_ir_form_in_place() -> None:
    shell = {"type": "local_shell_call", "call_id": "c1", "status": "completed", "action": {}}
    stored = [{"role": "user", "content": "run"}, shell]
    req = orr.parse_request(
        {
            "model": "m",
            "previous_response_id": "resp_x",
            "input": [{"type": "item_reference", "id": "x"}, {"role": "user", "content": "next"}],
        }
    )
    orr.apply_history(req, stored)
    items = orr.render_request(req)["input"]
    assert [i.get("type") for i in items] == [
        "message",
        "local_shell_call",
        "item_reference",
        "message",
    ]
    assert items[3]["content"] == [{"type": "input_text", "text": "next"}]

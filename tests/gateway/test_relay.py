"""StreamRelay over the recorded upstream streams in tests/fixtures, with the
real wire formats: pass-through, translation, usage estimates, think tags."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from omniroute.formats import ir
from omniroute.formats.sse import encode_sse
from omniroute.formats.wire import StreamEncoder, wire_format
from omniroute.gateway.relay import StreamRelay
from tests.formats.helpers import FIXTURES, sse_events

INPUT_ESTIMATE = 321  # what the relay is told the prompt costs when the upstream says nothing

# (format, file name) of every recorded stream
STREAMS = sorted((p.parent.name, p.name) for p in FIXTURES.glob("*/*.sse"))


def fixture(fmt: str, name: str) -> bytes:
    return (FIXTURES / fmt / name).read_bytes()


def blocks(raw: bytes) -> list[bytes]:
    """A stream cut into its events, each with its blank line."""
    return [b + b"\n\n" for b in raw.split(b"\n\n") if b.strip()]


def rewrite(raw: bytes, change: Callable[[str | None, Any], Any]) -> bytes:
    """The stream with each event's JSON data replaced by ``change(name, obj)``
    (an event for which it returns None is left out)."""
    out = b""
    for name, data in sse_events(raw):
        if data.strip() != "[DONE]":
            changed = change(name, json.loads(data))
            if changed is None:
                continue
            data = json.dumps(changed, separators=(",", ":"))
        out += encode_sse(data, name)
    return out


def relay(fmt: str, encoder: StreamEncoder | None = None, **kw: Any) -> StreamRelay:
    return StreamRelay(wire_format(fmt), encoder, lambda: INPUT_ESTIMATE, **kw)


def run(r: StreamRelay, pieces: Iterable[bytes]) -> list[bytes]:
    """What the relay returns for each piece fed, then for close()."""
    return [r.feed(piece) for piece in pieces] + [r.close()]


def chunks(raw: bytes, size: int) -> list[bytes]:
    return [raw[i : i + size] for i in range(0, len(raw), size)]


def encoder(fmt: str, model: str = "client-model") -> StreamEncoder:
    return wire_format(fmt).stream_encoder(model, False, None)


# -- pass-through ------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "name"), STREAMS)
@pytest.mark.parametrize("size", [1, 5, 64, 1 << 20])
def test_passthrough_returns_the_upstream_bytes(fmt: str, name: str, size: int) -> None:
    raw = fixture(fmt, name)
    out = run(relay(fmt), chunks(raw, size))
    assert b"".join(out) == raw
    assert all(piece.endswith(b"\n\n") for piece in out if piece)


@pytest.mark.parametrize("fmt", ["openai", "anthropic", "gemini", "openai-responses"])
def test_passthrough_with_crlf_lines_cuts_at_crlf_boundaries(fmt: str) -> None:
    raw = fixture(fmt, "stream_text.sse").replace(b"\n", b"\r\n")
    r = relay(fmt)
    out = run(r, chunks(raw, 3))
    assert b"".join(out) == raw
    assert all(piece.endswith(b"\r\n\r\n") for piece in out if piece)
    assert r.started and r.error is None and not r.truncated


def test_passthrough_split_inside_multibyte_characters() -> None:
    text = "Grüße, 日本 🙂"
    raw = fixture("openai", "stream_text.sse").replace(b'"Hello"', json.dumps(text).encode())
    r = relay("openai")
    out = run(r, chunks(raw, 1))
    assert b"".join(out) == raw
    (part,) = r.answer.response().parts
    assert isinstance(part, ir.TextPart)
    assert part.text == text + "! How can I help?"


@pytest.mark.parametrize(
    ("fmt", "name"),
    [
        ("openai", "stream_text.sse"),
        ("openai", "stream_tool_call.sse"),
        ("openai", "stream_reasoning.sse"),
    ],
)
def test_passthrough_keeps_reported_usage_even_when_asked_for_usage(fmt: str, name: str) -> None:
    raw = fixture(fmt, name)
    r = relay(fmt, include_usage=True)
    assert b"".join(run(r, [raw])) == raw
    assert not r.usage.estimated


# -- started and errors ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "name", "first_content"),
    [
        ("openai", "stream_text.sse", 1),  # the role chunk with content "" is not content
        ("openai", "stream_tool_call.sse", 0),
        ("anthropic", "stream_text.sse", 1),  # after message_start
        ("gemini", "stream_text.sse", 0),
        ("openai-responses", "stream_text.sse", 3),  # at content_part.added
        ("openai-responses", "stream_reasoning.sse", 2),  # the reasoning item
    ],
)
def test_started_at_the_first_content_event(fmt: str, name: str, first_content: int) -> None:
    events = blocks(fixture(fmt, name))
    r = relay(fmt)
    for n, event in enumerate(events[:first_content]):
        assert r.feed(event) == b"", f"event {n} released before the answer began"
        assert not r.started
    # Held bytes go out together once the model starts answering.
    assert r.feed(events[first_content]) == b"".join(events[: first_content + 1])
    assert r.started


@pytest.mark.parametrize("fmt", ["anthropic", "openai"])
def test_started_when_translating(fmt: str) -> None:
    events = blocks(fixture(fmt, "stream_text.sse"))
    r = relay(fmt, encoder("openai-responses"))
    r.feed(events[0])
    assert not r.started
    for event in events[1:]:
        r.feed(event)
    assert r.started


@pytest.mark.parametrize(
    ("fmt", "status", "kind"),
    [("anthropic", 503, "overloaded"), ("openai-responses", 429, "rate_limit")],
)
def test_error_before_content_is_seen_and_nothing_is_sent(fmt: str, status: int, kind: str) -> None:
    raw = fixture(fmt, "stream_error.sse")
    r = relay(fmt)
    assert [r.feed(event) for event in blocks(raw)] == [b""] * len(blocks(raw))
    assert not r.started
    assert r.error is not None
    assert (r.error.status, r.error.kind) == (status, kind)


def test_error_before_content_when_translating() -> None:
    r = relay("anthropic", encoder("openai"))
    for event in blocks(fixture("anthropic", "stream_error.sse")):
        r.feed(event)
    assert not r.started
    assert r.error is not None and r.error.kind == "overloaded"


def test_error_after_content_is_seen_too() -> None:
    r = relay("openai")
    out = run(r, blocks(fixture("openai", "stream_error.sse")))
    assert r.started
    assert r.error is not None and r.error.status == 502
    assert out[0] != b""  # the first token went out at once


def test_stream_cut_short_ends_with_an_error_event() -> None:
    events = blocks(fixture("anthropic", "stream_text.sse"))
    r = relay("anthropic")
    out = b"".join(run(r, events[:4]))  # stops after the first text delta
    assert r.truncated
    assert r.error is not None and r.error.status == 502
    assert out.startswith(b"".join(events[:4]))
    (name, data) = sse_events(out)[-1]
    assert name == "error" and json.loads(data)["type"] == "error"


# -- translating -------------------------------------------------------------------


# The delta type each kind of Anthropic content block is given.
BLOCK_DELTAS = {"text": "text_delta", "thinking": "thinking_delta", "tool_use": "input_json_delta"}


def anthropic_stream(raw: bytes) -> dict[str, Any]:
    """Check an Anthropic Messages event stream is well formed; what it says.

    message_start first and message_stop last; each content block started,
    given deltas of its own kind and stopped, one at a time, indices from 0;
    the event name matches the data's type.
    """
    events = [(name, json.loads(data)) for name, data in sse_events(raw)]
    names = [name for name, _ in events if name != "ping"]
    assert names[0] == "message_start" and names[-1] == "message_stop", names
    assert names.count("message_start") == names.count("message_stop") == 1
    assert names[-2] == "message_delta"
    found: dict[str, Any] = {"text": "", "thinking": "", "tools": []}
    open_block: tuple[int, str] | None = None
    next_index = 0
    for name, data in events:
        assert data["type"] == name
        if name == "message_start":
            found["id"] = data["message"]["id"]
            found["model"] = data["message"]["model"]
        elif name == "content_block_start":
            assert open_block is None and data["index"] == next_index
            block = data["content_block"]
            open_block = (data["index"], block["type"])
            next_index += 1
            if block["type"] == "tool_use":
                found["tools"].append([block["id"], block["name"], ""])
        elif name == "content_block_delta":
            assert open_block is not None and data["index"] == open_block[0]
            delta = data["delta"]
            if delta["type"] == "signature_delta":
                assert open_block[1] == "thinking"
                continue
            assert delta["type"] == BLOCK_DELTAS[open_block[1]]
            if delta["type"] == "text_delta":
                found["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                found["thinking"] += delta["thinking"]
            else:
                found["tools"][-1][2] += delta["partial_json"]
        elif name == "content_block_stop":
            assert open_block is not None and data["index"] == open_block[0]
            open_block = None
        elif name == "message_delta":
            assert open_block is None
            found["stop_reason"] = data["delta"]["stop_reason"]
            found["usage"] = data["usage"]
    return found


def test_translating_openai_text_to_anthropic() -> None:
    r = relay("openai", encoder("anthropic", "claude-x"), answer_id="msg_fixed")
    got = anthropic_stream(b"".join(run(r, chunks(fixture("openai", "stream_text.sse"), 50))))
    assert got["id"] == "msg_fixed"
    assert got["model"] == "claude-x"
    assert got["text"] == "Hello! How can I help?"
    assert got["stop_reason"] == "end_turn"
    assert (got["usage"]["input_tokens"], got["usage"]["output_tokens"]) == (9, 6)
    assert not r.usage.estimated


def test_translating_openai_tool_calls_to_anthropic() -> None:
    r = relay("openai", encoder("anthropic"), answer_id="msg_tools")
    got = anthropic_stream(b"".join(run(r, chunks(fixture("openai", "stream_tool_call.sse"), 7))))
    assert got["stop_reason"] == "tool_use"
    assert [(name, json.loads(args)) for _, name, args in got["tools"]] == [
        ("get_current_weather", {"location": "Boston, MA"}),
        ("get_current_time", {"timezone": "America/New_York"}),
    ]


def test_translating_openai_reasoning_to_anthropic() -> None:
    r = relay("openai", encoder("anthropic"), answer_id="msg_think")
    got = anthropic_stream(b"".join(run(r, blocks(fixture("openai", "stream_reasoning.sse")))))
    assert got["thinking"].startswith("Compare the tenths")
    assert got["text"] == "9.11 is smaller."


def test_translating_a_stream_cut_short_ends_with_an_error_event() -> None:
    events = blocks(fixture("openai", "stream_text.sse"))
    r = relay("openai", encoder("anthropic"), answer_id="msg_cut")
    out = b"".join(run(r, events[:3]))
    assert r.truncated and r.error is not None
    names = [name for name, _ in sse_events(out)]
    assert names[0] == "message_start" and names[-1] == "error"
    assert "message_stop" not in names


# -- usage the upstream did not send -----------------------------------------------


def _no_openai_usage(name: str | None, obj: Any) -> Any:
    return None if obj.get("choices") == [] else obj  # the usage chunk goes


def test_openai_passthrough_gets_a_usage_chunk_before_done() -> None:
    raw = rewrite(fixture("openai", "stream_text.sse"), _no_openai_usage)
    r = relay("openai", include_usage=True)
    out = b"".join(run(r, chunks(raw, 9)))
    events = sse_events(out)
    assert events[-1] == (None, "[DONE]")
    usage_chunk = json.loads(events[-2][1])
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["prompt_tokens"] == INPUT_ESTIMATE
    assert usage_chunk["usage"]["completion_tokens"] > 0
    # everything before [DONE] is the upstream's, unchanged
    assert out.startswith(raw.removesuffix(b"data: [DONE]\n\n"))
    assert r.usage.estimated and r.usage.input_tokens == INPUT_ESTIMATE


def test_openai_passthrough_without_include_usage_is_left_alone() -> None:
    raw = rewrite(fixture("openai", "stream_text.sse"), _no_openai_usage)
    r = relay("openai", include_usage=False)
    assert b"".join(run(r, [raw])) == raw
    assert r.usage.estimated  # the log still gets an estimate


def test_gemini_passthrough_gets_a_usage_trailer() -> None:
    def strip(name: str | None, obj: Any) -> Any:
        obj.pop("usageMetadata", None)
        return obj

    raw = rewrite(fixture("gemini", "stream_text.sse"), strip)
    r = relay("gemini")
    out = b"".join(run(r, chunks(raw, 11)))
    assert out.startswith(raw)
    ((_, data),) = sse_events(out[len(raw) :])
    trailer = json.loads(data)
    assert trailer["usageMetadata"]["promptTokenCount"] == INPUT_ESTIMATE
    assert trailer["usageMetadata"]["candidatesTokenCount"] > 0
    assert r.usage.estimated


def test_responses_passthrough_gets_usage_in_response_completed() -> None:
    def strip(name: str | None, obj: Any) -> Any:
        if name == "response.completed":
            obj["response"]["usage"] = None
        return obj

    raw = rewrite(fixture("openai-responses", "stream_text.sse"), strip)
    r = relay("openai-responses")
    out = b"".join(run(r, chunks(raw, 13)))
    events = sse_events(out)
    assert len(events) == len(sse_events(raw))
    name, data = events[-1]
    assert name == "response.completed"
    assert json.loads(data)["response"]["usage"]["input_tokens"] == INPUT_ESTIMATE
    assert events[:-1] == sse_events(raw)[:-1]


# -- <think> tags ------------------------------------------------------------------


def _switch_to_openai_encoder() -> tuple[Callable[[], StreamEncoder], list[int]]:
    made: list[int] = []

    def switch() -> StreamEncoder:
        made.append(1)
        return encoder("openai")

    return switch, made


def _deltas(out: bytes) -> list[dict[str, Any]]:
    return [
        json.loads(data)["choices"][0]["delta"]
        for _, data in sse_events(out)
        if data != "[DONE]" and json.loads(data)["choices"]
    ]


def _whole_think_tags() -> bytes:
    """The recorded think-tag stream with its opening tag in one piece."""
    return (
        fixture("openai", "stream_think_tags.sse")
        .replace(b'"content":"<th"', b'"content":"<think>"')
        .replace(b'"content":"ink>\\nGreeting', b'"content":"\\nGreeting')
    )


def _reasoning_and_content(out: bytes) -> tuple[str, str]:
    deltas = _deltas(out)
    reasoning = "".join(d.get("reasoning_content") or "" for d in deltas)
    return reasoning, "".join(d.get("content") or "" for d in deltas)


def test_think_tags_switch_a_passthrough_stream_to_the_encoder() -> None:
    raw = _whole_think_tags()
    switch, made = _switch_to_openai_encoder()
    r = relay("openai", switch=switch)
    out = b"".join(run(r, blocks(raw)))
    assert made == [1]
    assert _reasoning_and_content(out) == ("\nGreeting; greet back.\n", "Hello there!")
    assert b"<think>" not in out and b"</think>" not in out
    assert sse_events(out)[-1] == (None, "[DONE]")


def test_think_tags_switch_keeps_a_partly_received_event() -> None:
    events = blocks(_whole_think_tags())
    # The answer begins at the second event (the first text after the tag);
    # the same read brings the start of the third.
    cut = 40
    pieces = [events[0], events[1] + events[2][:cut], events[2][cut:], *events[3:]]
    switch, made = _switch_to_openai_encoder()
    out = b"".join(run(relay("openai", switch=switch), pieces))
    assert made == [1]
    assert _reasoning_and_content(out) == ("\nGreeting; greet back.\n", "Hello there!")


def test_no_think_tags_no_switch() -> None:
    raw = fixture("openai", "stream_text.sse")
    switch, made = _switch_to_openai_encoder()
    assert b"".join(run(relay("openai", switch=switch), chunks(raw, 16))) == raw
    assert made == []


def test_think_tags_split_across_chunks_switch_too() -> None:
    raw = fixture("openai", "stream_think_tags.sse")
    switch, made = _switch_to_openai_encoder()
    out = b"".join(run(relay("openai", switch=switch), blocks(raw)))
    reasoning, content = _reasoning_and_content(out)
    assert "<th" not in content
    assert reasoning.strip() == "Greeting; greet back."


def test_think_tags_switch_when_the_whole_answer_arrives_in_one_read() -> None:
    """By the time the first content is seen the tags are long closed: the
    switch must still happen."""
    switch, made = _switch_to_openai_encoder()
    out = b"".join(run(relay("openai", switch=switch), [_whole_think_tags()]))
    assert made == [1]
    assert _reasoning_and_content(out) == ("\nGreeting; greet back.\n", "Hello there!")

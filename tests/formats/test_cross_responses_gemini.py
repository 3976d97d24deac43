"""Cross-format: the Responses and Gemini fixtures translated into every other
format and back through the IR keep their text, tool calls (ids, names,
arguments) and thinking signatures (where the middle format carries them)."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from omniroute.formats import anthropic, gemini, ir, openai_chat, openai_responses
from tests.formats.helpers import (
    FIXTURES,
    as_sent_back,
    decode_stream,
    encode,
    events_sent_back,
    load,
)

FORMATS: dict[str, ModuleType] = {
    "openai": openai_chat,
    "anthropic": anthropic,
    "gemini": gemini,
    "openai-responses": openai_responses,
}
# Formats with a place for thinking signatures (OpenAI Chat has none).
SIGNED = {"anthropic", "gemini", "openai-responses"}
MINE = ["openai-responses", "gemini"]
PAIRS = [(src, mid) for src in MINE for mid in FORMATS if mid != src]


def wire(body: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(body))  # what actually crosses the network


def essentials(parts: list[ir.Part]) -> dict[str, Any]:
    texts, calls, results, sigs = [], [], [], []
    for p in parts:
        if isinstance(p, ir.TextPart):
            texts.append(p.text)
        elif isinstance(p, ir.ToolCallPart):
            calls.append((p.id, p.name, json.loads(p.arguments)))
        elif isinstance(p, ir.ToolResultPart):
            results.append(
                (p.call_id, "".join(c.text for c in p.content if isinstance(c, ir.TextPart)))
            )
        elif isinstance(p, ir.ThinkingPart) and p.signature:
            sigs.append(p.signature)
    return {"text": "".join(texts), "calls": calls, "results": results, "sigs": sigs}


def request_essentials(req: ir.Request) -> dict[str, Any]:
    return essentials([p for m in req.messages for p in m.parts])


def check(before: dict[str, Any], after: dict[str, Any], mid: str) -> None:
    assert after["text"] == before["text"]
    assert after["calls"] == before["calls"]
    assert after["results"] == before["results"]
    if mid in SIGNED:
        assert after["sigs"] == before["sigs"]


REQUESTS = {"openai-responses": "request.json", "gemini": "request.json"}


@pytest.mark.parametrize(("src", "mid"), PAIRS)
def test_request_through_another_format(src: str, mid: str) -> None:
    s, m = FORMATS[src], FORMATS[mid]
    original = s.parse_request(load(src, REQUESTS[src]))
    original.model = original.model or "some-model"
    assert request_essentials(original)["calls"]  # the fixture exercises tool calls
    there = m.parse_request(wire(m.render_request(original)))
    there.model = there.model or "some-model"
    back = s.parse_request(wire(s.render_request(there)))
    check(request_essentials(original), request_essentials(back), mid)


RESPONSES = {
    "openai-responses": [
        "response_text.json",
        "response_tool_call.json",
        "response_reasoning.json",
    ],
    "gemini": ["response_text.json", "response_tool_call.json", "response_thinking.json"],
}


@pytest.mark.parametrize(
    ("src", "mid", "name"), [(s, m, n) for s, m in PAIRS for n in RESPONSES[s]]
)
def test_response_through_another_format(src: str, mid: str, name: str) -> None:
    s, m = FORMATS[src], FORMATS[mid]
    original = s.parse_response(load(src, name))
    there = m.parse_response(wire(m.render_response(original)))
    if mid == "gemini":
        there.parts = as_sent_back(list(there.parts))
    back = s.parse_response(wire(s.render_response(there)))
    if src == "gemini":
        back.parts = as_sent_back(list(back.parts))
    check(essentials(list(original.parts)), essentials(list(back.parts)), mid)
    assert back.stop_reason == original.stop_reason
    assert back.usage.input_tokens == original.usage.input_tokens
    assert back.usage.output_tokens == original.usage.output_tokens


def stream_essentials(events: list[ir.Event]) -> dict[str, Any]:
    text = ""
    calls: dict[int, list[Any]] = {}
    sigs: list[str] = []
    for ev in events:
        if isinstance(ev, ir.TextDelta):
            text += ev.text
        elif isinstance(ev, ir.BlockStart) and ev.kind == "tool_call":
            calls[ev.index] = [ev.id, ev.name, ""]
        elif isinstance(ev, ir.ToolArgsDelta):
            calls[ev.index][2] += ev.partial_json
        elif isinstance(ev, ir.SignatureDelta):
            sigs.append(ev.signature)
    parsed = [(i, n, json.loads(a or "{}")) for i, n, a in calls.values()]
    return {"text": text, "calls": parsed, "results": [], "sigs": sigs}


STREAMS = {
    "openai-responses": ["stream_text.sse", "stream_tool_call.sse", "stream_reasoning.sse"],
    "gemini": ["stream_text.sse", "stream_tool_call.sse", "stream_thinking.sse"],
}


@pytest.mark.parametrize(("src", "mid", "name"), [(s, m, n) for s, m in PAIRS for n in STREAMS[s]])
def test_stream_through_another_format(src: str, mid: str, name: str) -> None:
    s, m = FORMATS[src], FORMATS[mid]
    original = decode_stream(s, (FIXTURES / src / name).read_bytes())
    there = decode_stream(m, encode(m, original, "some-model", include_usage=True))
    if mid == "gemini":
        there = events_sent_back(there)
    back = decode_stream(s, encode(s, there, "some-model", include_usage=True))
    if src == "gemini":
        back = events_sent_back(back)
    check(stream_essentials(original), stream_essentials(back), mid)
    assert isinstance(back[-1], ir.MessageStop)

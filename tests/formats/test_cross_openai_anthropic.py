"""OpenAI Chat and Anthropic fixtures translated through every format and back.

Checks that text, tool calls (ids, names, arguments), tool results and
thinking signatures survive wherever the target format can carry them:
Anthropic, Gemini (thoughtSignature; no redacted thinking) and OpenAI
Responses (encrypted_content) carry signatures; OpenAI Chat carries thinking
text only.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from omniroute.formats import anthropic as an
from omniroute.formats import gemini as gm
from omniroute.formats import ir
from omniroute.formats import openai_chat as oc
from omniroute.formats import openai_responses as orr
from tests.formats import helpers
from tests.formats.helpers import FIXTURES, load

FORMATS: list[ModuleType] = [oc, an, gm, orr]
SOURCES = {"openai": oc, "anthropic": an}


def jsonish(text: str) -> Any:
    """Compare JSON texts by value (Gemini re-serialises objects)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def calls(parts: list[Any]) -> list[tuple[str, str, Any]]:
    return [
        (p.id, p.name, json.loads(p.arguments)) for p in parts if isinstance(p, ir.ToolCallPart)
    ]


def all_parts(req: ir.Request) -> list[Any]:
    return [p for m in req.messages for p in m.parts]


def results(parts: list[Any]) -> list[tuple[str, list[Any]]]:
    return [
        (p.call_id, [jsonish(c.text) for c in p.content if isinstance(c, ir.TextPart)])
        for p in parts
        if isinstance(p, ir.ToolResultPart)
    ]


def user_texts(req: ir.Request) -> list[str]:
    return [
        p.text
        for m in req.messages
        if m.role == "user"
        for p in m.parts
        if isinstance(p, ir.TextPart)
    ]


def signatures(parts: list[Any], *, redacted: bool = True) -> list[tuple[str, str | None, bool]]:
    return [
        (p.text, p.signature, p.redacted)
        for p in parts
        if isinstance(p, ir.ThinkingPart) and p.signature and (redacted or not p.redacted)
    ]


def fid(fmt: ModuleType) -> str:
    return str(fmt.NAME)


# ------------------------------------------------------------------ requests


@pytest.mark.parametrize("target", FORMATS, ids=fid)
@pytest.mark.parametrize("source", ["openai", "anthropic"])
def test_request_fixture_through_format(source: str, target: ModuleType) -> None:
    req = SOURCES[source].parse_request(load(f"{source}/request.json"))
    wire = json.loads(json.dumps(target.render_request(req)))
    back = target.parse_request(wire)
    assert calls(all_parts(back)) == calls(all_parts(req))
    assert results(all_parts(back)) == results(all_parts(req))
    assert user_texts(back) == user_texts(req)
    assert [t.name for t in back.tools] == [t.name for t in req.tools]
    # Responses has one instructions string: compare the system text joined
    assert "\n\n".join(p.text for p in back.system) == "\n\n".join(p.text for p in req.system)


# ---------------------------------------------------------------- responses


RESPONSE_FIXTURES = [
    "openai/response_text.json",
    "openai/response_tool_call.json",
    "openai/response_reasoning.json",
    "anthropic/response_text.json",
    "anthropic/response_tool_use.json",
    "anthropic/response_thinking.json",
]


@pytest.mark.parametrize("target", FORMATS, ids=fid)
@pytest.mark.parametrize("path", RESPONSE_FIXTURES)
def test_response_fixture_through_format(path: str, target: ModuleType) -> None:
    source = SOURCES[path.split("/")[0]]
    resp = source.parse_response(load(path))
    back = target.parse_response(json.loads(json.dumps(target.render_response(resp))))
    if target is gm:
        back.parts = helpers.as_sent_back(list(back.parts))
    text = "".join(p.text for p in resp.parts if isinstance(p, ir.TextPart))
    assert "".join(p.text for p in back.parts if isinstance(p, ir.TextPart)) == text
    assert calls(back.parts) == calls(resp.parts)
    thinking = [p.text for p in resp.parts if isinstance(p, ir.ThinkingPart) and p.text]
    assert [p.text for p in back.parts if isinstance(p, ir.ThinkingPart) and p.text] == thinking
    assert back.stop_reason == resp.stop_reason
    assert (back.usage.input_tokens, back.usage.output_tokens) == (
        resp.usage.input_tokens,
        resp.usage.output_tokens,
    )
    if target is not oc:  # Chat has no place for a signature
        keep_redacted = target is not gm  # Gemini has no redacted thinking
        assert signatures(back.parts, redacted=keep_redacted) == signatures(
            resp.parts, redacted=keep_redacted
        )


def next_turn(target: ModuleType, answer: dict[str, Any]) -> dict[str, Any]:
    """The client's next request in ``target``'s dialect, with the answer in
    its history (what a client sends back in a tool loop)."""
    if target is an:
        return {"model": "m", "max_tokens": 100, "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": answer["content"]},
            {"role": "user", "content": "go on"}]}  # fmt: skip
    if target is gm:
        return {"contents": [
            {"role": "user", "parts": [{"text": "q"}]},
            answer["candidates"][0]["content"],
            {"role": "user", "parts": [{"text": "go on"}]}]}  # fmt: skip
    if target is orr:
        return {"model": "m", "input": [
            {"role": "user", "content": "q"}, *answer["output"],
            {"role": "user", "content": "go on"}]}  # fmt: skip
    return {"model": "m", "messages": [
        {"role": "user", "content": "q"}, answer["choices"][0]["message"],
        {"role": "user", "content": "go on"}]}  # fmt: skip


@pytest.mark.parametrize("target", FORMATS, ids=fid)
def test_anthropic_signatures_survive_a_client_tool_loop(target: ModuleType) -> None:
    """Anthropic upstream -> client in ``target`` -> back to Anthropic."""
    resp = an.parse_response(load("anthropic/response_thinking.json"))
    answer = json.loads(json.dumps(target.render_response(resp)))
    req = target.parse_request(next_turn(target, answer))
    upstream = an.render_request(req)
    assistant = upstream["messages"][1]["content"]
    sent = [b for b in assistant if b["type"] in ("thinking", "redacted_thinking")]
    original = [
        b for b in load("anthropic/response_thinking.json")["content"] if b["type"] != "text"
    ]
    if target is oc:
        assert sent == []  # unsigned thinking would be rejected by Anthropic
    elif target is gm:
        assert sent == original[:1]
    else:
        assert sent == original
    assert assistant[-1] == {"type": "text", "text": "27 * 453 = 12,231"}


@pytest.mark.parametrize("target", [an, orr, gm], ids=fid)
def test_tool_call_ids_survive_a_client_tool_loop(target: ModuleType) -> None:
    """OpenAI upstream tool calls -> client in ``target`` -> results back."""
    resp = oc.parse_response(load("openai/response_tool_call.json"))
    answer = json.loads(json.dumps(target.render_response(resp)))
    req = target.parse_request(next_turn(target, answer))
    upstream = oc.render_request(req)
    sent = upstream["messages"][1]["tool_calls"]
    want = load("openai/response_tool_call.json")["choices"][0]["message"]["tool_calls"]
    assert [(c["id"], c["function"]["name"]) for c in sent] == [
        (c["id"], c["function"]["name"]) for c in want
    ]
    assert [json.loads(c["function"]["arguments"]) for c in sent] == [
        json.loads(c["function"]["arguments"]) for c in want
    ]


# ------------------------------------------------------------------- streams


def stream_summary(events: list[ir.Event], *, sigs: bool, redacted: bool) -> dict[str, Any]:
    blocks: dict[int, list[Any]] = {}
    stop = None
    for ev in events:
        if isinstance(ev, ir.BlockStart):
            name = ev.name if ev.kind == "tool_call" else None
            call_id = ev.id if ev.kind == "tool_call" else None
            blocks[ev.index] = [ev.kind, call_id, name, "", [], ev.redacted]
        elif isinstance(ev, ir.TextDelta | ir.ThinkingDelta | ir.ToolArgsDelta):
            blocks[ev.index][3] += (
                ev.text if not isinstance(ev, ir.ToolArgsDelta) else ev.partial_json
            )
        elif isinstance(ev, ir.SignatureDelta) and sigs:
            blocks[ev.index][4].append(ev.signature)
        elif isinstance(ev, ir.MessageDelta) and ev.stop_reason:
            stop = ev.stop_reason
    out = []
    for kind, call_id, name, text, signature, is_redacted in blocks.values():
        if is_redacted and not redacted:
            continue
        if kind == "tool_call":
            text = json.loads(text)
        if not sigs and kind == "thinking" and not text:
            continue  # a signature-only block has nothing left without signatures
        out.append([kind, call_id, name, text, signature])
    return {"blocks": out, "stop": stop}


STREAM_FIXTURES = [
    "openai/stream_text.sse",
    "openai/stream_tool_call.sse",
    "openai/stream_reasoning.sse",
    "openai/stream_think_tags.sse",
    "anthropic/stream_text.sse",
    "anthropic/stream_tool_use.sse",
    "anthropic/stream_thinking.sse",
]


@pytest.mark.parametrize("target", FORMATS, ids=fid)
@pytest.mark.parametrize("path", STREAM_FIXTURES)
def test_stream_fixture_through_format(path: str, target: ModuleType) -> None:
    events = helpers.decode_stream(SOURCES[path.split("/")[0]], (FIXTURES / path).read_bytes())
    raw = helpers.encode(target, events, "client-model", include_usage=True)
    back = helpers.decode_stream(target, raw)
    if target is gm:
        back = helpers.events_sent_back(back)
    sigs = target is not oc
    redacted = target is not gm
    assert stream_summary(back, sigs=sigs, redacted=redacted) == stream_summary(
        events, sigs=sigs, redacted=redacted
    )
    assert isinstance(back[-1], ir.MessageStop)

"""Property tests: Gemini render -> parse keeps what Gemini can express."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from omniroute.formats import gemini as gm
from omniroute.formats import ir
from omniroute.formats.common import dump_json
from tests.formats.helpers import (
    SIGNATURE_MARKER,
    alternating_turns,
    decode_stream,
    encode,
    final_stops,
    json_values_with,
    pieces,
    props_settings,
    text_deltas,
    texts,
    tool_choices,
    wrapped,
)
from tests.formats.helpers import call_ids as ids
from tests.formats.helpers import lower_names as names

SETTINGS = props_settings(60)

# Signatures an upstream makes. Bytes starting with our client-side marker
# would read as wrapped when a client sends them back; no real one does.
sigs = (
    st.binary(min_size=1, max_size=24)
    .filter(lambda b: not b.startswith(SIGNATURE_MARKER))
    .map(lambda b: base64.b64encode(b).decode())
)
json_values = json_values_with(names, max_text=10)
args = st.dictionaries(names, json_values, max_size=4)


def with_wrapped(parts: list[ir.Part]) -> list[ir.Part]:
    return [
        dataclasses.replace(p, signature=wrapped(p.signature))
        if isinstance(p, ir.ThinkingPart) and p.signature
        else p
        for p in parts
    ]


def gemini_reasoning(r: ir.Reasoning | None) -> ir.Reasoning | None:
    """What Gemini expresses of a Reasoning: include_thoughts None means
    "show them" when thinking is on and is Gemini's default (False) when off."""
    if r is None or r.include_thoughts is not None:
        return r
    off = r.enabled is False or r.budget_tokens == 0
    return dataclasses.replace(r, include_thoughts=not off)


@st.composite
def assistant_parts(draw: st.DrawFn) -> list[ir.Part]:
    parts: list[ir.Part] = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["text", "thought", "sig", "call"]))
        if kind == "text":
            parts.append(ir.TextPart(draw(texts)))
        elif kind == "thought":
            parts.append(ir.ThinkingPart(draw(texts), signature=draw(st.none() | sigs)))
        elif kind == "sig":
            parts.append(ir.ThinkingPart("", signature=draw(sigs)))
        else:
            parts.append(ir.ToolCallPart(draw(ids), draw(names), dump_json(draw(args))))
    return parts


def result_for(call: ir.ToolCallPart, draw: st.DrawFn) -> ir.ToolResultPart:
    content = draw(texts | args.map(dump_json))
    return ir.ToolResultPart(
        call.id, [ir.TextPart(content)], is_error=draw(st.booleans()), name=call.name
    )


@st.composite
def user_parts(draw: st.DrawFn, calls: list[ir.ToolCallPart]) -> list[ir.Part]:
    user: list[ir.Part] = [result_for(c, draw) for c in calls]
    if draw(st.booleans()) or not user:
        user.append(ir.TextPart(draw(texts)))
    if draw(st.booleans()):
        user.append(ir.ImagePart(data=draw(sigs), media_type="image/png"))
    return user


@st.composite
def requests(draw: st.DrawFn) -> ir.Request:
    messages = draw(alternating_turns(assistant_parts(), user_parts))
    props = draw(
        st.dictionaries(
            names, st.sampled_from([{"type": "string"}, {"type": "integer"}]), max_size=3
        )
    )
    tools = [
        ir.ToolDef(
            name,
            draw(st.none() | texts),
            {"type": "object", "properties": props} if props else ir.ToolDef("x").parameters,
        )
        for name in draw(st.lists(names, max_size=3, unique=True))
    ]
    req = ir.Request(model="", messages=messages, tools=tools)
    req.system = [ir.TextPart(t) for t in draw(st.lists(texts, max_size=2))]
    if tools:
        req.tool_choice = draw(tool_choices(tools[0].name))
    req.temperature = draw(st.none() | st.floats(0, 2, allow_nan=False))
    req.top_p = draw(st.none() | st.floats(0, 1, allow_nan=False))
    req.top_k = draw(st.none() | st.integers(1, 100))
    req.max_tokens = draw(st.none() | st.integers(1, 65536))
    req.seed = draw(st.none() | st.integers(0, 2**31))
    req.stop = draw(st.lists(texts, max_size=2))
    req.reasoning = draw(
        st.none()
        | st.builds(
            ir.Reasoning,
            budget_tokens=st.integers(1, 32768),
            include_thoughts=st.none() | st.booleans(),
        )
        | st.just(ir.Reasoning(enabled=False))
        | st.just(ir.Reasoning(enabled=True, include_thoughts=True))
    )
    req.response_format = draw(
        st.none()
        | st.just(ir.ResponseFormat("json_object"))
        | st.just(
            ir.ResponseFormat(
                "json_schema", schema={"type": "object", "properties": {"a": {"type": "string"}}}
            )
        )
    )
    return req


def normalised_args(msgs: list[ir.Message]) -> list[ir.Message]:
    """Tool arguments compared as JSON values, not texts; consecutive thought
    texts merged until one has a signature (Gemini has no thought boundary)."""
    out = []
    for msg in msgs:
        parts: list[ir.Part] = []
        for p in msg.parts:
            last = parts[-1] if parts else None
            if (
                isinstance(p, ir.ThinkingPart)
                and p.text
                and isinstance(last, ir.ThinkingPart)
                and last.text
                and last.signature is None
            ):
                parts[-1] = ir.ThinkingPart(last.text + p.text, p.signature)
                continue
            if isinstance(p, ir.ToolCallPart):
                p = ir.ToolCallPart(
                    p.id, p.name, json.dumps(json.loads(p.arguments), sort_keys=True)
                )
            elif (
                isinstance(p, ir.ToolResultPart)
                and not p.is_error
                and p.content[0].text.startswith("{")
                and _is_json(p.content[0].text)
            ):
                text = json.dumps(json.loads(p.content[0].text), sort_keys=True)
                p = ir.ToolResultPart(p.call_id, [ir.TextPart(text)], p.is_error, p.name)
            parts.append(p)
        out.append(ir.Message(msg.role, parts))
    return out


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@SETTINGS
@given(requests())
def test_request_round_trip(req: ir.Request) -> None:
    body = json.loads(json.dumps(gm.render_request(req)))
    back = gm.parse_request(body)
    assert normalised_args(back.messages) == normalised_args(req.messages)
    for field in (
        "system",
        "tools",
        "tool_choice",
        "temperature",
        "top_p",
        "top_k",
        "max_tokens",
        "seed",
        "stop",
        "reasoning",
        "response_format",
    ):
        want = getattr(req, field)
        if field == "reasoning":
            want = gemini_reasoning(want)
        assert getattr(back, field) == want, field


@st.composite
def responses(draw: st.DrawFn) -> ir.Response:
    parts = [p for p in draw(assistant_parts())]
    stop = draw(final_stops(parts))
    output = draw(st.integers(0, 5000))
    usage = ir.Usage(
        input_tokens=draw(st.integers(0, 5000)),
        output_tokens=output,
        cached_input_tokens=draw(st.integers(0, 100)),
        reasoning_tokens=draw(st.integers(0, output)),
    )
    return ir.Response(
        id=draw(st.from_regex(r"[A-Za-z0-9]{8,20}", fullmatch=True)),
        model=draw(names),
        parts=parts,  # type: ignore[arg-type]
        stop_reason=stop,
        usage=usage,
    )


@SETTINGS
@given(responses())
def test_response_round_trip(resp: ir.Response) -> None:
    body = json.loads(json.dumps(gm.render_response(resp)))
    gm_types_check(body)
    back = gm.parse_response(body)
    assert (back.id, back.model, back.stop_reason, back.usage) == (
        resp.id,
        resp.model,
        resp.stop_reason,
        resp.usage,
    )
    # Read as an upstream answer the signatures stay wrapped...
    assert normalised_args([ir.Message("assistant", list(back.parts))]) == normalised_args(
        [ir.Message("assistant", with_wrapped(list(resp.parts)))]
    )
    # ...and a client sending the parts back gives the original signatures.
    turns = [{"role": "user", "parts": [{"text": "q"}]}, body["candidates"][0]["content"]]
    again = gm.parse_request({"contents": turns}).messages[1:]
    assert normalised_args(again) == normalised_args([ir.Message("assistant", list(resp.parts))])


def gm_types_check(body: dict[str, Any]) -> None:
    from google.genai import types

    types.GenerateContentResponse.model_validate_json(json.dumps(body))


# -------------------------------------------------------------------- streams


@st.composite
def event_streams(draw: st.DrawFn) -> list[ir.Event]:
    events: list[ir.Event] = [ir.MessageStart("r1", "gemini-x")]
    for index in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["text", "thinking", "tool_call"]))
        if kind == "tool_call":
            events.append(ir.BlockStart(index, kind, id=draw(ids), name=draw(names)))
            events += [ir.ToolArgsDelta(index, p) for p in draw(pieces(dump_json(draw(args))))]
        else:
            events.append(ir.BlockStart(index, kind))
            events += text_deltas(index, kind, draw(st.lists(texts, max_size=3)))
            if kind == "thinking" and draw(st.booleans()):
                events.append(ir.SignatureDelta(index, draw(sigs)))
        if draw(st.integers(0, 4)):  # sometimes the block is never stopped
            events.append(ir.BlockStop(index))
    stop = draw(st.sampled_from(["end_turn", "max_tokens", "content_filter"]))
    if draw(st.booleans()):
        events.append(ir.MessageDelta(stop, usage=ir.Usage(3, 9)))
    events.append(ir.MessageStop())
    return events


def summary(events: list[ir.Event]) -> dict[str, Any]:
    text = thinking = ""
    sig_list: list[str] = []
    calls: dict[int, list[Any]] = {}
    stop = None
    for ev in events:
        if isinstance(ev, ir.BlockStart) and ev.kind == "tool_call":
            calls[ev.index] = [ev.id, ev.name, ""]
        elif isinstance(ev, ir.TextDelta):
            text += ev.text
        elif isinstance(ev, ir.ThinkingDelta):
            thinking += ev.text
        elif isinstance(ev, ir.SignatureDelta):
            sig_list.append(ev.signature)
        elif isinstance(ev, ir.ToolArgsDelta):
            calls[ev.index][2] += ev.partial_json
        elif isinstance(ev, ir.MessageDelta) and ev.stop_reason:
            stop = ev.stop_reason
    call_list = [(i, n, json.loads(a)) for i, n, a in calls.values()]
    if stop in (None, "end_turn"):
        stop = "tool_use" if call_list else "end_turn"
    return {"text": text, "thinking": thinking, "sigs": sig_list, "calls": call_list, "stop": stop}


@SETTINGS
@given(event_streams())
def test_stream_round_trip(events: list[ir.Event]) -> None:
    back = decode_stream(gm, encode(gm, events, "gemini-x"))
    want = summary(events)
    assert summary(back) == want | {"sigs": [wrapped(s) for s in want["sigs"]]}
    assert isinstance(back[-1], ir.MessageStop)


# --------------------------------------------------------- client signatures


def sdk_spelling(sig: str, alphabet: str, padded: bool) -> str:
    """``sig`` re-encoded the way a client may send it back: either alphabet,
    with or without padding."""
    raw = base64.b64decode(sig)
    out = base64.urlsafe_b64encode(raw) if alphabet == "urlsafe" else base64.b64encode(raw)
    text = out.decode()
    return text if padded else text.rstrip("=")


@SETTINGS
@given(
    st.text(min_size=1, max_size=60) | sigs | sigs.map(lambda s: s.replace("+", "-")),
    st.sampled_from(["standard", "urlsafe"]),
    st.booleans(),
)
def test_any_signature_survives_a_client_round_trip(sig: str, alphabet: str, padded: bool) -> None:
    resp = ir.Response(id="r1", model="m", parts=[ir.ThinkingPart("t", signature=sig)])
    shown = gm.render_response(resp)["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
    back = sdk_spelling(shown, alphabet, padded)
    body = {"contents": [{"role": "user", "parts": [{"text": "q"}]},
                         {"role": "model", "parts": [{"text": "t", "thought": True,
                                                      "thoughtSignature": back}]}]}  # fmt: skip
    (part,) = gm.parse_request(body).messages[1].parts
    assert isinstance(part, ir.ThinkingPart) and part.signature == sig

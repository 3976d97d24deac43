"""Gemini client boundary: url-safe inlineData, includeThoughts for thinking
asked for by other formats, and thought signatures that must come back from
a google-genai client exactly as another format made them."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from google import genai
from google.genai import _common as genai_common
from google.genai import models as genai_models
from google.genai import types

from omniroute.formats import anthropic as an
from omniroute.formats import gemini as gm
from omniroute.formats import ir
from omniroute.formats import openai_chat as oc
from omniroute.formats import openai_responses as orr
from omniroute.formats.common import decode_base64, standard_base64
from tests.formats.helpers import SIGNATURE_MARKER, encode, wrapped

# Bytes whose base64 holds every character that differs between alphabets.
IMAGE = b"\x89PNG\r\n\x1a\n" + bytes([0xFB, 0xFF, 0xBF, 0xFE, 0x3E, 0x3F]) * 3 + b"\x00\x01"
URLSAFE_UNPADDED = base64.urlsafe_b64encode(IMAGE).decode().rstrip("=")
STANDARD = base64.b64encode(IMAGE).decode()

# An Anthropic signature (standard alphabet: '/' and '+'), a Responses
# encrypted_content (url-safe: '-' and '_'), a Gemini one, and a string that
# is no base64 at all (and whose wrapped form has '+' and '/', which the SDK
# re-spells): each must come back from a Gemini client unchanged.
ANTHROPIC_SIG = "EqQBCkgIARABGAIiQPvv/790aG91Z2h0LXNpZ25hdHVyZS12MQ=="
RESPONSES_SIG = "gAAAAABo--__v2VuY3J5cHRlZC1yZWFzb25pbmctc3RhdGUtMDE="
GEMINI_SIG = "CiQB0e2Kb+0w8oWnQ3Q6N0d1Hq5b/6a9rWm1bXlzaWduYXR1cmU="
ODD_SIG = "opaque~state?>✓"
SIGNATURES = [ANTHROPIC_SIG, RESPONSES_SIG, GEMINI_SIG, ODD_SIG]
MARKER = SIGNATURE_MARKER


def user_turn(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "parts": list(parts)}


def strict_b64(data: str) -> bytes:
    """Standard alphabet only, padding required: what data URLs expect."""
    assert len(data) % 4 == 0
    return base64.b64decode(data, validate=True)


# ------------------------------------------------------------ 1. inlineData


def test_standard_base64_normalises_either_alphabet() -> None:
    assert standard_base64(URLSAFE_UNPADDED) == STANDARD
    assert standard_base64(STANDARD) == STANDARD
    assert standard_base64(base64.urlsafe_b64encode(IMAGE).decode()) == STANDARD
    assert standard_base64("QQ") == "QQ=="
    assert standard_base64("QUI\n") == "QUI="
    assert standard_base64("QUJD") == "QUJD"
    assert decode_base64(URLSAFE_UNPADDED) == IMAGE
    assert decode_base64("not base64!") is None
    assert decode_base64("QUJDR") is None  # 4n+1 characters: no base64 has that length


def test_urlsafe_inline_data_is_read_in_the_standard_alphabet() -> None:
    assert "-" in URLSAFE_UNPADDED and "_" in URLSAFE_UNPADDED
    assert len(URLSAFE_UNPADDED) % 4  # the padding really is missing
    body = {"contents": [user_turn(
        {"text": "what is this?"},
        {"inlineData": {"mimeType": "image/png", "data": URLSAFE_UNPADDED}},
    )]}  # fmt: skip
    req = gm.parse_request(body)
    image = req.messages[0].parts[1]
    assert image == ir.ImagePart(data=STANDARD, media_type="image/png")
    req.model = "m"

    chat = oc.render_request(req)["messages"][0]["content"][1]["image_url"]["url"]
    prefix = "data:image/png;base64,"
    assert chat.startswith(prefix) and strict_b64(chat[len(prefix) :]) == IMAGE

    items = orr.render_request(req)["input"][0]["content"]
    (responses_image,) = [c for c in items if c["type"] == "input_image"]
    url = responses_image["image_url"]
    assert url.startswith(prefix) and strict_b64(url[len(prefix) :]) == IMAGE

    blocks = an.render_request(req)["messages"][0]["content"]
    (source,) = [b["source"] for b in blocks if b["type"] == "image"]
    assert source["type"] == "base64" and strict_b64(source["data"]) == IMAGE

    # A Gemini upstream gets the same bytes (it reads either alphabet).
    inline = gm.render_request(req)["contents"][0]["parts"][1]["inlineData"]
    assert inline == {"mimeType": "image/png", "data": STANDARD}


def test_urlsafe_inline_data_in_a_function_response_is_normalised() -> None:
    body = {"contents": [
        user_turn({"text": "look"}),
        {"role": "model", "parts": [{"functionCall": {"id": "c1", "name": "shot", "args": {}}}]},
        user_turn({"functionResponse": {
            "id": "c1", "name": "shot", "response": {"output": "done"},
            "parts": [{"inlineData": {"mimeType": "image/png", "data": URLSAFE_UNPADDED}}],
        }}),
    ]}  # fmt: skip
    (result,) = gm.parse_request(body).messages[2].parts
    assert isinstance(result, ir.ToolResultPart)
    assert result.content[1] == ir.ImagePart(data=STANDARD, media_type="image/png")


def test_image_sent_by_the_sdk_reaches_other_formats_in_the_standard_alphabet() -> None:
    part = types.Part.from_bytes(data=IMAGE, mime_type="image/png")
    body = sdk_request([types.Content(role="user", parts=[types.Part(text="hi"), part])])
    sent = body["contents"][0]["parts"][1]["inlineData"]["data"]
    assert sent != STANDARD and decode_base64(sent) == IMAGE  # the SDK's own spelling
    (_, image) = gm.parse_request(body).messages[0].parts
    assert isinstance(image, ir.ImagePart) and image.data == STANDARD


# --------------------------------------------------------- 2. includeThoughts


def thinking_config(req: ir.Request) -> dict[str, Any]:
    req.model = req.model or "m"
    config: dict[str, Any] = gm.render_request(req)["generationConfig"]["thinkingConfig"]
    return config


@pytest.mark.parametrize(
    ("thinking", "expected"),
    [
        ({"type": "enabled", "budget_tokens": 1024}, {"thinkingBudget": 1024,
                                                      "includeThoughts": True}),
        ({"type": "adaptive"}, {"thinkingBudget": -1, "includeThoughts": True}),
        ({"type": "enabled", "budget_tokens": 2048, "display": "omitted"},
         {"thinkingBudget": 2048, "includeThoughts": False}),
        ({"type": "disabled"}, {"thinkingBudget": 0}),
    ],
)  # fmt: skip
def test_anthropic_thinking_asks_gemini_for_thoughts(
    thinking: dict[str, Any], expected: dict[str, Any]
) -> None:
    body = {"model": "m", "max_tokens": 4096, "thinking": thinking,
            "messages": [{"role": "user", "content": "2+2?"}]}  # fmt: skip
    assert thinking_config(an.parse_request(body)) == expected


@pytest.mark.parametrize(
    ("reasoning", "expected"),
    [
        ({"effort": "low", "summary": "auto"}, {"thinkingBudget": 4096, "includeThoughts": True}),
        ({"effort": "low", "summary": "detailed"}, {"thinkingBudget": 4096,
                                                    "includeThoughts": True}),
        ({"effort": "high"}, {"thinkingBudget": 24576, "includeThoughts": True}),
        ({"effort": "none"}, {"thinkingBudget": 0}),
    ],
)  # fmt: skip
def test_responses_reasoning_asks_gemini_for_thoughts(
    reasoning: dict[str, Any], expected: dict[str, Any]
) -> None:
    body = {"model": "m", "input": "2+2?", "reasoning": reasoning}
    assert thinking_config(orr.parse_request(body)) == expected


def test_chat_reasoning_effort_mapping_is_unchanged_and_shows_thoughts() -> None:
    req = oc.parse_request({"model": "m", "reasoning_effort": "medium",
                            "messages": [{"role": "user", "content": "x"}]})  # fmt: skip
    assert req.reasoning == ir.Reasoning(effort="medium")
    assert thinking_config(req) == {"thinkingBudget": 8192, "includeThoughts": True}


@pytest.mark.parametrize(
    ("config", "include"),
    [
        ({"thinkingBudget": 1024}, False),  # Gemini's default: no thought summaries
        ({"thinkingBudget": 1024, "includeThoughts": True}, True),
        ({"thinkingBudget": 1024, "includeThoughts": False}, False),
    ],
)
def test_gemini_client_gets_thoughts_only_when_it_asks(
    config: dict[str, Any], include: bool
) -> None:
    body = {"contents": [user_turn({"text": "x"})],
            "generationConfig": {"thinkingConfig": config}}  # fmt: skip
    req = gm.parse_request(body)
    assert req.reasoning is not None and req.reasoning.include_thoughts is include
    assert thinking_config(req) == {"thinkingBudget": 1024, "includeThoughts": include}


# ------------------------------------------------------- 3. thought signatures


def signed_answer(sig: str) -> ir.Response:
    return ir.Response(
        id="r1",
        model="m",
        parts=[
            ir.ThinkingPart("I should look it up.", signature=sig),
            ir.ToolCallPart("call_1", "lookup", '{"q": "x"}'),
        ],
        stop_reason="tool_use",
    )


def next_request(model_content: dict[str, Any]) -> dict[str, Any]:
    return {"contents": [
        user_turn({"text": "q"}),
        model_content,
        user_turn({"functionResponse": {"id": "call_1", "name": "lookup",
                                        "response": {"output": "42"}}}),
    ]}  # fmt: skip


def sent_back_signatures(req: ir.Request) -> list[str]:
    return [
        p.signature for p in req.messages[1].parts if isinstance(p, ir.ThinkingPart) and p.signature
    ]


def respell(sig: str, *, urlsafe: bool, padded: bool) -> str:
    raw = decode_base64(sig)
    assert raw is not None
    text = (base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)).decode()
    return text if padded else text.rstrip("=")


@pytest.mark.parametrize("sig", SIGNATURES)
def test_render_response_wraps_every_signature(sig: str) -> None:
    parts = gm.render_response(signed_answer(sig))["candidates"][0]["content"]["parts"]
    shown = parts[0]["thoughtSignature"]
    assert shown == wrapped(sig)
    assert base64.b64decode(shown, validate=True) == MARKER + sig.encode()


@pytest.mark.parametrize("sig", SIGNATURES)
@pytest.mark.parametrize("urlsafe", [False, True])
@pytest.mark.parametrize("padded", [False, True])
def test_wrapped_signature_comes_back_in_any_spelling(
    sig: str, urlsafe: bool, padded: bool
) -> None:
    content = gm.render_response(signed_answer(sig))["candidates"][0]["content"]
    for part in content["parts"]:
        if "thoughtSignature" in part:
            part["thoughtSignature"] = respell(part["thoughtSignature"], urlsafe=urlsafe,
                                               padded=padded)  # fmt: skip
    assert sent_back_signatures(gm.parse_request(next_request(content))) == [sig]


@pytest.mark.parametrize(
    "sig", ["c2lnLWJ5dGVz", "CiQB0e2Kb-0w8oWn", "QUJD==", "plain text", wrapped("")]
)
def test_unwrapped_client_signatures_are_kept_exactly(sig: str) -> None:
    content = {"role": "model", "parts": [
        {"functionCall": {"id": "call_1", "name": "lookup", "args": {}}, "thoughtSignature": sig},
    ]}  # fmt: skip
    assert sent_back_signatures(gm.parse_request(next_request(content))) == [sig]


def test_upstream_side_neither_wraps_nor_unwraps() -> None:
    thought = ir.ThinkingPart("t", signature=GEMINI_SIG)
    call = ir.ToolCallPart("call_1", "lookup", "{}", signature=RESPONSES_SIG)
    req = ir.Request(
        "m", [ir.Message("user", [ir.TextPart("q")]), ir.Message("assistant", [thought, call])]
    )
    parts = gm.render_request(req)["contents"][1]["parts"]
    assert [p.get("thoughtSignature") for p in parts] == [GEMINI_SIG, RESPONSES_SIG]

    looks_wrapped = wrapped(ANTHROPIC_SIG)
    answer = {"candidates": [{"content": {"role": "model", "parts": [
        {"text": "t", "thought": True, "thoughtSignature": looks_wrapped},
        {"text": "done"},
    ]}, "finishReason": "STOP"}]}  # fmt: skip
    resp = gm.parse_response(answer)
    assert [p.signature for p in resp.parts if isinstance(p, ir.ThinkingPart)] == [looks_wrapped]

    dec = gm.StreamDecoder()
    events = dec.feed(None, json.dumps(answer)) + dec.close()
    assert [e.signature for e in events if isinstance(e, ir.SignatureDelta)] == [looks_wrapped]


def test_stream_encoder_wraps_signatures_on_every_part_kind() -> None:
    events: list[ir.Event] = [
        ir.MessageStart("r1", "m"),
        ir.BlockStart(0, "thinking"),
        ir.ThinkingDelta(0, "hmm"),
        ir.SignatureDelta(0, ANTHROPIC_SIG[:10]),  # signatures may come in pieces
        ir.SignatureDelta(0, ANTHROPIC_SIG[10:]),
        ir.BlockStop(0),
        ir.BlockStart(1, "thinking"),
        ir.SignatureDelta(1, RESPONSES_SIG),
        ir.BlockStop(1),
        ir.BlockStart(2, "text"),
        ir.TextDelta(2, "Looking."),
        ir.BlockStop(2),
        ir.BlockStart(3, "tool_call", id="call_1", name="lookup"),
        ir.SignatureDelta(3, GEMINI_SIG),
        ir.ToolArgsDelta(3, "{}"),
        ir.BlockStop(3),
        ir.MessageDelta("tool_use", usage=ir.Usage(3, 4)),
        ir.MessageStop(),
    ]
    raw = encode(gm, events, "m")
    chunks = [
        json.loads(line[6:]) for line in raw.decode().split("\n") if line.startswith("data: ")
    ]
    parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
    shown = [p["thoughtSignature"] for p in parts if "thoughtSignature" in p]
    assert shown == [wrapped(ANTHROPIC_SIG), wrapped(RESPONSES_SIG), wrapped(GEMINI_SIG)]
    req = gm.parse_request(next_request({"role": "model", "parts": parts}))
    assert sent_back_signatures(req) == [ANTHROPIC_SIG, RESPONSES_SIG, GEMINI_SIG]


# ---------------------------------------------------------------- SDK level


def sdk_request(contents: list[types.Content]) -> dict[str, Any]:
    """The generateContent body google-genai itself builds for ``contents``."""
    client = genai.Client(api_key="test-key")
    params = {"model": "gemini-2.5-flash", "contents": contents}
    raw = genai_models._GenerateContentParameters_to_mldev(client._api_client, params)
    raw.pop("_url")
    body: dict[str, Any] = json.loads(json.dumps(
        genai_common.encode_unserializable_types(genai_common.convert_to_dict(raw))
    ))  # fmt: skip
    return body


def sdk_turn(model_content: types.Content) -> list[types.Content]:
    result = types.Part(function_response=types.FunctionResponse(
        id="call_1", name="lookup", response={"output": "42"}))  # fmt: skip
    user = types.Content(role="user", parts=[types.Part(text="q")])
    return [user, model_content, types.Content(role="user", parts=[result])]


@pytest.mark.parametrize("sig", SIGNATURES)
def test_sdk_round_trip_of_a_json_answer(sig: str) -> None:
    answer = json.loads(json.dumps(gm.render_response(signed_answer(sig))))
    sdk = types.GenerateContentResponse.model_validate(answer)
    assert sdk.candidates and sdk.candidates[0].content
    assert sdk.candidates[0].content.parts
    assert sdk.candidates[0].content.parts[0].thought_signature == MARKER + sig.encode()
    body = sdk_request(sdk_turn(sdk.candidates[0].content))
    sent = body["contents"][1]["parts"][0]["thoughtSignature"]
    assert decode_base64(sent) == MARKER + sig.encode()
    if sig == ODD_SIG:  # the SDK's own (url-safe) spelling, not ours
        assert sent != wrapped(sig) and ("-" in sent or "_" in sent)
    req = gm.parse_request(body)
    assert sent_back_signatures(req) == [sig]
    req.model = "m"
    # ...and each upstream gets the signature as it was made.
    blocks = an.render_request(req)["messages"][1]["content"]
    assert blocks[0] == {"type": "thinking", "thinking": "I should look it up.", "signature": sig}
    items = orr.render_request(req)["input"]
    (reasoning,) = [i for i in items if i.get("type") == "reasoning"]
    assert reasoning["encrypted_content"] == sig
    parts = gm.render_request(req)["contents"][1]["parts"]
    assert parts[0]["thoughtSignature"] == sig


@pytest.mark.parametrize("sig", SIGNATURES)
def test_sdk_round_trip_of_a_stream(sig: str) -> None:
    events: list[ir.Event] = [
        ir.MessageStart("r1", "m"),
        ir.BlockStart(0, "thinking"),
        ir.ThinkingDelta(0, "I should look it up."),
        ir.SignatureDelta(0, sig),
        ir.BlockStop(0),
        ir.BlockStart(1, "tool_call", id="call_1", name="lookup"),
        ir.ToolArgsDelta(1, '{"q": "x"}'),
        ir.BlockStop(1),
        ir.MessageDelta("tool_use"),
        ir.MessageStop(),
    ]
    raw = encode(gm, events, "m").decode()
    parts: list[types.Part] = []
    for line in raw.split("\n"):
        if line.startswith("data: "):
            chunk = types.GenerateContentResponse.model_validate(json.loads(line[6:]))
            assert chunk.candidates and chunk.candidates[0].content
            parts += chunk.candidates[0].content.parts or []
    # A client keeps the streamed parts as its model turn.
    req = gm.parse_request(sdk_request(sdk_turn(types.Content(role="model", parts=parts))))
    assert sent_back_signatures(req) == [sig]

"""Gemini codec: fixtures both ways, streams, errors, SDK validity."""

from __future__ import annotations

import base64
import json
from functools import partial
from typing import Any

import pytest
from google import genai
from google.genai import _common as genai_common
from google.genai import models as genai_models
from google.genai import types

from omniroute import errors
from omniroute.formats import gemini as gm
from omniroute.formats import ir
from omniroute.formats.gemini_schema import clean_gemini_schema
from tests.formats import helpers
from tests.formats.helpers import sse_events, wrapped

FIXTURES = helpers.FIXTURES / "gemini"

load = partial(helpers.load, "gemini")
decode_stream = partial(helpers.decode_stream, gm)
encode = partial(helpers.encode, gm, model="gemini-x")


def chunks_of(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(data) for _, data in sse_events(raw)]


def collect(events: list[ir.Event]) -> dict[str, Any]:
    """``helpers.collect`` with the signatures as "sigs" and calls as tuples."""
    got = helpers.collect(events)
    got["sigs"] = got.pop("signatures")
    got["calls"] = [tuple(call) for call in got["calls"]]
    return got


def with_wrapped_signatures(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**p, "thoughtSignature": wrapped(p["thoughtSignature"])} if "thoughtSignature" in p else p
        for p in parts
    ]


def client_sends_back(parts: list[dict[str, Any]]) -> list[ir.Part]:
    """The model parts a Gemini client was given, sent back in a request."""
    body = {"contents": [{"role": "user", "parts": [{"text": "q"}]},
                         {"role": "model", "parts": parts}]}  # fmt: skip
    return gm.parse_request(body).messages[1].parts


def signatures(parts: list[ir.Part]) -> list[str]:
    return [p.signature for p in parts if isinstance(p, ir.ThinkingPart) and p.signature]


def sdk_response(body: dict[str, Any]) -> types.GenerateContentResponse:
    """Strict check (extra fields forbidden, signatures must be base64)."""
    return types.GenerateContentResponse.model_validate_json(json.dumps(body))


# ------------------------------------------------------------------ requests


def test_parse_request_fixture() -> None:
    req = gm.parse_request(load("request.json"))
    assert req.model == ""
    assert [p.text for p in req.system] == ["You are a concise weather assistant."]
    assert [m.role for m in req.messages] == ["user", "assistant", "user", "user"]
    model_turn = req.messages[1].parts
    assert isinstance(model_turn[0], ir.ThinkingPart) and model_turn[0].text.startswith("**Plan")
    assert model_turn[0].signature is None
    # The functionCall's signature becomes a signature-only thinking part before it.
    assert isinstance(model_turn[1], ir.ThinkingPart)
    assert model_turn[1].text == "" and model_turn[1].signature.startswith("CpMCAdHt")
    boston, paris = model_turn[2], model_turn[3]
    assert isinstance(boston, ir.ToolCallPart) and isinstance(paris, ir.ToolCallPart)
    assert json.loads(boston.arguments) == {"location": "Boston, MA"}
    assert boston.id.startswith("call_") and boston.id != paris.id
    res1, res2 = req.messages[2].parts
    assert isinstance(res1, ir.ToolResultPart) and isinstance(res2, ir.ToolResultPart)
    # Responses without ids pair with the calls of the previous model turn, in order.
    assert (res1.call_id, res2.call_id) == (boston.id, paris.id)
    assert json.loads(res1.content[0].text) == {
        "temperature": 12,
        "unit": "celsius",
        "sky": "cloudy",
    }
    assert res2.content[0].text == "18 C, sunny" and res2.name == "get_current_weather"
    image = req.messages[3].parts[1]
    assert isinstance(image, ir.ImagePart) and image.media_type == "image/png" and image.data
    (tool,) = req.tools
    assert tool.parameters["type"] == "object"
    assert tool.parameters["properties"]["unit"]["type"] == ["string", "null"]
    assert req.tool_choice == ir.ToolChoice("auto")
    assert (req.temperature, req.top_p, req.top_k, req.max_tokens) == (0.7, 0.95, 40, 8192)
    assert req.stop == ["\n\nUser:"]
    assert req.reasoning == ir.Reasoning(budget_tokens=2048, include_thoughts=True)
    assert req.vendor["gemini"]["tools"] == [{"googleSearch": {}}]
    assert req.vendor["gemini"]["safety_settings"][0]["threshold"] == "BLOCK_ONLY_HIGH"


def test_generated_ids_are_stable_across_turns() -> None:
    body = load("request.json")
    first = gm.parse_request(body)
    longer = dict(body, contents=[*body["contents"], {"role": "model", "parts": [{"text": "ok"}]}])
    second = gm.parse_request(longer)
    ids = [p.id for p in first.messages[1].parts if isinstance(p, ir.ToolCallPart)]
    again = [p.id for p in second.messages[1].parts if isinstance(p, ir.ToolCallPart)]
    assert ids == again


def test_given_ids_pair_by_id_not_order() -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "go"}]},
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"id": "a1", "name": "f", "args": {}}},
                    {"functionCall": {"id": "b2", "name": "f", "args": {}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"id": "b2", "name": "f", "response": {"output": "B"}}},
                    {"functionResponse": {"name": "f", "response": {"output": "A"}}},
                ],
            },
        ]
    }
    req = gm.parse_request(body)
    results = req.messages[2].parts
    assert [r.call_id for r in results if isinstance(r, ir.ToolResultPart)] == ["b2", "a1"]


def test_render_request_round_trips_fixture() -> None:
    body = load("request.json")
    out = gm.render_request(gm.parse_request(body))
    model_parts = out["contents"][1]["parts"]
    assert model_parts[0] == body["contents"][1]["parts"][0]
    assert model_parts[1]["thoughtSignature"] == body["contents"][1]["parts"][1]["thoughtSignature"]
    assert model_parts[1]["functionCall"]["args"] == {"location": "Boston, MA"}
    assert "thoughtSignature" not in model_parts[2]
    responses = [p["functionResponse"] for p in out["contents"][2]["parts"]]
    assert [r["response"] for r in responses] == [
        {"temperature": 12, "unit": "celsius", "sky": "cloudy"},
        {"output": "18 C, sunny"},
    ]
    calls = [p["functionCall"]["id"] for p in model_parts[1:]]
    assert [r["id"] for r in responses] == calls
    assert out["contents"][3] == body["contents"][3]
    assert out["systemInstruction"] == body["systemInstruction"]
    assert out["tools"][1] == {"googleSearch": {}}
    params = out["tools"][0]["functionDeclarations"][0]["parameters"]
    assert params["properties"]["unit"] == {
        "type": "string",
        "enum": ["celsius", "fahrenheit"],
        "nullable": True,
    }
    assert out["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    assert out["safetySettings"] == body["safetySettings"]
    gen = out["generationConfig"]
    assert gen["thinkingConfig"] == {"thinkingBudget": 2048, "includeThoughts": True}
    assert (gen["temperature"], gen["topK"], gen["stopSequences"]) == (0.7, 40, ["\n\nUser:"])
    # Every rendered piece is something the google-genai types accept.
    for content in out["contents"]:
        types.Content.model_validate(content)
    for tool in out["tools"]:
        types.Tool.model_validate(tool)
    types.GenerationConfig.model_validate(gen)


def test_parse_request_built_by_the_sdk() -> None:
    """A body exactly as google-genai serialises it (snake_case inside
    thinkingConfig, upper-case schema types, base64 signatures)."""
    client = genai.Client(api_key="test-key")
    params = {
        "model": "gemini-2.5-flash",
        "contents": [
            types.Content(role="user", parts=[types.Part(text="hi")]),
            types.Content(
                role="model",
                parts=[
                    types.Part(
                        function_call=types.FunctionCall(name="f", args={"a": 1}),
                        thought_signature=b"sig-bytes",
                    )
                ],
            ),
            types.Content(
                role="user",
                parts=[
                    types.Part(
                        function_response=types.FunctionResponse(
                            name="f", response={"output": "ok"}
                        )
                    )
                ],
            ),
        ],
        "config": types.GenerateContentConfig(
            system_instruction="be nice",
            max_output_tokens=100,
            thinking_config=types.ThinkingConfig(thinking_budget=512, include_thoughts=True),
            tools=[
                types.Tool(
                    function_declarations=[
                        types.FunctionDeclaration(
                            name="f",
                            parameters=types.Schema(
                                type="OBJECT", properties={"a": types.Schema(type="INTEGER")}
                            ),
                        )
                    ]
                )
            ],
            tool_config=types.ToolConfig(
                function_calling_config=types.FunctionCallingConfig(
                    mode="ANY", allowed_function_names=["f"]
                )
            ),
            response_mime_type="application/json",
            response_schema={"type": "OBJECT", "properties": {"x": {"type": "STRING"}}},
        ),
    }
    raw = genai_models._GenerateContentParameters_to_mldev(client._api_client, params)
    raw.pop("_url")
    body = genai_common.encode_unserializable_types(genai_common.convert_to_dict(raw))
    req = gm.parse_request(json.loads(json.dumps(body)))
    assert [p.text for p in req.system] == ["be nice"]
    sig_part, call = req.messages[1].parts
    assert isinstance(sig_part, ir.ThinkingPart)
    assert base64.b64decode(sig_part.signature or "") == b"sig-bytes"
    assert isinstance(call, ir.ToolCallPart) and call.name == "f"
    result = req.messages[2].parts[0]
    assert isinstance(result, ir.ToolResultPart) and result.call_id == call.id
    assert req.reasoning == ir.Reasoning(budget_tokens=512, include_thoughts=True)
    assert req.tool_choice == ir.ToolChoice("tool", "f")
    assert req.tools[0].parameters == {"type": "object", "properties": {"a": {"type": "integer"}}}
    assert req.response_format == ir.ResponseFormat(
        "json_schema", schema={"type": "object", "properties": {"x": {"type": "string"}}}
    )
    assert req.max_tokens == 100


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "contents"),
        ({"contents": []}, "contents"),
        ({"contents": "hi"}, "contents"),
        ({"contents": [{"role": "system", "parts": [{"text": "x"}]}]}, "role"),
        ({"contents": [{"role": "user", "parts": "x"}]}, "parts"),
        ({"contents": [{"parts": [{"text": 3}]}]}, "text"),
        ({"contents": [{"parts": [{"functionCall": {"args": {}}}]}]}, "name"),
        ({"contents": [{"parts": [{"inlineData": {"data": "AA=="}}]}]}, "mimeType"),
        (
            {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"candidateCount": 2}},
            "1",
        ),
        ({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"topK": "5"}}, "topK"),
        ({"contents": [{"parts": [{"text": "x"}]}], "tools": {}}, "tools"),
    ],
)
def test_parse_request_rejects_invalid_input(body: dict[str, Any], needle: str) -> None:
    with pytest.raises(errors.BadRequest) as info:
        gm.parse_request(body)
    assert needle in info.value.message


def test_snake_case_fields_are_read() -> None:
    body = {
        "contents": [
            {
                "role": "user",
                "parts": [{"inline_data": {"mime_type": "image/jpeg", "data": "AA=="}}],
            }
        ],
        "system_instruction": {"parts": [{"text": "sys"}]},
        "generation_config": {"max_output_tokens": 5, "thinking_config": {"thinking_budget": 0}},
    }
    req = gm.parse_request(body)
    assert req.system[0].text == "sys" and req.max_tokens == 5
    assert req.messages[0].parts[0] == ir.ImagePart(data="AA==", media_type="image/jpeg")
    assert req.reasoning == ir.Reasoning(enabled=False, include_thoughts=False)


def test_count_tokens_body_forms() -> None:
    inner = {"contents": [{"role": "user", "parts": [{"text": "x" * 40}]}]}
    direct = gm.parse_count_tokens_request(inner)
    wrapped = gm.parse_count_tokens_request(
        {"generateContentRequest": dict(inner, model="models/gemini-2.5-flash")}
    )
    assert gm.count_tokens_estimate(direct) == gm.count_tokens_estimate(wrapped) == 10
    plain = gm.parse_request({"generateContentRequest": inner})
    assert plain.messages == direct.messages
    assert gm.render_count_tokens(7) == {"totalTokens": 7}


def _foreign_request() -> ir.Request:
    """An IR request as the Anthropic or OpenAI parser would build it."""
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "path": {"type": "string", "format": "uri", "default": "/", "examples": ["/tmp"]},
            "mode": {"const": "fast"},
            "opts": {"$ref": "#/$defs/Opts"},
            "tags": {"type": ["array", "null"], "items": {"type": "string"}},
        },
        "required": ["path", "ghost"],
        "$defs": {"Opts": {"type": "object", "properties": {"n": {"type": "integer"}}}},
    }
    return ir.Request(
        model="gemini-2.5-pro",
        system=[ir.TextPart("sys one"), ir.TextPart("sys two")],
        messages=[
            ir.Message("user", [ir.TextPart("hi"), ir.ImagePart(url="https://x.test/cat.jpg")]),
            ir.Message(
                "assistant",
                [
                    ir.ThinkingPart("secret", signature=None, redacted=True),
                    ir.ThinkingPart("I should read it.", signature="U0lHMQ=="),
                    ir.TextPart("Reading."),
                    ir.ToolCallPart("toolu_1", "read", '{"path":"/a"}', signature="VENT"),
                ],
            ),
            ir.Message(
                "user", [ir.ToolResultPart("toolu_1", [ir.TextPart("contents")], is_error=True)]
            ),
            ir.Message("assistant", [ir.ThinkingPart("", signature="VEFJTA==")]),
        ],
        tools=[ir.ToolDef("read", "Read a file", schema), ir.ToolDef("noargs")],
        tool_choice=ir.ToolChoice("required"),
        reasoning=ir.Reasoning(effort="high"),
        response_format=ir.ResponseFormat("json_schema", schema=schema),
        stop=["END"],
        seed=7,
    )


def test_render_request_from_foreign_ir() -> None:
    out = gm.render_request(_foreign_request())
    assert out["systemInstruction"] == {"parts": [{"text": "sys one"}, {"text": "sys two"}]}
    user, model, result, tail = out["contents"]
    assert user["parts"][1] == {
        "fileData": {"fileUri": "https://x.test/cat.jpg", "mimeType": "image/jpeg"}
    }
    # Redacted thinking is left out; a thought with text keeps its signature.
    assert model["parts"][0] == {
        "text": "I should read it.",
        "thought": True,
        "thoughtSignature": "U0lHMQ==",
    }
    assert model["parts"][1] == {"text": "Reading."}
    assert model["parts"][2]["thoughtSignature"] == "VENT"
    assert model["parts"][2]["functionCall"] == {
        "id": "toolu_1",
        "name": "read",
        "args": {"path": "/a"},
    }
    assert result["parts"][0]["functionResponse"] == {
        "id": "toolu_1",
        "name": "read",
        "response": {"error": "contents"},
    }
    # A signature with nothing after it rides an empty text part.
    assert tail == {"role": "model", "parts": [{"text": "", "thoughtSignature": "VEFJTA=="}]}
    decl, noargs = out["tools"][0]["functionDeclarations"]
    params = decl["parameters"]
    assert "$schema" not in params and "additionalProperties" not in params
    assert params["required"] == ["path"]
    assert params["properties"]["path"] == {"type": "string"}
    assert params["properties"]["mode"] == {"enum": ["fast"], "type": "string"}
    assert params["properties"]["opts"] == {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
    }
    assert params["properties"]["tags"] == {
        "type": "array",
        "items": {"type": "string"},
        "nullable": True,
    }
    assert noargs == {"name": "noargs"}
    assert out["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    gen = out["generationConfig"]
    # An effort from another format asks Gemini for thought summaries.
    assert gen["thinkingConfig"] == {"thinkingBudget": 24576, "includeThoughts": True}
    assert gen["responseMimeType"] == "application/json"
    assert gen["responseSchema"] == params
    assert (gen["stopSequences"], gen["seed"]) == (["END"], 7)
    types.GenerationConfig.model_validate(gen)
    for content in out["contents"]:
        types.Content.model_validate(content)


@pytest.mark.parametrize(
    ("reasoning", "expected"),
    [
        (ir.Reasoning(enabled=False), {"thinkingBudget": 0}),
        (ir.Reasoning(effort="none"), {"thinkingBudget": 0}),
        (ir.Reasoning(budget_tokens=0), {"thinkingBudget": 0}),
        (ir.Reasoning(enabled=True), {"thinkingBudget": -1, "includeThoughts": True}),
        (
            ir.Reasoning(budget_tokens=3000, include_thoughts=False),
            {"thinkingBudget": 3000, "includeThoughts": False},
        ),
        (ir.Reasoning(effort="low"), {"thinkingBudget": 4096, "includeThoughts": True}),
        # What an Anthropic client's thinking {type: enabled, budget_tokens: N} parses to
        # before (include_thoughts None) and after (True) the Anthropic parser says so.
        (
            ir.Reasoning(enabled=True, budget_tokens=1024),
            {"thinkingBudget": 1024, "includeThoughts": True},
        ),
        (
            ir.Reasoning(enabled=True, budget_tokens=1024, include_thoughts=True),
            {"thinkingBudget": 1024, "includeThoughts": True},
        ),
        (
            ir.Reasoning(enabled=True, include_thoughts=False),
            {"thinkingBudget": -1, "includeThoughts": False},
        ),
    ],
)
def test_reasoning_to_thinking_config(reasoning: ir.Reasoning, expected: dict[str, Any]) -> None:
    req = ir.Request("m", [ir.Message("user", [ir.TextPart("x")])], reasoning=reasoning)
    assert gm.render_request(req)["generationConfig"]["thinkingConfig"] == expected


def test_thinking_level_kept_for_gemini_clients() -> None:
    body = {
        "contents": [{"parts": [{"text": "x"}]}],
        "generationConfig": {"thinkingConfig": {"thinkingLevel": "HIGH"}},
    }
    req = gm.parse_request(body)
    # Without includeThoughts Gemini sends no thought summaries: False, not None.
    assert req.reasoning == ir.Reasoning(effort="high", include_thoughts=False)
    assert gm.render_request(req)["generationConfig"]["thinkingConfig"] == {
        "thinkingLevel": "HIGH",
        "includeThoughts": False,
    }


def test_tool_config_modes() -> None:
    def choice(fcc: dict[str, Any]) -> tuple[ir.ToolChoice | None, dict[str, Any]]:
        req = gm.parse_request(
            {"contents": [{"parts": [{"text": "x"}]}], "toolConfig": {"functionCallingConfig": fcc}}
        )
        return req.tool_choice, gm.render_request(req).get("toolConfig", {})

    assert choice({"mode": "NONE"}) == (
        ir.ToolChoice("none"),
        {"functionCallingConfig": {"mode": "NONE"}},
    )
    many = {"mode": "ANY", "allowedFunctionNames": ["a", "b"]}
    assert choice(many) == (ir.ToolChoice("required"), {"functionCallingConfig": many})
    validated = {"mode": "VALIDATED"}
    assert choice(validated) == (ir.ToolChoice("auto"), {"functionCallingConfig": validated})


def test_clean_schema_handles_recursion_and_any_of() -> None:
    schema = {
        "type": "object",
        "properties": {
            "node": {"$ref": "#/definitions/Node"},
            "maybe": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "pick": {"oneOf": [{"type": "string"}, {"type": "number"}]},
            "both": {"allOf": [{"properties": {"a": {"type": "string"}}}, {"required": ["a"]}]},
            "num": {"type": "integer", "enum": [1, 2]},
        },
        "definitions": {
            "Node": {"type": "object", "properties": {"next": {"$ref": "#/definitions/Node"}}}
        },
    }
    out = clean_gemini_schema(schema)
    depth, node = 0, out["properties"]["node"]
    while "properties" in node:
        node, depth = node["properties"]["next"], depth + 1
    assert node == {"type": "object"} and depth >= 5
    assert out["properties"]["maybe"] == {"nullable": True, "type": "integer"}
    assert out["properties"]["pick"] == {"anyOf": [{"type": "string"}, {"type": "number"}]}
    assert out["properties"]["both"] == {"properties": {"a": {"type": "string"}}, "required": ["a"]}
    assert out["properties"]["num"] == {"type": "integer"}
    assert "definitions" not in out


# ----------------------------------------------------------------- responses


def test_parse_response_text() -> None:
    resp = gm.parse_response(load("response_text.json"))
    assert resp.id == "Mb0kaK2xLbWQmNAPwNS9sQs" and resp.model == "gemini-2.0-flash"
    (text,) = resp.parts
    assert isinstance(text, ir.TextPart) and text.text.startswith("AI learns patterns")
    assert text.text.endswith("predictions on new data.")
    assert resp.stop_reason == "end_turn"
    assert resp.usage == ir.Usage(input_tokens=8, output_tokens=18)


def test_parse_response_tool_calls() -> None:
    body = load("response_tool_call.json")
    resp = gm.parse_response(body)
    sig, boston, paris = resp.parts
    assert (
        isinstance(sig, ir.ThinkingPart)
        and sig.signature == body["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
    )
    assert isinstance(boston, ir.ToolCallPart) and isinstance(paris, ir.ToolCallPart)
    assert (boston.name, json.loads(paris.arguments)) == (
        "get_current_weather",
        {"location": "Paris, France"},
    )
    assert boston.id != paris.id and gm.parse_response(body).parts[1].id == boston.id  # type: ignore[union-attr]
    assert resp.stop_reason == "tool_use"
    assert resp.usage == ir.Usage(input_tokens=71, output_tokens=112, reasoning_tokens=78)


def test_parse_response_thinking() -> None:
    resp = gm.parse_response(load("response_thinking.json"))
    thought, sig, text = resp.parts
    assert isinstance(thought, ir.ThinkingPart) and thought.text.startswith("**Analyzing")
    assert isinstance(sig, ir.ThinkingPart) and sig.text == "" and sig.signature
    assert text == ir.TextPart("A piano: it has keys but can't open a lock.")
    assert resp.usage == ir.Usage(14, 357, cached_input_tokens=4, reasoning_tokens=344)


def test_parse_response_blocked_prompt_and_safety() -> None:
    blocked = gm.parse_response(
        {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 3}}
    )
    assert blocked.parts == [] and blocked.stop_reason == "content_filter"
    assert blocked.usage.input_tokens == 3
    recitation = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "x"}]}, "finishReason": "RECITATION"}
        ]
    }
    resp = gm.parse_response(recitation)
    assert resp.stop_reason == "content_filter"
    assert gm.render_response(resp)["candidates"][0]["finishReason"] == "RECITATION"
    with pytest.raises(errors.UpstreamProtocolError):
        gm.parse_response(
            {"candidates": [{"content": {"parts": [{"functionCall": {"args": {}}}]}}]}
        )


@pytest.mark.parametrize(
    "name", ["response_text.json", "response_tool_call.json", "response_thinking.json"]
)
def test_render_response_is_sdk_valid_and_faithful(name: str) -> None:
    body = load(name)
    out = gm.render_response(gm.parse_response(body))
    sdk = sdk_response(out)
    assert sdk.response_id == body["responseId"] and sdk.model_version == body["modelVersion"]
    original = body["candidates"][0]["content"]["parts"]
    rendered = out["candidates"][0]["content"]["parts"]
    strip_ids = [
        {
            k: ({kk: vv for kk, vv in v.items() if kk != "id"} if k == "functionCall" else v)
            for k, v in p.items()
        }
        for p in rendered
    ]
    # Same parts; signatures wrapped for the client, and unwrapped when it
    # sends them back.
    assert strip_ids == with_wrapped_signatures(original)
    originals = [p["thoughtSignature"] for p in original if "thoughtSignature" in p]
    assert signatures(client_sends_back(rendered)) == originals
    assert out["candidates"][0]["finishReason"] == "STOP"
    usage = body["usageMetadata"]
    for key in (
        "promptTokenCount",
        "candidatesTokenCount",
        "thoughtsTokenCount",
        "cachedContentTokenCount",
    ):
        assert out["usageMetadata"].get(key) == usage.get(key)


def test_render_response_from_foreign_ir() -> None:
    resp = ir.Response(
        id="msg_01XFDUDYJgAACzvnptvVoYEL",
        model="claude-sonnet-4-5",
        parts=[
            ir.ThinkingPart("Let me check.", signature="RXJTaWc="),
            ir.ThinkingPart("", signature="QUJD", redacted=True),
            ir.TextPart("Checking."),
            ir.ToolCallPart("toolu_01A", "get_weather", '{"city": "Paris"'),  # truncated JSON
        ],
        stop_reason="tool_use",
        usage=ir.Usage(
            input_tokens=10, output_tokens=30, reasoning_tokens=12, cache_creation_tokens=5
        ),
    )
    out = gm.render_response(resp)
    sdk = sdk_response(out)
    parts = out["candidates"][0]["content"]["parts"]
    assert parts[0] == {
        "text": "Let me check.",
        "thought": True,
        "thoughtSignature": wrapped("RXJTaWc="),
    }
    assert signatures(client_sends_back(parts)) == ["RXJTaWc="]
    assert parts[2]["functionCall"] == {
        "id": "toolu_01A",
        "name": "get_weather",
        "args": {"city": "Paris"},
    }
    assert out["usageMetadata"] == {
        "promptTokenCount": 10,
        "candidatesTokenCount": 18,
        "totalTokenCount": 40,
        "thoughtsTokenCount": 12,
    }
    assert sdk.function_calls is not None and sdk.function_calls[0].id == "toolu_01A"
    back = gm.parse_response(out)
    assert back.stop_reason == "tool_use" and back.usage.output_tokens == 30


# -------------------------------------------------------------------- streams


def test_decode_text_stream() -> None:
    events = decode_stream((FIXTURES / "stream_text.sse").read_bytes())
    assert isinstance(events[0], ir.MessageStart) and events[0].id == "uu4maLO2B8ucmNAP0pqx2Ag"
    got = collect(events)
    assert got["text"] == "The quick brown fox jumps over the lazy dog."
    assert got["stop"] == "end_turn"
    assert sum(isinstance(e, ir.BlockStart) for e in events) == 1
    deltas = [e for e in events if isinstance(e, ir.MessageDelta)]
    assert deltas[-1].usage == ir.Usage(input_tokens=9, output_tokens=11)
    assert isinstance(events[-1], ir.MessageStop)


def test_decode_tool_call_stream() -> None:
    events = decode_stream((FIXTURES / "stream_tool_call.sse").read_bytes())
    got = collect(events)
    assert [(n, a) for _, n, a in got["calls"]] == [
        ("get_current_weather", {"location": "Boston, MA", "unit": "fahrenheit"}),
        ("get_time", {"timezone": "America/New_York"}),
    ]
    assert got["sigs"] == [
        "Co8BDjh2EgA7VDt9IPrUhMy3X2P53PBsFSoec+bb2effHvW02bRFgoUQ9GelCc6QWQVxQpFDLA=="
    ]
    kinds = [e.kind for e in events if isinstance(e, ir.BlockStart)]
    assert kinds == ["thinking", "tool_call", "tool_call"]
    assert got["stop"] == "tool_use"
    usage = [e.usage for e in events if isinstance(e, ir.MessageDelta)][-1]
    assert usage == ir.Usage(input_tokens=52, output_tokens=88, reasoning_tokens=61)


def test_decode_thinking_stream() -> None:
    events = decode_stream((FIXTURES / "stream_thinking.sse").read_bytes())
    got = collect(events)
    assert got["thinking"] == "**Weighing the options**\n\nA short poem about rain should be calm."
    assert got["text"] == "Soft rain on the roof, a hush across the town."
    assert got["sigs"] == [
        "Co8Bjlia1hpwpt/ikEU7zYanJ0vhNgtcqBQo3ptWy6LI3BRhQ2UjMwbXIFZHEusKhG3Px+8IWQ=="
    ]
    kinds = [e.kind for e in events if isinstance(e, ir.BlockStart)]
    assert kinds == ["thinking", "text", "thinking"]


def test_decode_error_stream() -> None:
    events = decode_stream((FIXTURES / "stream_error.sse").read_bytes())
    assert isinstance(events[-1], ir.StreamError)
    assert events[-1].error.status == 503 and events[-1].error.kind == "overloaded"
    assert not any(isinstance(e, ir.MessageStop) for e in events)


def test_decoder_edge_cases() -> None:
    dec = gm.StreamDecoder()
    with pytest.raises(errors.UpstreamProtocolError):
        dec.feed(None, "{not json")
    assert dec.feed(None, "") == []
    # An array of chunks (the non-SSE streaming form) and unknown fields.
    chunk = {
        "candidates": [{"content": {"parts": [{"text": "a", "weird": 1}, {"videoMetadata": {}}]}}],
        "extra": True,
    }
    events = dec.feed(None, json.dumps([chunk, chunk]))
    assert collect(events)["text"] == "aa"
    tail = dec.close()
    assert isinstance(tail[-1], ir.MessageStop) and dec.close() == []
    named = gm.StreamDecoder().feed(
        None, json.dumps({"error": {"status": "RESOURCE_EXHAUSTED", "message": "slow down"}})
    )
    assert named == [ir.StreamError(ir.ErrorInfo(429, "rate_limit", "slow down"))]


@pytest.mark.parametrize("name", ["stream_text.sse", "stream_tool_call.sse", "stream_thinking.sse"])
def test_reencode_fixture_stream_is_sdk_valid(name: str) -> None:
    events = decode_stream((FIXTURES / name).read_bytes())
    raw = encode(events)
    chunks = chunks_of(raw)
    for chunk in chunks:
        sdk_response(chunk)
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert "usageMetadata" in chunks[-1]
    again = decode_stream(raw)  # as an upstream stream: signatures stay wrapped
    expected = collect(events)
    assert collect(again) == expected | {"sigs": [wrapped(s) for s in expected["sigs"]]}
    parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
    assert signatures(client_sends_back(parts)) == expected["sigs"]


def test_encoder_places_signatures_as_gemini_expects() -> None:
    events: list[ir.Event] = [
        ir.MessageStart("msg_1", "claude"),
        ir.BlockStart(0, "thinking"),
        ir.ThinkingDelta(0, "hmm"),
        ir.SignatureDelta(0, "U0lHQQ=="),
        ir.BlockStop(0),
        ir.BlockStart(1, "thinking"),
        ir.SignatureDelta(1, "U0lHQg=="),
        ir.BlockStop(1),
        ir.BlockStart(2, "tool_call", id="toolu_9", name="ls"),
        ir.ToolArgsDelta(2, '{"dir":'),
        ir.ToolArgsDelta(2, '"/"}'),
        ir.BlockStop(2),
        ir.MessageDelta("tool_use", usage=ir.Usage(5, 7)),
        ir.MessageStop(),
    ]
    chunks = chunks_of(encode(events))
    parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
    assert parts[0] == {"text": "hmm", "thought": True}
    assert parts[1] == {"text": "", "thought": True, "thoughtSignature": wrapped("U0lHQQ==")}
    assert parts[2] == {
        "functionCall": {"id": "toolu_9", "name": "ls", "args": {"dir": "/"}},
        "thoughtSignature": wrapped("U0lHQg=="),
    }
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] == 7
    got = collect(decode_stream(encode(events)))
    assert got["sigs"] == [wrapped("U0lHQQ=="), wrapped("U0lHQg==")] and got["thinking"] == "hmm"
    assert signatures(client_sends_back(parts)) == ["U0lHQQ==", "U0lHQg=="]
    assert got["calls"] == [("toolu_9", "ls", {"dir": "/"})]


def test_encoder_completes_sparse_streams_and_stops_after_error() -> None:
    sparse: list[ir.Event] = [
        ir.BlockStart(0, "text"),
        ir.TextDelta(0, "hello world"),
        ir.BlockStart(1, "tool_call", id="c1", name="f"),
        ir.ToolArgsDelta(1, '{"a":1}'),
        ir.MessageStop(),
        ir.TextDelta(0, "ignored"),
    ]
    chunks = chunks_of(encode(sparse))
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    calls = [
        p for c in chunks for p in c["candidates"][0]["content"]["parts"] if "functionCall" in p
    ]
    assert calls == [{"functionCall": {"id": "c1", "name": "f", "args": {"a": 1}}}]
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] == 5  # 19 chars, estimated
    for chunk in chunks:
        sdk_response(chunk)

    enc = gm.StreamEncoder("m")
    enc.encode(ir.MessageStart("r", "m"))
    enc.encode(ir.BlockStart(0, "text"))
    assert enc.encode(ir.TextDelta(0, "hi"))
    err = enc.encode(ir.StreamError(ir.ErrorInfo(429, "rate_limit", "slow down")))
    assert sse_events(err) == [
        (
            None,
            json.dumps(
                {"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}},
                separators=(",", ":"),
            ),
        )
    ]
    assert enc.encode(ir.MessageStop()) == b"" and enc.encode(ir.TextDelta(0, "x")) == b""


# --------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "kind", "name"),
    [
        (400, "invalid_request", "INVALID_ARGUMENT"),
        (401, "authentication", "UNAUTHENTICATED"),
        (403, "permission", "PERMISSION_DENIED"),
        (404, "not_found", "NOT_FOUND"),
        (429, "rate_limit", "RESOURCE_EXHAUSTED"),
        (500, "api_error", "INTERNAL"),
        (503, "overloaded", "UNAVAILABLE"),
        (504, "timeout", "DEADLINE_EXCEEDED"),
        (418, "invalid_request", "INVALID_ARGUMENT"),
        (529, "overloaded", "UNAVAILABLE"),
        (402, "permission", "PERMISSION_DENIED"),
        (507, "api_error", "INTERNAL"),
    ],
)
def test_render_error(status: int, kind: str, name: str) -> None:
    body = gm.render_error(ir.ErrorInfo(status, kind, "boom"))
    assert body == {"error": {"code": status, "message": "boom", "status": name}}
    assert (
        gm.error_event(ir.ErrorInfo(status, kind, "boom"))
        == b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"
    )


def test_parse_error_fixture_and_junk() -> None:
    info = gm.parse_error(429, (FIXTURES / "error.json").read_bytes())
    assert (info.status, info.kind, info.retry_after) == (429, "rate_limit", 23.0)
    assert info.message.startswith("You exceeded your current quota")
    listed = gm.parse_error(
        400,
        json.dumps(
            [
                {
                    "error": {
                        "code": 400,
                        "message": "API key not valid. AIzaSyA1234567890abcdefghijklmnopqrstu",
                    }
                }
            ]
        ).encode(),
    )
    assert listed.kind == "invalid_request" and "AIza" not in listed.message
    html = gm.parse_error(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>")
    assert html.message == "502 Bad Gateway" and html.kind == "api_error"
    assert gm.parse_error(500, b"").message == "Gemini upstream returned HTTP 500"


def test_model_list_entry_parses_with_the_sdk() -> None:
    entry = gm.model_list_entry("gemini-2.5-pro", input_token_limit=1000, output_token_limit=10)
    model = types.Model._from_response(response=genai_models._Model_from_mldev(entry), kwargs={})
    assert model.name == "models/gemini-2.5-pro"
    assert model.supported_actions == ["generateContent", "streamGenerateContent", "countTokens"]
    assert (model.input_token_limit, model.output_token_limit) == (1000, 10)


def test_encoder_merges_usage_reports_and_decoder_sees_blocked_prompt() -> None:
    events: list[ir.Event] = [
        ir.MessageStart("msg_1", "claude", usage=ir.Usage(input_tokens=40)),
        ir.BlockStart(0, "text"),
        ir.TextDelta(0, "hi"),
        ir.BlockStop(0),
        ir.MessageDelta("end_turn", usage=ir.Usage(output_tokens=3)),  # no prompt count here
        ir.MessageStop(),
    ]
    last = chunks_of(encode(events))[-1]
    assert last["usageMetadata"] == {
        "promptTokenCount": 40,
        "candidatesTokenCount": 3,
        "totalTokenCount": 43,
    }
    blocked = b'data: {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}\n\n'
    assert collect(decode_stream(blocked))["stop"] == "content_filter"

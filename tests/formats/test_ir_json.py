"""The canonical request form (one per question, whatever the dialect) and
the stored answer's JSON round trip."""

from __future__ import annotations

import json
from typing import Any

from omniroute.formats import ir
from omniroute.formats.ir_json import (
    asks_unkeepable,
    canonical_request,
    response_from_json,
    response_to_json,
)
from omniroute.formats.wire import wire_format

SCHEMA = {"type": "object", "properties": {"cache": {"type": "string"}}}


def form(dialect: str, body: dict[str, Any]) -> dict[str, Any]:
    return canonical_request(wire_format(dialect).parse_request(body), "asked/model")


def test_the_same_question_in_four_dialects_has_one_form() -> None:
    forms = [
        form(
            "openai",
            {
                "model": "x",
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "hi"},
                ],
                "temperature": 0,
                "max_tokens": 50,
                "stream": True,
                "stream_options": {"include_usage": True},
                "user": "someone",
                "store": True,
            },
        ),
        form(
            "anthropic",
            {
                "model": "y",
                "system": [
                    {"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}
                ],
                "messages": [{"role": "user", "content": "hi"}],
                "temperature": 0.0,
                "max_tokens": 50,
                "metadata": {"user_id": "u"},
            },
        ),
        form(
            "openai-responses",
            {
                "model": "z",
                "instructions": "be brief",
                "input": "hi",
                "temperature": 0,
                "max_output_tokens": 50,
                "store": False,
                "prompt_cache_key": "abc",
            },
        ),
        form(
            "gemini",
            {
                "systemInstruction": {"parts": [{"text": "be brief"}]},
                "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
                "generationConfig": {"temperature": 0, "maxOutputTokens": 50},
            },
        ),
    ]
    assert all(f == forms[0] for f in forms[1:])
    assert forms[0]["model"] == "asked/model"


def test_what_changes_the_answer_changes_the_form() -> None:
    base = {"model": "x", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}
    first = form("openai", base)
    assert form("openai", {**base, "presence_penalty": 0.5}) != first
    assert form("openai", {**base, "stop": ["\n"]}) != first
    assert form("openai", {**base, "temperature": 0, "top_p": 0.5}) != first


def test_a_schema_property_named_cache_is_kept() -> None:
    def tools(schema: dict[str, Any]) -> dict[str, Any]:
        tool = {"type": "function", "function": {"name": "f", "parameters": schema}}
        return {"model": "x", "messages": [{"role": "user", "content": "hi"}], "tools": [tool]}

    plain = {"type": "object", "properties": {}}
    assert form("openai", tools(SCHEMA)) != form("openai", tools(plain))


def test_log_probabilities_cannot_be_kept() -> None:
    req = wire_format("openai").parse_request(
        {"model": "x", "messages": [{"role": "user", "content": "hi"}], "logprobs": True}
    )
    assert asks_unkeepable(req)


def test_an_answer_round_trips_through_json() -> None:
    answer = ir.Response(
        id="ignored",
        model="m1",
        parts=[
            ir.ThinkingPart("let me see", signature="sig", id="rs_1"),
            ir.TextPart("four"),
            ir.ToolCallPart("call_1", "add", '{"a":2}'),
        ],
        stop_reason="tool_use",
        usage=ir.Usage(input_tokens=10, output_tokens=4, reasoning_tokens=2),
    )
    back = response_from_json(json.loads(response_to_json(answer)))
    assert back.parts == answer.parts
    assert (back.model, back.stop_reason, back.usage) == ("m1", "tool_use", answer.usage)
    assert back.id == ""

"""Structured output: JSON-schema answers requested in one dialect
and served by an upstream of another.

Gemini gets ``responseMimeType: application/json`` plus the schema, either
as ``responseSchema`` (an OpenAPI subset: no ``additionalProperties``,
``$schema``, ``$ref``/``$defs``, per the Schema reference) or as
``responseJsonSchema``. Anthropic has no response_format field: the gateway
states the schema as an instruction.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest
from google.genai import types as gtypes

from tests.e2e.conftest import (
    Env,
    Upstream,
    chat_call,
    content_text,
    gemini_call,
    responses_call,
    responses_input,
    same_schema,
)
from tests.support.mock_upstream import Json, anthropic_json, gemini_json, openai_chat_json

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

PROMPT = "Give me one mathematician as JSON."
SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "age", "tags"],
    "additionalProperties": False,
}
ANSWER = {"name": "Ada Lovelace", "age": 36, "tags": ["math", "computing"]}
ANSWER_TEXT = json.dumps(ANSWER)
# Keywords of JSON Schema that Gemini's responseSchema (OpenAPI 3 subset) lacks.
NOT_IN_GEMINI_SCHEMA = {
    "$schema",
    "additionalProperties",
    "$ref",
    "$defs",
    "definitions",
    "$id",
    "strict",
}


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def _keys(schema: Any) -> set[str]:
    """Every key used anywhere in a schema (property names excluded)."""
    found: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            found.add(key)
            if key == "properties" and isinstance(value, dict):
                for sub in value.values():
                    found |= _keys(sub)
            else:
                found |= _keys(value)
    elif isinstance(schema, list):
        for item in schema:
            found |= _keys(item)
    return found


def _gemini_schema(up: Upstream, body: dict[str, Any]) -> dict[str, Any]:
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    if "responseJsonSchema" in config:
        schema: dict[str, Any] = config["responseJsonSchema"]
        assert "$schema" not in schema
        return schema
    schema = config["responseSchema"]
    assert not (_keys(schema) & NOT_IN_GEMINI_SCHEMA), _keys(schema) & NOT_IN_GEMINI_SCHEMA
    return schema


def _expected_without_unsupported() -> dict[str, Any]:
    return {k: v for k, v in SCHEMA.items() if k not in NOT_IN_GEMINI_SCHEMA}


async def test_chat_json_schema_to_gemini(env: Env) -> None:
    up = env.upstreams["gemini"]
    env.serve(up, False, Json(gemini_json(ANSWER_TEXT, up.model)))
    out = await chat_call(
        env,
        up.model_string,
        False,
        [{"role": "user", "content": PROMPT}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "person", "strict": True, "schema": SCHEMA},
        },
    )
    assert json.loads(out.text) == ANSWER
    schema = _gemini_schema(up, env.last_request(up).json())
    assert same_schema(schema, _expected_without_unsupported())


async def test_chat_json_object_to_gemini(env: Env) -> None:
    up = env.upstreams["gemini"]
    env.serve(up, False, Json(gemini_json(ANSWER_TEXT, up.model)))
    out = await chat_call(
        env,
        up.model_string,
        False,
        [{"role": "user", "content": PROMPT + " Reply in JSON."}],
        response_format={"type": "json_object"},
    )
    assert json.loads(out.text) == ANSWER
    config = env.last_request(up).json()["generationConfig"]
    assert config["responseMimeType"] == "application/json"


class Author(pydantic.BaseModel):
    name: str
    born: int


class Book(pydantic.BaseModel):
    title: str
    author: Author  # pydantic emits a $defs entry and a $ref for this


async def test_sdk_parse_with_nested_pydantic_model_through_gemini(env: Env) -> None:
    """``chat.completions.parse`` sends a strict schema with $defs/$ref,
    which Gemini's responseSchema cannot hold: it must be inlined."""
    up = env.upstreams["gemini"]
    book = {"title": "Notes", "author": {"name": "Ada", "born": 1815}}
    env.serve(up, False, Json(gemini_json(json.dumps(book), up.model)))
    resp = await env.openai.chat.completions.parse(
        model=up.model_string,
        messages=[{"role": "user", "content": "A book, please."}],
        response_format=Book,
    )
    parsed = resp.choices[0].message.parsed
    assert parsed == Book.model_validate(book)
    schema = _gemini_schema(up, env.last_request(up).json())
    author = schema["properties"]["author"]
    if "$ref" not in _keys(schema):  # inlined (or a JSON schema Gemini resolves itself)
        assert set(author["properties"]) == {"name", "born"}


async def test_responses_text_format_to_gemini(env: Env) -> None:
    up = env.upstreams["gemini"]
    env.serve(up, False, Json(gemini_json(ANSWER_TEXT, up.model)))
    out = await responses_call(
        env,
        up.model_string,
        False,
        responses_input(PROMPT),
        text={
            "format": {"type": "json_schema", "name": "person", "strict": True, "schema": SCHEMA}
        },
    )
    assert json.loads(out.text) == ANSWER
    schema = _gemini_schema(up, env.last_request(up).json())
    assert same_schema(schema, _expected_without_unsupported())


async def test_chat_json_schema_to_anthropic_becomes_an_instruction(env: Env) -> None:
    up = env.upstreams["anthropic"]
    env.serve(up, False, Json(anthropic_json(ANSWER_TEXT, up.model)))
    out = await chat_call(
        env,
        up.model_string,
        False,
        [{"role": "system", "content": "Be precise."}, {"role": "user", "content": PROMPT}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "person", "strict": True, "schema": SCHEMA},
        },
    )
    assert json.loads(out.text) == ANSWER
    body = env.last_request(up).json()
    assert "response_format" not in body  # not an Anthropic field
    system = content_text(body.get("system"))
    assert "Be precise." in system  # the caller's own instruction is kept
    assert "json" in system.lower()
    for name in SCHEMA["properties"]:
        assert f'"{name}"' in system, f"property {name!r} missing from the instruction"
    last = body["messages"][-1]
    assert last["role"] == "user" and PROMPT in content_text(last["content"])


async def test_gemini_response_json_schema_to_openai(env: Env) -> None:
    up = env.upstreams["openai"]
    env.serve(up, False, Json(openai_chat_json(ANSWER_TEXT, up.model)))
    plain = _expected_without_unsupported()
    config = gtypes.GenerateContentConfig(
        response_mime_type="application/json", response_json_schema=plain
    )
    out = await gemini_call(env, up.model_string, False, PROMPT, config)
    assert json.loads(out.text) == ANSWER
    fmt = env.last_request(up).json()["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"]
    assert same_schema(fmt["json_schema"]["schema"], plain)

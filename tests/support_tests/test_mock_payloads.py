"""The canned payloads are what the official SDKs expect: each SDK parses them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import anthropic
import openai
import pytest
from anthropic.types import MessageParam
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types
from openai.types.chat import ChatCompletionMessageParam

from tests.support.mock_upstream import (
    Json,
    MockUpstream,
    Sse,
    Usage,
    anthropic_error,
    anthropic_error_event,
    anthropic_json,
    anthropic_sse,
    gemini_error,
    gemini_json,
    gemini_sse,
    openai_chat_json,
    openai_chat_sse,
    openai_error,
    responses_error_event,
    responses_json,
    responses_sse,
)

pytestmark = pytest.mark.anyio

CALL = ("call_1", "get_weather", '{"city":"Lisbon","unit":"c"}')
USAGE = Usage(input=20, output=9, cached=4, reasoning=3)


@pytest.fixture
async def up() -> AsyncIterator[MockUpstream]:
    async with MockUpstream() as server:
        yield server


def openai_client(up: MockUpstream) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=up.url + "/v1", api_key="sk-test", max_retries=0)


def anthropic_client(up: MockUpstream) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=up.url, api_key="sk-ant-test", max_retries=0)


def gemini_client(up: MockUpstream) -> genai.Client:
    options = genai_types.HttpOptions(base_url=up.url, api_version="v1beta")
    return genai.Client(api_key="g-test", http_options=options)


OPENAI_USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
CLAUDE_USER: list[MessageParam] = [{"role": "user", "content": "hi"}]


def parts_of(reply: genai_types.GenerateContentResponse) -> list[genai_types.Part]:
    assert reply.candidates and reply.candidates[0].content
    return list(reply.candidates[0].content.parts or [])


# -- OpenAI Chat Completions ---------------------------------------------------


async def test_openai_chat_json_with_tool_call(up: MockUpstream) -> None:
    up.route("POST", "/v1/chat/completions", Json(openai_chat_json("Sure.", "gpt-x", CALL, USAGE)))
    async with openai_client(up) as client:
        done = await client.chat.completions.create(model="gpt-x", messages=OPENAI_USER)
    choice = done.choices[0]
    assert choice.message.content == "Sure."
    assert choice.finish_reason == "tool_calls"
    [call] = [c.model_dump() for c in choice.message.tool_calls or []]
    assert call["id"] == "call_1" and call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Lisbon", "unit": "c"}
    assert done.usage is not None and done.usage.total_tokens == 29
    assert done.usage.model_dump()["prompt_tokens_details"]["cached_tokens"] == 4


async def test_openai_chat_sse_accumulates(up: MockUpstream) -> None:
    events = openai_chat_sse(["Hel", "lo"], "gpt-x", CALL, usage=USAGE)
    up.route("POST", "/v1/chat/completions", Sse(events))
    async with openai_client(up) as client:
        stream = await client.chat.completions.create(
            model="gpt-x", messages=OPENAI_USER, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    args = "".join(
        tc.function.arguments or ""
        for c in chunks
        if c.choices
        for tc in c.choices[0].delta.tool_calls or []
        if tc.function
    )
    assert text == "Hello"
    assert json.loads(args) == {"city": "Lisbon", "unit": "c"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 9
    assert events[-1] == "data: [DONE]\n\n"


async def test_openai_chat_sse_without_usage(up: MockUpstream) -> None:
    events = openai_chat_sse(["a"], "gpt-x", include_usage=False)
    assert all("usage" not in e for e in events if isinstance(e, dict))
    up.route("POST", "/v1/chat/completions", Sse(events))
    async with openai_client(up) as client:
        stream = await client.chat.completions.create(
            model="gpt-x", messages=OPENAI_USER, stream=True
        )
        chunks = [chunk async for chunk in stream]
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_openai_error_body(up: MockUpstream) -> None:
    body = openai_error("Rate limit reached", "rate_limit_error", "rate_limit_exceeded")
    up.route("POST", "/v1/chat/completions", Json(body, status=429))
    async with openai_client(up) as client:
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="gpt-x", messages=OPENAI_USER)
    assert caught.value.code == "rate_limit_exceeded"
    assert "Rate limit reached" in caught.value.message


# -- Anthropic Messages --------------------------------------------------------


async def test_anthropic_json_with_thinking_and_tool(up: MockUpstream) -> None:
    body = anthropic_json("Checking.", "claude-x", CALL, ("Let me think.", "sig-abc"), USAGE)
    up.route("POST", "/v1/messages", Json(body))
    async with anthropic_client(up) as client:
        msg = await client.messages.create(model="claude-x", max_tokens=100, messages=CLAUDE_USER)
    thinking, text, tool = (block.model_dump() for block in msg.content)
    assert (thinking["type"], thinking["signature"]) == ("thinking", "sig-abc")
    assert (text["type"], text["text"]) == ("text", "Checking.")
    assert (tool["type"], tool["input"]) == ("tool_use", {"city": "Lisbon", "unit": "c"})
    assert msg.stop_reason == "tool_use"
    assert msg.usage.cache_read_input_tokens == 4
    assert msg.usage.input_tokens + 4 == 20


async def test_anthropic_sse_full_sequence(up: MockUpstream) -> None:
    events = anthropic_sse(["Hel", "lo"], "claude-x", CALL, ("Hmm, ok.", "sig-xyz"), USAGE)
    up.route("POST", "/v1/messages", Sse(events))
    async with (
        anthropic_client(up) as client,
        client.messages.stream(model="claude-x", max_tokens=100, messages=CLAUDE_USER) as stream,
    ):
        final = await stream.get_final_message()
    thinking, text, tool = final.content
    assert thinking.type == "thinking" and thinking.thinking == "Hmm, ok."
    assert thinking.signature == "sig-xyz"
    assert text.type == "text" and text.text == "Hello"
    assert tool.type == "tool_use" and tool.input == {"city": "Lisbon", "unit": "c"}
    assert final.stop_reason == "tool_use"
    assert final.usage.output_tokens == 9
    names = [str(e).split("\n", 1)[0] for e in events]
    assert names[:2] == ["event: message_start", "event: ping"]
    assert names[-2:] == ["event: message_delta", "event: message_stop"]


async def test_anthropic_error_body_and_stream_error(up: MockUpstream) -> None:
    up.enqueue(
        "POST", "/v1/messages", Json(anthropic_error("Overloaded", "overloaded_error"), status=529)
    )
    up.route(
        "POST",
        "/v1/messages",
        Sse([*anthropic_sse([], "claude-x")[:2], anthropic_error_event("Overloaded")]),
    )
    async with anthropic_client(up) as client:
        with pytest.raises(anthropic.APIStatusError) as caught:
            await client.messages.create(model="claude-x", max_tokens=1, messages=CLAUDE_USER)
        assert caught.value.status_code == 529
        assert caught.value.body == {
            "type": "error",
            "error": {"type": "overloaded_error", "message": "Overloaded"},
        }
        with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
            async with client.messages.stream(
                model="claude-x", max_tokens=1, messages=CLAUDE_USER
            ) as stream:
                await stream.get_final_message()


# -- Gemini --------------------------------------------------------------------


async def test_gemini_json_with_thought_and_call(up: MockUpstream) -> None:
    body = gemini_json("Calling.", "gemini-x", CALL, ("Plan.", "c2lnbmF0dXJl"), USAGE)
    up.route("POST", "/v1beta/models/gemini-x:generateContent", Json(body))
    reply = await gemini_client(up).aio.models.generate_content(model="gemini-x", contents="hi")
    parts = parts_of(reply)
    assert parts[0].thought is True and parts[0].text == "Plan."
    assert parts[1].text == "Calling." and parts[1].thought_signature == b"signature"
    assert parts[2].function_call is not None
    assert parts[2].function_call.args == {"city": "Lisbon", "unit": "c"}
    assert reply.usage_metadata is not None
    assert reply.usage_metadata.thoughts_token_count == 3
    assert reply.usage_metadata.total_token_count == 29
    assert up.requests[0].headers["x-goog-api-key"] == "g-test"


async def test_gemini_sse_stream(up: MockUpstream) -> None:
    events = gemini_sse(["Hel", "lo"], "gemini-x", CALL, ("Plan.", "c2ln"), USAGE)
    assert all(isinstance(e, str) and e.endswith("\r\n\r\n") for e in events)
    up.route("POST", "/v1beta/models/gemini-x:streamGenerateContent", Sse(events))
    stream = await gemini_client(up).aio.models.generate_content_stream(
        model="gemini-x", contents="hi"
    )
    chunks = [chunk async for chunk in stream]
    assert up.requests[0].query.get("alt") == "sse"
    parts = [p for c in chunks for p in parts_of(c)]
    assert "".join(p.text or "" for p in parts if not p.thought) == "Hello"
    assert [p.thought_signature for p in parts if p.thought_signature] == [b"sig"]
    assert [p.function_call.name for p in parts if p.function_call] == ["get_weather"]
    last = chunks[-1]
    assert last.candidates and last.candidates[0].finish_reason == genai_types.FinishReason.STOP
    assert last.usage_metadata is not None and last.usage_metadata.candidates_token_count == 6


async def test_gemini_error_body(up: MockUpstream) -> None:
    body = gemini_error(429, "Resource has been exhausted", "RESOURCE_EXHAUSTED")
    up.route("POST", "/v1beta/models/gemini-x:generateContent", Json(body, status=429))
    with pytest.raises(genai_errors.ClientError) as caught:
        await gemini_client(up).aio.models.generate_content(model="gemini-x", contents="hi")
    assert caught.value.code == 429
    assert caught.value.status == "RESOURCE_EXHAUSTED"


# -- OpenAI Responses ------------------------------------------------------------


async def test_responses_json(up: MockUpstream) -> None:
    body = responses_json("Done.", "gpt-x", CALL, "Thought briefly.", USAGE)
    up.route("POST", "/v1/responses", Json(body))
    async with openai_client(up) as client:
        resp = await client.responses.create(model="gpt-x", input="hi")
    assert [item.type for item in resp.output] == ["reasoning", "message", "function_call"]
    assert resp.output_text == "Done."
    assert resp.output[2].model_dump()["call_id"] == "call_1"
    assert resp.usage is not None and resp.usage.output_tokens_details.reasoning_tokens == 3


async def test_responses_sse_numbered_and_accumulating(up: MockUpstream) -> None:
    events = responses_sse(["Hel", "lo"], "gpt-x", CALL, "Thought briefly.", USAGE)
    up.route("POST", "/v1/responses", Sse(events))
    async with (
        openai_client(up) as client,
        client.responses.stream(model="gpt-x", input="hi") as stream,
    ):
        seen = [event async for event in stream]
        final = await stream.get_final_response()
    assert [e.sequence_number for e in seen] == list(range(len(events)))
    assert seen[0].type == "response.created" and seen[-1].type == "response.completed"
    assert final.output_text == "Hello"
    assert final.output[0].model_dump()["summary"][0]["text"] == "Thought briefly."
    call = final.output[2].model_dump()
    assert (call["type"], call["arguments"]) == ("function_call", CALL[2])


async def test_responses_stream_error_event(up: MockUpstream) -> None:
    events = [*responses_sse([], "gpt-x")[:1], responses_error_event("boom", sequence_number=1)]
    up.route("POST", "/v1/responses", Sse(events))
    async with openai_client(up) as client:
        stream = await client.responses.create(model="gpt-x", input="hi", stream=True)
        seen = [event async for event in stream]
    assert seen[-1].type == "error"
    assert (seen[-1].message, seen[-1].sequence_number) == ("boom", 1)

"""Multi-turn tool loops through translating paths.

Turn 1: the upstream answers with (thinking and) a tool call. Turn 2: the
client sends back, as its SDK's users do, the assistant content it got plus
the tool's result. What matters is what the upstream receives in turn 2:
its own call ids, names and arguments, paired with the results, and the
opaque reasoning state (Anthropic signature, Gemini thoughtSignature,
Responses encrypted_content) exactly as it issued them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.genai import types as gtypes

from tests.e2e.conftest import (
    PROMPT,
    SIGNATURE,
    TOOL_ARGS,
    TOOL_CALL,
    TOOL_NAME,
    Call,
    Env,
    Outcome,
    Upstream,
    anthropic_call,
    anthropic_tool,
    chat_call,
    chat_tool,
    content_text,
    gemini_call,
    gemini_tool,
    responses_call,
    responses_input,
    responses_tool,
    upstream_reply,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

THOUGHT = "I need the weather tool for Paris."
RESULT = "22 degrees and sunny"
FINAL = "It is 22 degrees and sunny in Paris."
THINKING_ON = {"type": "enabled", "budget_tokens": 1024}
ANTHROPIC_CALL = ("toolu_01A09q90qw90lq917835lq9", TOOL_NAME, json.dumps(TOOL_ARGS))
MODES = [pytest.param(False, id="json"), pytest.param(True, id="stream")]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def _anthropic_history(out: Outcome, call_id: str) -> list[dict[str, Any]]:
    """Turn 2 as Claude Code sends it: the assistant blocks as received
    (thinking with its signature, tool_use), then the tool_result."""
    assistant = [block.model_dump(exclude_none=True) for block in out.raw.content]
    return [
        {"role": "user", "content": PROMPT},
        {"role": "assistant", "content": assistant},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call_id, "content": RESULT}],
        },
    ]


async def _anthropic_thinking_tool_loop(env: Env, up: Upstream, stream: bool) -> Outcome:
    """Both turns from an Anthropic client with thinking on: the upstream
    answers turn 1 with thinking (signed) and TOOL_CALL, turn 2 with FINAL.
    Returns turn 1 as the client got it."""
    env.serve(
        up,
        stream,
        upstream_reply(up, stream, text=None, tool=TOOL_CALL, thinking=(THOUGHT, SIGNATURE)),
    )
    tools = [anthropic_tool()]
    first = await anthropic_call(
        env,
        up.model_string,
        stream,
        [{"role": "user", "content": PROMPT}],
        max_tokens=4096,
        thinking=THINKING_ON,
        tools=tools,
    )
    assert first.reasoning == THOUGHT
    (call,) = first.calls
    assert call.id  # what the tool_result must name

    env.serve(up, stream, upstream_reply(up, stream, text=FINAL))
    second = await anthropic_call(
        env,
        up.model_string,
        stream,
        _anthropic_history(first, call.id),
        max_tokens=4096,
        thinking=THINKING_ON,
        tools=tools,
    )
    assert second.text == FINAL
    return first


def _gemini_result_turn(call: Call) -> gtypes.Content:
    """The tool's result as a Gemini client sends it for ``call``."""
    return gtypes.Content(
        role="user",
        parts=[
            gtypes.Part(
                function_response=gtypes.FunctionResponse(
                    id=call.id, name=TOOL_NAME, response={"result": RESULT}
                )
            )
        ],
    )


async def _gemini_thinking_tool_loop(
    env: Env, up: Upstream, stream: bool, tool: tuple[str, str, str], signature: str
) -> Call:
    """Both turns from a Gemini client with thoughts on: the upstream answers
    turn 1 with thinking (``signature``) and ``tool``, turn 2 with FINAL; the
    client appends the model's parts as received, then the result (as
    Gemini clients do). Returns the call the client got."""
    env.serve(
        up, stream, upstream_reply(up, stream, text=None, tool=tool, thinking=(THOUGHT, signature))
    )
    config = gtypes.GenerateContentConfig(
        tools=[gemini_tool()],
        thinking_config=gtypes.ThinkingConfig(include_thoughts=True, thinking_budget=2048),
    )
    user = gtypes.Content(role="user", parts=[gtypes.Part(text=PROMPT)])
    first = await gemini_call(env, up.model_string, stream, [user], config)
    assert first.reasoning == THOUGHT
    (call,) = first.calls
    assert (call.name, call.args) == (TOOL_NAME, TOOL_ARGS)

    env.serve(up, stream, upstream_reply(up, stream, text=FINAL))
    model_turn = gtypes.Content(role="model", parts=first.parts)
    second = await gemini_call(
        env, up.model_string, stream, [user, model_turn, _gemini_result_turn(call)], config
    )
    assert second.text == FINAL
    return call


# ------------------------------------------------- Anthropic client -> Gemini


@pytest.mark.parametrize("stream", MODES)
async def test_anthropic_client_gemini_upstream_keeps_thought_signature(
    env: Env, stream: bool
) -> None:
    up = env.upstreams["gemini"]
    first = await _anthropic_thinking_tool_loop(env, up, stream)
    (call,) = first.calls
    assert (call.name, call.args) == (TOOL_NAME, TOOL_ARGS) and call.id

    contents = env.last_request(up).json()["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    model_parts = contents[1]["parts"]
    (fc_part,) = [p for p in model_parts if "functionCall" in p]
    assert fc_part["functionCall"]["name"] == TOOL_NAME
    assert fc_part["functionCall"]["args"] == TOOL_ARGS
    # Gemini docs (thought signatures): return the signature in the very part
    # it came with -- here the functionCall part.
    assert fc_part.get("thoughtSignature") == SIGNATURE
    (fr_part,) = contents[2]["parts"]
    response = fr_part["functionResponse"]
    assert response["name"] == TOOL_NAME
    assert RESULT in json.dumps(response["response"])
    if "id" in fc_part["functionCall"]:
        assert response.get("id") == fc_part["functionCall"]["id"]


# -------------------------------------- Anthropic client -> OpenAI Responses


@pytest.mark.parametrize("stream", MODES)
async def test_anthropic_client_responses_upstream_keeps_encrypted_reasoning(
    env: Env, stream: bool
) -> None:
    up = env.upstreams["openai-responses"]
    first = await _anthropic_thinking_tool_loop(env, up, stream)
    assert first.signatures, "the thinking block came back without a signature"
    (call,) = first.calls
    assert call.id == TOOL_CALL[0]

    items = env.last_request(up).json()["input"]
    kinds = [item.get("type", "message") for item in items]
    assert kinds.count("reasoning") == 1, kinds
    reasoning = items[kinds.index("reasoning")]
    assert reasoning["encrypted_content"] == SIGNATURE
    (fc,) = [i for i in items if i.get("type") == "function_call"]
    (result,) = [i for i in items if i.get("type") == "function_call_output"]
    assert fc["call_id"] == TOOL_CALL[0] == result["call_id"]
    assert fc["name"] == TOOL_NAME and json.loads(fc["arguments"]) == TOOL_ARGS
    assert RESULT in content_text(result["output"])
    # The reasoning item precedes the call it led to, the call its output.
    assert kinds.index("reasoning") < items.index(fc) < items.index(result)


async def test_responses_upstream_is_asked_for_encrypted_reasoning(env: Env) -> None:
    """Without ``include: ["reasoning.encrypted_content"]`` (and store off) a
    Responses upstream returns no reasoning state the client could send back."""
    up = env.upstreams["openai-responses"]
    env.serve(up, False, upstream_reply(up, False, thinking=(THOUGHT, SIGNATURE)))
    await anthropic_call(
        env,
        up.model_string,
        False,
        [{"role": "user", "content": PROMPT}],
        max_tokens=4096,
        thinking=THINKING_ON,
    )
    sent = env.last_request(up).json()
    assert "reasoning.encrypted_content" in (sent.get("include") or [])
    assert sent.get("store") is False


# ------------------------------------------------ OpenAI chat -> Anthropic


@pytest.mark.parametrize("stream", MODES)
async def test_chat_client_anthropic_upstream_pairs_tool_ids(env: Env, stream: bool) -> None:
    up = env.upstreams["anthropic"]
    env.serve(up, stream, upstream_reply(up, stream, text=None, tool=ANTHROPIC_CALL))
    messages: list[dict[str, Any]] = [{"role": "user", "content": PROMPT}]
    first = await chat_call(env, up.model_string, stream, messages, tools=[chat_tool()])
    (call,) = first.calls
    assert call.id == ANTHROPIC_CALL[0]

    env.serve(up, stream, upstream_reply(up, stream, text=FINAL))
    messages += [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": json.dumps(call.args)},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": RESULT},
    ]
    second = await chat_call(env, up.model_string, stream, messages, tools=[chat_tool()])
    assert second.text == FINAL

    sent = env.last_request(up).json()["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    (tool_use,) = [b for b in sent[1]["content"] if b["type"] == "tool_use"]
    assert tool_use["id"] == ANTHROPIC_CALL[0]
    assert tool_use["name"] == TOOL_NAME and tool_use["input"] == TOOL_ARGS
    # Anthropic wants the tool_result blocks first in the user turn.
    result = sent[2]["content"][0]
    assert result["type"] == "tool_result"
    assert result["tool_use_id"] == ANTHROPIC_CALL[0]
    assert RESULT in content_text(result["content"])


# ---------------------------------------------- Responses client -> Anthropic


@pytest.mark.parametrize("stream", MODES)
async def test_responses_client_anthropic_upstream_pairs_call_ids(env: Env, stream: bool) -> None:
    """Codex style: no server state, the whole item list sent each turn."""
    up = env.upstreams["anthropic"]
    env.serve(up, stream, upstream_reply(up, stream, text=None, tool=ANTHROPIC_CALL))
    items: list[dict[str, Any]] = responses_input(PROMPT)
    first = await responses_call(
        env, up.model_string, stream, items, tools=[responses_tool()], store=False
    )
    (call,) = first.calls
    assert call.id == ANTHROPIC_CALL[0]

    env.serve(up, stream, upstream_reply(up, stream, text=FINAL))
    (fc,) = [i for i in first.raw.output if i.type == "function_call"]
    items += [
        {
            "type": "function_call",
            "call_id": fc.call_id,
            "name": fc.name,
            "arguments": fc.arguments,
        },
        {"type": "function_call_output", "call_id": fc.call_id, "output": RESULT},
    ]
    second = await responses_call(
        env, up.model_string, stream, items, tools=[responses_tool()], store=False
    )
    assert second.text == FINAL

    sent = env.last_request(up).json()["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    (tool_use,) = [b for b in sent[1]["content"] if b["type"] == "tool_use"]
    assert tool_use["id"] == ANTHROPIC_CALL[0] and tool_use["input"] == TOOL_ARGS
    result = sent[2]["content"][0]
    assert result["type"] == "tool_result" and result["tool_use_id"] == ANTHROPIC_CALL[0]
    assert RESULT in content_text(result["content"])


# ----------------------------------------------------- Gemini client -> OpenAI


@pytest.mark.parametrize("stream", MODES)
async def test_gemini_client_openai_upstream_keeps_ids_paired(env: Env, stream: bool) -> None:
    """Gemini clients match results to calls by name (and id when given);
    the OpenAI upstream needs the same id on the call and on its result."""
    up = env.upstreams["openai"]
    env.serve(up, stream, upstream_reply(up, stream, text=None, tool=TOOL_CALL))
    config = gtypes.GenerateContentConfig(tools=[gemini_tool()])
    user = gtypes.Content(role="user", parts=[gtypes.Part(text=PROMPT)])
    first = await gemini_call(env, up.model_string, stream, [user], config)
    (call,) = first.calls
    assert (call.name, call.args) == (TOOL_NAME, TOOL_ARGS)

    env.serve(up, stream, upstream_reply(up, stream, text=FINAL))
    model_turn = gtypes.Content(
        role="model",
        parts=[
            gtypes.Part(
                function_call=gtypes.FunctionCall(id=call.id, name=call.name, args=call.args)
            )
        ],
    )
    second = await gemini_call(
        env, up.model_string, stream, [user, model_turn, _gemini_result_turn(call)], config
    )
    assert second.text == FINAL

    sent = env.last_request(up).json()["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    (tc,) = sent[1]["tool_calls"]
    assert tc["function"]["name"] == TOOL_NAME
    assert json.loads(tc["function"]["arguments"]) == TOOL_ARGS
    assert tc["id"] and sent[2]["tool_call_id"] == tc["id"]
    if call.id:  # the gateway told the client the upstream's id
        assert tc["id"] == call.id
    assert RESULT in content_text(sent[2]["content"])


# ----------------------------------------------------- Gemini client -> Anthropic


@pytest.mark.parametrize("stream", MODES)
async def test_gemini_client_anthropic_upstream_keeps_thinking_signature(
    env: Env, stream: bool
) -> None:
    """The Gemini SDK hands thoughtSignature to its user as bytes and sends it
    back url-safe encoded; Anthropic must get its signature back verbatim."""
    up = env.upstreams["anthropic"]
    call = await _gemini_thinking_tool_loop(env, up, stream, ANTHROPIC_CALL, SIGNATURE)

    sent = env.last_request(up).json()["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    blocks = sent[1]["content"]
    assert blocks[0]["type"] == "thinking"  # Anthropic wants it first, signed
    assert blocks[0]["thinking"] == THOUGHT
    assert blocks[0]["signature"] == SIGNATURE
    (tool_use,) = [b for b in blocks if b["type"] == "tool_use"]
    assert tool_use["name"] == TOOL_NAME and tool_use["input"] == TOOL_ARGS
    result = sent[2]["content"][0]
    assert result["type"] == "tool_result" and result["tool_use_id"] == tool_use["id"]
    if call.id:
        assert tool_use["id"] == call.id == ANTHROPIC_CALL[0]
    assert RESULT in content_text(result["content"])


# A Responses encrypted_content is Fernet-like: url-safe base64 ('-', '_').
ENCRYPTED = "gAAAAABo--__v2VuY3J5cHRlZC1yZWFzb25pbmctc3RhdGUtMDE="


@pytest.mark.parametrize("stream", MODES)
async def test_gemini_client_responses_upstream_keeps_encrypted_reasoning(
    env: Env, stream: bool
) -> None:
    """The other alphabet: whatever carries encrypted_content through the
    Gemini client must give the Responses upstream the very same string."""
    up = env.upstreams["openai-responses"]
    call = await _gemini_thinking_tool_loop(env, up, stream, TOOL_CALL, ENCRYPTED)

    items = env.last_request(up).json()["input"]
    (reasoning,) = [i for i in items if i.get("type") == "reasoning"]
    assert reasoning["encrypted_content"] == ENCRYPTED
    (fc,) = [i for i in items if i.get("type") == "function_call"]
    (result,) = [i for i in items if i.get("type") == "function_call_output"]
    assert fc["call_id"] == result["call_id"]
    assert fc["name"] == TOOL_NAME and json.loads(fc["arguments"]) == TOOL_ARGS
    if call.id:
        assert fc["call_id"] == call.id == TOOL_CALL[0]
    assert RESULT in content_text(result["output"])

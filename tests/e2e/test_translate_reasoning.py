"""Reasoning across formats: thinking blocks, their signatures,
Gemini thought parts, ``reasoning_content`` and ``<think>`` tags."""

from __future__ import annotations

import pytest
from google.genai import types as gtypes

from tests.e2e.conftest import (
    PROMPT,
    SIGNATURE,
    TEXT,
    Env,
    Outcome,
    anthropic_call,
    chat_call,
    check_upstream_request,
    gemini_call,
    responses_call,
    responses_input,
    upstream_reply,
)
from tests.support.mock_upstream import Json, Reply, Sse, openai_chat_json, openai_chat_sse

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

THOUGHT = "The user wants Paris weather; I know it is sunny and 22 degrees."
THINKING_ON = {"type": "enabled", "budget_tokens": 1024}
MODES = [pytest.param(False, id="json"), pytest.param(True, id="stream")]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def _block_types(out: Outcome) -> list[str]:
    return [block.type for block in out.raw.content]


@pytest.mark.parametrize("stream", MODES)
async def test_anthropic_thinking_and_signature_reach_anthropic_client_unchanged(
    env: Env, stream: bool
) -> None:
    up = env.upstreams["anthropic"]
    env.serve(up, stream, upstream_reply(up, stream, thinking=(THOUGHT, SIGNATURE)))
    out = await anthropic_call(
        env,
        up.model_string,
        stream,
        [{"role": "user", "content": PROMPT}],
        max_tokens=2048,
        thinking=THINKING_ON,
    )
    assert _block_types(out) == ["thinking", "text"]
    assert out.reasoning == THOUGHT
    assert out.signatures == [SIGNATURE]
    assert out.text == TEXT
    sent = check_upstream_request(up, env.last_request(up), stream, system=None)
    assert sent["thinking"] == THINKING_ON


@pytest.mark.parametrize("stream", MODES)
async def test_anthropic_thinking_becomes_reasoning_content_for_chat_client(
    env: Env, stream: bool
) -> None:
    up = env.upstreams["anthropic"]
    env.serve(up, stream, upstream_reply(up, stream, thinking=(THOUGHT, SIGNATURE)))
    out = await chat_call(
        env,
        up.model_string,
        stream,
        [{"role": "user", "content": PROMPT}],
        reasoning_effort="medium",
        max_completion_tokens=4096,
    )
    assert out.reasoning == THOUGHT
    assert out.text == TEXT  # the thinking is not mixed into the answer
    sent = check_upstream_request(up, env.last_request(up), stream, system=None)
    # reasoning_effort turns thinking on, with a budget the API accepts:
    # at least 1024 and below max_tokens (Anthropic extended thinking docs).
    thinking = sent.get("thinking")
    assert thinking is not None and thinking["type"] in ("enabled", "adaptive")
    if thinking["type"] == "enabled":
        assert 1024 <= thinking["budget_tokens"] < sent["max_tokens"]


@pytest.mark.parametrize("stream", MODES)
async def test_gemini_thought_parts_become_anthropic_thinking_blocks(
    env: Env, stream: bool
) -> None:
    up = env.upstreams["gemini"]
    env.serve(up, stream, upstream_reply(up, stream, thinking=(THOUGHT, SIGNATURE)))
    out = await anthropic_call(
        env,
        up.model_string,
        stream,
        [{"role": "user", "content": PROMPT}],
        max_tokens=2048,
        thinking=THINKING_ON,
    )
    assert _block_types(out)[0] == "thinking"
    assert "text" in _block_types(out)
    assert out.reasoning == THOUGHT
    assert out.text == TEXT
    sent = check_upstream_request(up, env.last_request(up), stream, system=None)
    # Gemini only returns thought summaries when asked (thinking docs).
    thinking_config = sent["generationConfig"]["thinkingConfig"]
    assert thinking_config.get("includeThoughts") is True
    assert thinking_config.get("thinkingBudget") == 1024


# DeepSeek R1 served by an OpenAI-compatible server without a reasoning
# parser: the reasoning comes inline, wrapped in <think> tags.
THINK_REASONING = "I should add 2 and 2."
THINK_ANSWER = "The answer is 4."
THINK_CONTENT = f"<think>\n{THINK_REASONING}\n</think>\n\n{THINK_ANSWER}"
THINK_CHUNKS = ["<think>", "\nI should add ", "2 and 2.\n", "</think>", "\n\nThe answer", " is 4."]


def _think_reply(env: Env, stream: bool) -> Reply:
    up = env.upstreams["openai"]
    if stream:
        return Sse(openai_chat_sse(THINK_CHUNKS, up.model))
    return Json(openai_chat_json(THINK_CONTENT, up.model))


@pytest.mark.parametrize("stream", MODES)
async def test_think_tags_move_into_reasoning_content(env: Env, stream: bool) -> None:
    up = env.upstreams["openai"]
    assert "".join(THINK_CHUNKS) == THINK_CONTENT
    env.serve(up, stream, _think_reply(env, stream))
    out = await chat_call(env, up.model_string, stream, [{"role": "user", "content": "2+2?"}])
    assert out.reasoning.strip() == THINK_REASONING
    assert out.text.strip() == THINK_ANSWER
    assert "<think>" not in out.text and "</think>" not in out.text


@pytest.mark.parametrize("stream", MODES)
async def test_think_tags_become_anthropic_thinking_block(env: Env, stream: bool) -> None:
    up = env.upstreams["openai"]
    env.serve(up, stream, _think_reply(env, stream))
    out = await anthropic_call(env, up.model_string, stream, [{"role": "user", "content": "2+2?"}])
    assert _block_types(out)[0] == "thinking"
    assert out.reasoning.strip() == THINK_REASONING
    assert out.text.strip() == THINK_ANSWER


@pytest.mark.parametrize("stream", MODES)
@pytest.mark.parametrize("client", ["anthropic", "responses", "gemini"])
async def test_openai_reasoning_content_reaches_other_dialects(
    env: Env, client: str, stream: bool
) -> None:
    """DeepSeek's API sends ``reasoning_content`` beside ``content``."""
    up = env.upstreams["openai"]
    env.serve(up, stream, upstream_reply(up, stream, thinking=(THOUGHT, "")))
    messages = [{"role": "user", "content": PROMPT}]
    if client == "anthropic":
        out = await anthropic_call(
            env, up.model_string, stream, messages, max_tokens=2048, thinking=THINKING_ON
        )
        assert _block_types(out) == ["thinking", "text"]
    elif client == "responses":
        out = await responses_call(
            env,
            up.model_string,
            stream,
            responses_input(PROMPT),
            reasoning={"effort": "medium", "summary": "auto"},
        )
        kinds = [item.type for item in out.raw.output]
        assert kinds == ["reasoning", "message"]
    else:
        config = gtypes.GenerateContentConfig(
            thinking_config=gtypes.ThinkingConfig(include_thoughts=True, thinking_budget=1024)
        )
        out = await gemini_call(env, up.model_string, stream, PROMPT, config)
    assert out.reasoning == THOUGHT
    assert out.text == TEXT

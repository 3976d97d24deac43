"""``previous_response_id`` kept by the gateway when the upstream is
not a Responses upstream and so keeps no conversation state itself.

Turn 2 sends only its new input plus ``previous_response_id``; the upstream
must receive the whole conversation: turn 1's input, turn 1's output and the
new input. Per the Responses API reference, ``instructions`` of the previous
response are not carried over.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.e2e.conftest import (
    TOOL_ARGS,
    TOOL_CALL,
    TOOL_NAME,
    Env,
    Upstream,
    content_text,
    responses_call,
    responses_tool,
    upstream_reply,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

STATELESS = ["openai", "anthropic", "gemini"]
MODES = [pytest.param(False, id="json"), pytest.param(True, id="stream")]
Q1, A1 = "What is 2+2?", "2+2 is 4."
Q2, A2 = "And times 3?", "That makes 12."
Q3, A3 = "Minus 2?", "Then 10."
RESULT = "22 degrees and sunny"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def _turns(up: Upstream, body: dict[str, Any]) -> list[tuple[str, str]]:
    """(role, text) of each conversational turn the upstream received,
    system/developer instructions left out; roles as user/assistant."""
    if up.fmt == "gemini":
        return [
            ("assistant" if c["role"] == "model" else c["role"], content_text(c["parts"]))
            for c in body["contents"]
        ]
    return [
        (m["role"], content_text(m["content"]))
        for m in body["messages"]
        if m["role"] not in ("system", "developer")
    ]


def _system_text(up: Upstream, body: dict[str, Any]) -> str:
    if up.fmt == "gemini":
        return content_text((body.get("systemInstruction") or {}).get("parts"))
    if up.fmt == "anthropic":
        return content_text(body.get("system"))
    return " ".join(
        content_text(m["content"]) for m in body["messages"] if m["role"] in ("system", "developer")
    )


@pytest.mark.parametrize("stream", MODES)
@pytest.mark.parametrize("fmt", STATELESS)
async def test_previous_response_id_rebuilds_the_conversation(
    env: Env, fmt: str, stream: bool
) -> None:
    up = env.upstreams[fmt]
    env.serve(up, stream, upstream_reply(up, stream, text=A1))
    first = await responses_call(env, up.model_string, stream, Q1)
    assert first.text == A1
    first_id = first.raw.id

    env.serve(up, stream, upstream_reply(up, stream, text=A2))
    second = await responses_call(env, up.model_string, stream, Q2, previous_response_id=first_id)
    assert second.text == A2
    assert _turns(up, env.last_request(up).json()) == [
        ("user", Q1),
        ("assistant", A1),
        ("user", Q2),
    ]

    env.serve(up, stream, upstream_reply(up, stream, text=A3))
    await responses_call(env, up.model_string, stream, Q3, previous_response_id=second.raw.id)
    assert _turns(up, env.last_request(up).json()) == [
        ("user", Q1),
        ("assistant", A1),
        ("user", Q2),
        ("assistant", A2),
        ("user", Q3),
    ]


@pytest.mark.parametrize("fmt", STATELESS)
async def test_each_response_has_its_own_id_and_branches_keep_their_history(
    env: Env, fmt: str
) -> None:
    """Upstream ids need not be unique (this mock repeats its own, as some
    local servers do); the ids the gateway hands out, which key its memory,
    must be. A client may branch: answer turn 1 twice, differently."""
    up = env.upstreams[fmt]
    env.serve(up, False, upstream_reply(up, False, text=A1))
    first = await responses_call(env, up.model_string, False, Q1)
    env.serve(up, False, upstream_reply(up, False, text=A2))
    second = await responses_call(
        env, up.model_string, False, Q2, previous_response_id=first.raw.id
    )
    assert second.raw.id != first.raw.id
    assert second.raw.previous_response_id == first.raw.id  # echoed, as the API does

    env.serve(up, False, upstream_reply(up, False, text=A3))
    await responses_call(env, up.model_string, False, Q3, previous_response_id=first.raw.id)
    assert _turns(up, env.last_request(up).json()) == [
        ("user", Q1),
        ("assistant", A1),
        ("user", Q3),
    ]


@pytest.mark.parametrize("fmt", STATELESS)
async def test_previous_instructions_are_not_carried_over(env: Env, fmt: str) -> None:
    up = env.upstreams[fmt]
    env.serve(up, False, upstream_reply(up, False, text=A1))
    first = await responses_call(
        env, up.model_string, False, Q1, instructions="Answer like a pirate."
    )
    assert "pirate" in _system_text(up, env.last_request(up).json())
    env.serve(up, False, upstream_reply(up, False, text=A2))
    await responses_call(
        env,
        up.model_string,
        False,
        Q2,
        previous_response_id=first.raw.id,
        instructions="Answer plainly.",
    )
    body = env.last_request(up).json()
    assert "pirate" not in _system_text(up, body)
    assert "plainly" in _system_text(up, body)


@pytest.mark.parametrize("stream", MODES)
@pytest.mark.parametrize("fmt", STATELESS)
async def test_function_call_output_after_previous_response_id(
    env: Env, fmt: str, stream: bool
) -> None:
    up = env.upstreams[fmt]
    env.serve(up, stream, upstream_reply(up, stream, text=None, tool=TOOL_CALL))
    first = await responses_call(
        env, up.model_string, stream, "Weather in Paris?", tools=[responses_tool()]
    )
    (call,) = first.calls
    assert (call.name, call.args) == (TOOL_NAME, TOOL_ARGS)

    env.serve(up, stream, upstream_reply(up, stream, text="Sunny, 22."))
    second = await responses_call(
        env,
        up.model_string,
        stream,
        [{"type": "function_call_output", "call_id": call.id, "output": RESULT}],
        previous_response_id=first.raw.id,
        tools=[responses_tool()],
    )
    assert second.text == "Sunny, 22."

    body = env.last_request(up).json()
    if fmt == "openai":
        messages = body["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
        (tc,) = messages[1]["tool_calls"]
        assert tc["id"] == TOOL_CALL[0] == messages[2]["tool_call_id"]
        assert json.loads(tc["function"]["arguments"]) == TOOL_ARGS
        assert RESULT in content_text(messages[2]["content"])
    elif fmt == "anthropic":
        messages = body["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant", "user"]
        (use,) = [b for b in messages[1]["content"] if b["type"] == "tool_use"]
        result = messages[2]["content"][0]
        assert use["id"] == TOOL_CALL[0] == result["tool_use_id"]
        assert use["input"] == TOOL_ARGS and RESULT in content_text(result["content"])
    else:
        contents = body["contents"]
        assert [c["role"] for c in contents] == ["user", "model", "user"]
        (fc,) = [p["functionCall"] for p in contents[1]["parts"] if "functionCall" in p]
        (fr,) = [p["functionResponse"] for p in contents[2]["parts"]]
        assert fc["name"] == fr["name"] == TOOL_NAME and fc["args"] == TOOL_ARGS
        assert RESULT in json.dumps(fr["response"])


async def test_unknown_previous_response_id_is_an_openai_error(env: Env) -> None:
    up = env.upstreams["openai"]
    before = len(env.requests_to(up))
    with pytest.raises(openai.APIStatusError) as caught:
        await env.openai.responses.create(
            model=up.model_string, input=Q2, previous_response_id="resp_does_not_exist"
        )
    assert caught.value.status_code in (400, 404)
    assert "resp_does_not_exist" in caught.value.response.json()["error"]["message"]
    assert len(env.requests_to(up)) == before  # refused before any upstream call

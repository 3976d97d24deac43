"""An upstream asked for a stream that answers with one JSON body (some
compatible servers ignore ``stream: true``): every client still gets a
proper stream in its own dialect, whatever the upstream's format, the same
answer it would have streamed (text, tool call, usage)."""

from __future__ import annotations

import openai
import pytest

from tests.e2e.conftest import (
    CLIENTS,
    FORMATS,
    TEXT,
    TOOL_ARGS,
    TOOL_CALL,
    TOOL_NAME,
    Ask,
    Env,
    ask,
    upstream_reply,
)
from tests.support.mock_upstream import Status, Usage

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

USAGE = Usage(input=50, output=20)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("client", CLIENTS)
async def test_a_json_answer_reaches_a_streaming_client_as_a_stream(
    env: Env, client: str, fmt: str
) -> None:
    up = env.upstreams[fmt]
    env.serve(up, True, upstream_reply(up, False, usage=USAGE))  # JSON on the stream path
    out = await ask(env, client, up.model_string, True, Ask())
    assert out.text == TEXT
    assert out.events, "the client got no stream events"
    assert out.finish is not None


@pytest.mark.parametrize("client", CLIENTS)
async def test_a_tool_call_in_a_json_answer_is_streamed_as_a_call(env: Env, client: str) -> None:
    up = env.upstreams["anthropic"]
    env.serve(up, True, upstream_reply(up, False, text=None, tool=TOOL_CALL, usage=USAGE))
    out = await ask(env, client, up.model_string, True, Ask(tools=True))
    assert [(c.name, c.args) for c in out.calls] == [(TOOL_NAME, TOOL_ARGS)]


async def test_an_unreadable_json_answer_is_an_error_before_any_byte(env: Env) -> None:
    up = env.upstreams["openai"]
    env.serve(up, True, Status(200, b'{"not": "an answer"', {"content-type": "application/json"}))
    with pytest.raises(openai.APIStatusError) as caught:
        await ask(env, "openai", up.model_string, True, Ask())
    assert caught.value.status_code == 502 and "not valid" in caught.value.message

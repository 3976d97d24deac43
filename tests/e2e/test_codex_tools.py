"""Codex CLI's tools through a translating path: a Responses client (the
request shaped as Codex CLI 0.169 sends it with a Responses Lite model)
against an Anthropic upstream.

Codex sends no top-level ``tools``: they come in a leading
``additional_tools`` input item, grouped in namespaces, and its main tool,
``exec``, is a custom (free-form, grammar-constrained) tool. Turn 1: the
upstream must get the tools and its tool_use must reach Codex as a
``custom_tool_call`` (JSON and stream). Turn 2: Codex sends the call back with
a ``custom_tool_call_output``; the upstream must get tool_use + tool_result
with its own id.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from omniroute.formats.sse import SSEDecoder
from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import (
    Json,
    MockUpstream,
    RecordedRequest,
    Reply,
    Sse,
    anthropic_json,
    anthropic_sse,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

MODES = [pytest.param(False, id="json"), pytest.param(True, id="stream")]
EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
MODEL = "claude-x"
CALL_ID = "toolu_01CodexExec7"
SOURCE = 'const out = await tools.shell({cmd: "ls -la"});\ntext(out); // "quoted" ✓\n'
RESULT = "total 8\n-rw-r--r-- 1 me me 12 README.md\n"
FINAL = "The directory holds README.md."
GRAMMAR = "start: /(.|\\n)+/"
TOOLS: list[dict[str, Any]] = [
    {
        "type": "namespace",
        "name": "functions",
        "description": "Local tools.",
        "tools": [
            {
                "type": "custom",
                "name": "exec",
                "description": "Run a script.",
                "format": {"type": "grammar", "syntax": "lark", "definition": GRAMMAR},
            },
            {
                "type": "function",
                "name": "wait",
                "description": "Wait for a command.",
                "strict": False,
                "parameters": {"type": "object", "properties": {"session_id": {"type": "integer"}}},
            },
        ],
    },
    {
        "type": "namespace",
        "name": "clock",
        "description": "Time.",
        "tools": [
            {"type": "function", "name": "now", "parameters": {"type": "object", "properties": {}}},
        ],
    },
    {"type": "web_search"},
]


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[Harness, MockUpstream]]:
    async with MockUpstream() as mock, running_gateway(tmp_path) as gw:
        await gw.add_provider(
            "anth", "anthropic", mock.url + "/v1", "sk-ant-upstream-0123456789", [MODEL]
        )
        yield gw, mock


def _reply(req: RecordedRequest) -> Reply:
    """Turn 1 (no tool result yet): call exec; turn 2: answer."""
    body = req.json()
    last = body["messages"][-1]["content"]
    done = isinstance(last, list) and any(b.get("type") == "tool_result" for b in last)
    tool = None if done else (CALL_ID, "exec", json.dumps({"input": SOURCE}))
    text = FINAL if done else None
    if body.get("stream"):
        return Sse(anthropic_sse([text] if text else [], MODEL, tool))
    return Json(anthropic_json(text, MODEL, tool))


def _codex_body(stream: bool, *history: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": f"anth/{MODEL}",
        "instructions": "You are Codex.",
        "input": [
            {"type": "additional_tools", "role": "developer", "tools": TOOLS},
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "What is in this directory?"}],
            },
            *history,
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "stream": stream,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
    }


async def _post(gw: Harness, body: dict[str, Any]) -> tuple[list[dict[str, Any]], list[Any]]:
    """(the output items, the stream's events validated by the SDK) of one
    Codex-shaped call sent with raw httpx, as Codex sends it."""
    headers = {
        "authorization": f"Bearer {gw.client_key}",
        "x-openai-internal-codex-responses-lite": "true",
        "originator": "codex_exec",
    }
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=15) as client:
        resp = await client.post("/v1/responses", json=body, headers=headers)
    assert resp.status_code == 200, resp.text
    if not body["stream"]:
        return Response.model_validate(resp.json()).model_dump(exclude_none=True)["output"], []
    assert resp.headers["content-type"].startswith("text/event-stream")
    dec = SSEDecoder()
    events = [EVENTS.validate_python(json.loads(e.data)) for e in dec.feed(resp.content)]
    assert events[-1].type == "response.completed"
    return events[-1].response.model_dump(exclude_none=True)["output"], events


@pytest.mark.parametrize("stream", MODES)
async def test_codex_tool_loop_through_anthropic(
    gateway: tuple[Harness, MockUpstream], stream: bool
) -> None:
    gw, mock = gateway
    mock.route("POST", "/v1/messages", _reply)

    output, events = await _post(gw, _codex_body(stream))

    sent = mock.requests[-1].json()
    tools = {t["name"]: t for t in sent["tools"]}
    assert set(tools) == {"exec", "wait", "now"}  # web_search is OpenAI's own
    exec_input = tools["exec"]["input_schema"]
    assert exec_input["required"] == ["input"]
    assert exec_input["properties"]["input"]["type"] == "string"
    assert GRAMMAR in exec_input["properties"]["input"]["description"]
    assert tools["wait"]["input_schema"]["properties"] == {"session_id": {"type": "integer"}}

    (call,) = [item for item in output if item["type"] != "reasoning"]
    assert call["type"] == "custom_tool_call"
    assert (call["call_id"], call["name"], call["input"]) == (CALL_ID, "exec", SOURCE)
    assert call["namespace"] == "functions"
    if stream:
        kinds = [e.type for e in events]
        assert "response.function_call_arguments.delta" not in kinds
        deltas = [e.delta for e in events if e.type == "response.custom_tool_call_input.delta"]
        assert deltas and "".join(deltas) == SOURCE
        (done,) = [e for e in events if e.type == "response.custom_tool_call_input.done"]
        assert done.input == SOURCE
        (item_done,) = [e for e in events if e.type == "response.output_item.done"]
        assert item_done.item.type == "custom_tool_call" and item_done.item.input == SOURCE

    # Turn 2: Codex sends back the call it got and the tool's output.
    history = [call, {"type": "custom_tool_call_output", "call_id": CALL_ID, "output": RESULT}]
    output, _ = await _post(gw, _codex_body(stream, *history))
    (message,) = output
    assert message["content"][0]["text"] == FINAL

    messages = mock.requests[-1].json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    (use,) = [b for b in messages[1]["content"] if b["type"] == "tool_use"]
    assert use == {"type": "tool_use", "id": CALL_ID, "name": "exec", "input": {"input": SOURCE}}
    (result,) = messages[2]["content"]
    assert result["type"] == "tool_result" and result["tool_use_id"] == CALL_ID
    text = (
        result["content"]
        if isinstance(result["content"], str)
        else "".join(block["text"] for block in result["content"])
    )
    assert text == RESULT

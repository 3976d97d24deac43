"""The MCP server's parts that need no gateway: session bookkeeping (with an
injected clock), the argument checker, version negotiation and JSON-RPC
shapes. The whole server is driven by the official SDK in tests/e2e/test_mcp.py."""

from __future__ import annotations

from typing import Any

import pytest

from omniroute.api.mcp import http as mcp_http
from omniroute.api.mcp.http import IDLE_SECONDS, McpSessions
from omniroute.api.mcp.protocol import PROTOCOL_VERSIONS, Conversation, answer, answer_any
from omniroute.api.mcp.schema import ArgumentError, check
from omniroute.api.mcp.tools import TOOLS

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_belongs_to_who_opened_it_and_ends_when_idle() -> None:
    clock = Clock()
    sessions = McpSessions(clock)
    mine = sessions.open("key:a", Conversation())
    assert sessions.find(mine, "key:a") is not None
    assert sessions.find(mine, "session:b") is None  # another credential: unknown to it
    assert not sessions.end(mine, "session:b")
    clock.now += IDLE_SECONDS - 1
    assert sessions.find(mine, "key:a") is not None  # use keeps it alive
    clock.now += IDLE_SECONDS - 1
    assert sessions.find(mine, "key:a") is not None
    clock.now += IDLE_SECONDS
    assert sessions.find(mine, "key:a") is None
    assert len(sessions) == 0


def test_sessions_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mcp_http, "MAX_SESSIONS", 3)
    clock = Clock()
    sessions = McpSessions(clock)
    opened = []
    for _ in range(3):
        clock.now += 1
        opened.append(sessions.open("key:a", Conversation()))
    sessions.find(opened[0], "key:a")  # the first is used again: the second is now oldest
    sessions.open("key:a", Conversation())
    assert len(sessions) == 3
    assert sessions.find(opened[1], "key:a") is None
    assert sessions.find(opened[0], "key:a") is not None


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ({"id": 1}, "'enabled' is required"),
        ({"id": True, "enabled": True}, "'id' must be a whole number"),
        ({"id": 0, "enabled": True}, "'id' must be at least 1"),
        ({"id": 1, "enabled": "yes"}, "'enabled' must be true or false"),
        ({"id": 1, "enabled": True, "x": 1}, "unknown argument 'x'"),
        ([], "'arguments' must be an object"),
    ],
)
def test_arguments_are_checked_against_the_tool_schema(args: Any, problem: str) -> None:
    with pytest.raises(ArgumentError, match=problem):
        check(TOOLS["toggle_account"].input_schema, args)


def test_combo_targets_take_strings_or_objects() -> None:
    schema = TOOLS["create_combo"].input_schema
    check(schema, {"name": "c", "targets": ["a/b", {"ref": "c/d", "weight": 2}]})
    with pytest.raises(ArgumentError, match=r"targets\[0\]"):
        check(schema, {"name": "c", "targets": [{"weight": 2}]})
    with pytest.raises(ArgumentError, match="at least 1"):
        check(schema, {"name": "c", "targets": []})


def init(version: str) -> dict[str, Any]:
    params = {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t"}}
    return {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}


async def test_the_version_is_negotiated_and_tools_wait_for_it() -> None:
    talk = Conversation()
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    early = await answer(listing, talk, None)  # type: ignore[arg-type]
    assert early is not None and early["error"]["code"] == -32600
    for version in PROTOCOL_VERSIONS:
        done = await answer(init(version), Conversation(), None)  # type: ignore[arg-type]
        assert done is not None and done["result"]["protocolVersion"] == version
    newer = await answer(init("2099-01-01"), talk, None)  # type: ignore[arg-type]
    assert newer is not None and newer["result"]["protocolVersion"] == PROTOCOL_VERSIONS[0]
    listed = await answer(listing, talk, None)  # type: ignore[arg-type]
    assert listed is not None and [t["name"] for t in listed["result"]["tools"]] == list(TOOLS)


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("text", -32600),
        ({"jsonrpc": "2.0", "id": 1}, -32600),
        ({"jsonrpc": "2.0", "id": [1], "method": "ping"}, -32600),
        ({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1]}, -32602),
        ({"jsonrpc": "2.0", "id": 1, "method": "resources/list"}, -32601),
        ({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}, -32602),
        ([], -32600),
    ],
)
async def test_malformed_messages_get_json_rpc_errors(message: Any, code: int) -> None:
    reply = await answer_any(message, Conversation(), None)  # type: ignore[arg-type]
    assert isinstance(reply, dict) and reply["error"]["code"] == code


async def test_notifications_and_responses_owe_nothing() -> None:
    talk = Conversation()
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert await answer(note, talk, None) is None  # type: ignore[arg-type]
    assert talk.ready
    response = {"jsonrpc": "2.0", "id": 9, "result": {}}
    assert await answer_any([note, response], talk, None) is None  # type: ignore[arg-type]

"""The MCP server, driven by the official ``mcp`` SDK as a client: over
streamable HTTP against the real gateway (``/mcp``, with the MCP admin key or
an admin session), and over stdio by launching ``python -m omniroute mcp``
the way an MCP client application does. The SDK lists the tools and calls
each; what each call did is checked in the management API, the store and
the audit log."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import openai
import pytest
from mcp.client.client import Client
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from omniroute.api.mcp.protocol import PROTOCOL_VERSIONS
from omniroute.store import Store
from omniroute.store.admin import AdminRows
from tests.e2e.manage_env import CHAT, MODEL, Env, answering_env
from tests.support.harness import REPO, run_cli
from tests.support.mock_upstream import Json, Status, openai_error

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

KEY = "sk-upstream-mcp-test-0123456789"
TOOLS = {"list_providers", "usage_summary", "create_combo", "toggle_account", "test_model"}
ACCEPT = {"accept": "application/json, text/event-stream"}
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"},
    },
}


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with answering_env(tmp_path, KEY) as env:
        yield env


async def cli(env: Env, *args: str) -> str:
    data_dir = env.gw.settings.data_dir
    done = await anyio.to_thread.run_sync(lambda: run_cli(*args, data_dir=data_dir))
    return done.stdout.strip()


async def mcp_key(env: Env) -> str:
    key = await cli(env, "admin", "mcp-key")
    assert key.startswith("omr-mcp-")
    return key


@asynccontextmanager
async def http_session(env: Env, headers: dict[str, str]) -> AsyncIterator[ClientSession]:
    client = create_mcp_http_client(headers=headers)
    async with (
        client,
        streamable_http_client(env.gw.admin_url + "/mcp", http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        init = await session.initialize()
        assert init.protocol_version in PROTOCOL_VERSIONS
        assert init.server_info.name == "omniroute"
        yield session


def stdio_params(data_dir: Path) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIROUTE_")}
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "omniroute", "mcp", "--data-dir", str(data_dir)],
        env=env,
        cwd=str(REPO),
    )


@asynccontextmanager
async def stdio_session(data_dir: Path) -> AsyncIterator[ClientSession]:
    with open(os.devnull, "w") as quiet:
        async with (
            stdio_client(stdio_params(data_dir), errlog=quiet) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


async def call(session: ClientSession, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """A tool call that must succeed: its structured result (which the text
    content carries too)."""
    result = await session.call_tool(tool, args)
    assert result.is_error is False, result.content
    assert isinstance(result.structured_content, dict)
    assert json.loads(result.content[0].text) == result.structured_content  # type: ignore[union-attr]
    return result.structured_content


async def failure(session: ClientSession, tool: str, args: dict[str, Any]) -> str:
    """A tool call that must fail as a tool failure: its message."""
    result = await session.call_tool(tool, args)
    assert result.is_error is True
    text = result.content[0].text  # type: ignore[union-attr]
    assert "Traceback" not in text
    return text


async def exercise(session: ClientSession, env: Env, combo: str) -> None:
    """List the tools and call each, checking each outcome through /api."""
    listed = await session.list_tools()
    assert {t.name for t in listed.tools} == TOOLS
    for tool in listed.tools:
        assert tool.input_schema["type"] == "object" and tool.description

    providers = await call(session, "list_providers", {})
    (acme,) = providers["providers"]
    assert acme["name"] == "acme" and acme["accounts"][0]["key"].endswith(KEY[-4:])
    assert KEY not in json.dumps(providers)
    assert providers["gateway"]["running"] is True
    assert set(acme["health"]) == {"breakers", "cooldowns", "limiters"}
    account = acme["accounts"][0]["id"]

    await env.chat(f"acme/{MODEL}")
    await env.gw.gateway.store.flush_logs()
    usage = await call(session, "usage_summary", {"group": "model", "since": "24h"})
    api = await env.ok("GET", "/api/usage?group=model&since=24h")
    assert usage["rows"] == api["rows"] and usage["totals"]["requests"] >= 1

    made = await call(
        session, "create_combo", {"name": combo, "targets": [f"acme/{MODEL}"], "strategy": "p2c"}
    )
    assert made["name"] == combo and made["strategy"] == "p2c"
    listed_combos = (await env.ok("GET", "/api/combos"))["combos"]
    assert [c["targets"][0]["ref"] for c in listed_combos if c["name"] == combo] == ["acme/m1"]

    tested = await call(session, "test_model", {"model": combo})
    assert tested["ok"] is True
    assert [(t["target"], t["status"]) for t in tested["targets"]] == [("acme/m1", 200)]
    assert env.mock.requests[-1].path == CHAT and env.mock.requests[-1].json()["max_tokens"] == 1
    refusal = openai_error(f"Incorrect API key provided: {KEY}.", "invalid_request_error")
    env.mock.enqueue("POST", CHAT, Json(refusal, status=401))
    refused = await call(session, "test_model", {"model": f"acme/{MODEL}"})
    assert refused["ok"] is False and refused["targets"][0]["status"] == 401
    assert KEY not in json.dumps(refused)

    off = await call(session, "toggle_account", {"id": account, "enabled": False})
    assert off["enabled"] is False
    shown = await env.ok("GET", "/api/providers/acme")
    assert shown["accounts"][0]["enabled"] is False
    back = await call(session, "toggle_account", {"id": account, "enabled": True})
    assert back["enabled"] is True


async def refusals(session: ClientSession) -> None:
    """Bad arguments and failing calls answer isError with the reason."""
    assert "'enabled' is required" in await failure(session, "toggle_account", {"id": 1})
    assert "must be a whole number" in await failure(
        session, "toggle_account", {"id": "one", "enabled": True}
    )
    assert "unknown account id 999" in await failure(
        session, "toggle_account", {"id": 999, "enabled": False}
    )
    assert "unknown argument 'colour'" in await failure(session, "list_providers", {"colour": 1})
    assert "must be one of" in await failure(session, "usage_summary", {"group": "colour"})
    assert "'since' must be unix seconds" in await failure(
        session, "usage_summary", {"since": "yesterday"}
    )
    assert "exists already" in await failure(
        session, "create_combo", {"name": "combo-dup", "targets": ["acme/m1"]}
    )
    assert "strategy" in await failure(
        session, "create_combo", {"name": "c2", "targets": ["acme/m1"], "strategy": "dice"}
    )
    assert "unknown provider 'ghost'" in await failure(session, "list_providers", {"name": "ghost"})
    assert await failure(session, "test_model", {"model": "ghost/none"})
    with pytest.raises(MCPError) as unknown:
        await session.call_tool("no_such_tool", {})
    assert unknown.value.error.code == -32602


async def test_http_sdk_lists_the_tools_and_calls_each(env: Env) -> None:
    key = await mcp_key(env)
    async with http_session(env, {"authorization": f"Bearer {key}"}) as session:
        await exercise(session, env, "duo")
        await call(session, "create_combo", {"name": "combo-dup", "targets": ["acme/m1"]})
        await refusals(session)
        assert (await session.send_ping()) is not None
    # The gateway routes by the new combo at once.
    assert await env.chat("duo") == "hello from the mock"
    audit = (await env.ok("GET", "/api/audit?limit=50"))["entries"]
    by_mcp = [(e["action"], e["target"]) for e in audit if e["actor"] == "mcp"]
    assert ("combo.add", "duo") in by_mcp and ("model.test", "duo") in by_mcp
    assert any(action == "account.update" for action, _ in by_mcp)
    assert all(e["address"] == "127.0.0.1" for e in audit if e["actor"] == "mcp")
    assert any(e["action"] == "mcp_key.create" and e["actor"] == "cli" for e in audit)
    assert key not in json.dumps(audit)


async def test_http_with_an_admin_session(env: Env) -> None:
    cookies = "; ".join(f"{k}={v}" for k, v in env.admin.http.cookies.items())
    headers = {"cookie": cookies, "x-csrf-token": env.admin.csrf}
    async with http_session(env, headers) as session:
        assert {t.name for t in (await session.list_tools()).tools} == TOOLS
        made = await call(session, "create_combo", {"name": "solo", "targets": ["acme/m1"]})
        assert made["strategy"] == "fill-first"
    audit = (await env.ok("GET", "/api/audit?limit=5"))["entries"]
    assert any(e["action"] == "combo.add" and e["actor"] == "mcp" for e in audit)


async def test_http_refuses_without_the_admin_key_or_a_session(env: Env) -> None:
    key = await mcp_key(env)
    url = env.gw.admin_url + "/mcp"
    async with httpx.AsyncClient(timeout=15) as http:
        nobody = await http.post(url, json=INIT, headers=ACCEPT)
        assert nobody.status_code == 401 and set(nobody.json()["error"]) == {"message", "kind"}
        wrong = await http.post(url, json=INIT, headers={**ACCEPT, "authorization": "Bearer x"})
        assert wrong.status_code == 401 and "mcp-key" in wrong.json()["error"]["message"]
        # The per-start admin token of the local CLI is not the MCP key.
        token = json.loads((env.gw.settings.data_dir / "admin.json").read_text())["token"]
        other = await http.post(
            url, json=INIT, headers={**ACCEPT, "authorization": f"Bearer {token}"}
        )
        assert other.status_code == 401
        # A session must send its CSRF token, as on /api.
        cookie = "; ".join(f"{k}={v}" for k, v in env.admin.http.cookies.items())
        no_csrf = await http.post(url, json=INIT, headers={**ACCEPT, "cookie": cookie})
        assert no_csrf.status_code == 403
        # The MCP key opens /mcp only, never /api.
        api = await http.get(
            env.gw.admin_url + "/api/providers", headers={"authorization": f"Bearer {key}"}
        )
        assert api.status_code == 401
        # Once revoked, the key opens nothing.
        assert "revoked" in await cli(env, "admin", "mcp-key", "--revoke")
        gone = await http.post(url, json=INIT, headers={**ACCEPT, "authorization": f"Bearer {key}"})
        assert gone.status_code == 401


async def test_http_transport_rules(env: Env) -> None:
    key = await mcp_key(env)
    url = env.gw.admin_url + "/mcp"
    auth = {**ACCEPT, "authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(timeout=15) as http:
        opened = await http.post(url, json=INIT, headers=auth)
        assert (
            opened.status_code == 200 and opened.json()["result"]["protocolVersion"] == "2025-06-18"
        )
        sid = opened.headers["mcp-session-id"]
        mine = {**auth, "mcp-session-id": sid, "mcp-protocol-version": "2025-06-18"}

        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert (await http.post(url, json=note, headers=mine)).status_code == 202

        bad = await http.post(
            url, content=b"{not json", headers={**mine, "content-type": "application/json"}
        )
        assert bad.status_code == 400 and bad.json()["error"]["code"] == -32700

        unknown = await http.post(
            url, json={"jsonrpc": "2.0", "id": 2, "method": "nope"}, headers=mine
        )
        assert unknown.json() == {
            "jsonrpc": "2.0",
            "id": 2,
            "error": {"code": -32601, "message": "Method not found: nope"},
        }
        invalid = await http.post(
            url, json={"jsonrpc": "1.0", "id": 3, "method": "ping"}, headers=mine
        )
        assert invalid.json()["error"]["code"] == -32600

        # Only SSE accepted: the answer is one SSE event.
        sse = await http.post(
            url,
            json={"jsonrpc": "2.0", "id": 4, "method": "ping"},
            headers={**mine, "accept": "text/event-stream"},
        )
        assert sse.headers["content-type"].startswith("text/event-stream")
        assert 'data: {"jsonrpc":"2.0","id":4,"result":{}}' in sse.text

        batch = await http.post(
            url,
            json=[{"jsonrpc": "2.0", "id": 5, "method": "ping"}, note],
            headers=mine,
        )
        assert batch.json() == [{"jsonrpc": "2.0", "id": 5, "result": {}}]

        ping = {"jsonrpc": "2.0", "id": 6, "method": "ping"}
        assert (await http.post(url, json=ping, headers=auth)).status_code == 400  # no session id
        old = {**mine, "mcp-protocol-version": "1999-01-01"}
        assert (await http.post(url, json=ping, headers=old)).status_code == 400
        assert (
            await http.post(url, json=ping, headers={**mine, "accept": "text/html"})
        ).status_code == 406
        foreign = {**mine, "origin": "https://attacker.example"}
        assert (await http.post(url, json=ping, headers=foreign)).status_code == 403
        garbled = {**mine, "origin": "http://["}  # not even a URL: refused the same way
        assert (await http.post(url, json=ping, headers=garbled)).status_code == 403
        assert (await http.get(url, headers=mine)).status_code == 405

        assert (await http.delete(url, headers=mine)).status_code == 204
        ended = await http.post(url, json=ping, headers=mine)
        assert ended.status_code == 404 and ended.json()["id"] == 6


async def test_stdio_sdk_lists_the_tools_and_calls_each(env: Env) -> None:
    data_dir = env.gw.settings.data_dir
    async with stdio_session(data_dir) as session:
        await exercise(session, env, "trio")
        await call(session, "create_combo", {"name": "combo-dup", "targets": ["acme/m1"]})
        await refusals(session)
    # The running gateway picks the new combo up through the config revision
    # it polls (every 0.1 s here).
    for _ in range(100):
        if "trio" in env.gw.gateway.registry().view.combos:
            break
        await anyio.sleep(0.05)
    assert await env.chat("trio") == "hello from the mock"
    audit = (await env.ok("GET", "/api/audit?limit=50"))["entries"]
    by_mcp = [(e["action"], e["target"], e["address"]) for e in audit if e["actor"] == "mcp"]
    assert ("combo.add", "trio", None) in by_mcp


async def test_stdio_without_a_running_gateway(tmp_path: Path) -> None:
    async with answering_env(tmp_path, KEY) as env:
        settings = env.gw.settings
    async with stdio_session(settings.data_dir) as session:
        providers = await call(session, "list_providers", {})
        assert providers["gateway"]["running"] is False
        assert providers["providers"][0]["health"] is None
        account = providers["providers"][0]["accounts"][0]["id"]
        await call(session, "toggle_account", {"id": account, "enabled": False})
    # Written to the store, audited as MCP's.
    async with Store(settings) as store:
        snapshot = await store.snapshot()
        assert [a.enabled for a in snapshot.accounts if a.id == account] == [False]
        audit = await AdminRows(store).audit_log(5)
        assert (audit[0].actor, audit[0].action) == ("mcp", "account.update")


async def test_the_sdk_client_in_auto_mode_falls_back_to_initialize(env: Env) -> None:
    # The SDK's high-level Client first asks for a newer, stateless revision
    # (server/discover); the answer "method not found" sends it to initialize.
    key = await mcp_key(env)
    http = create_mcp_http_client(headers={"authorization": f"Bearer {key}"})
    transport = streamable_http_client(env.gw.admin_url + "/mcp", http_client=http)
    async with http, Client(transport) as client:
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS
        assert (await client.call_tool("list_providers", {})).is_error is False
    async with Client(stdio_params(env.gw.settings.data_dir)) as client:
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS


async def test_list_providers_shows_the_breakers_of_the_running_gateway(env: Env) -> None:
    await env.ok("PATCH", "/api/settings", json={"breaker.failure-threshold": 1})
    env.mock.enqueue("POST", CHAT, Status(503, b"down"))
    with pytest.raises(openai.APIStatusError):
        await env.chat(f"acme/{MODEL}")
    key = await mcp_key(env)
    async with http_session(env, {"authorization": f"Bearer {key}"}) as session:
        over_http = (await call(session, "list_providers", {"name": "acme"}))["providers"]
    # From a shell, through the running gateway's admin file.
    async with stdio_session(env.gw.settings.data_dir) as session:
        over_stdio = (await call(session, "list_providers", {"name": "acme"}))["providers"]
    for (acme,) in (over_http, over_stdio):
        (breaker,) = acme["health"]["breakers"]
        assert (breaker["key"], breaker["state"], breaker["model"]) == (
            "model:acme/m1",
            "open",
            "m1",
        )

"""``--admin-port``: the dashboard and /api on a port of their own, the client
API on the main port only; each route answers on exactly one of them."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
import openai
import pytest

from omniroute.api.admin.access import CLIENT_KEY
from omniroute.settings import Settings
from tests.e2e.admin_helpers import Admin
from tests.support.harness import run_cli, running_gateway
from tests.support.mock_payloads import openai_chat_json
from tests.support.mock_upstream import Json, MockUpstream

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


async def test_each_side_answers_on_its_own_port_only(tmp_path: Path) -> None:
    async with MockUpstream() as upstream, running_gateway(tmp_path, admin_port=0) as gw:
        assert gw.gateway.admin_address is not None
        assert gw.admin_url != gw.base_url
        upstream.route("POST", "/v1/chat/completions", Json(openai_chat_json("hello", "m1")))
        await gw.add_provider("up", "openai", upstream.url + "/v1", "sk-up", ["m1"])
        main = gw.track(httpx.AsyncClient(base_url=gw.base_url, timeout=15))
        admin_port = gw.track(httpx.AsyncClient(base_url=gw.admin_url, timeout=15))

        sdk = gw.track(openai.AsyncOpenAI(base_url=gw.base_url + "/v1", api_key=gw.client_key))
        reply = await sdk.chat.completions.create(
            model="up/m1", messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.choices[0].message.content == "hello"

        # The management side is not on the main port, not even its public parts.
        for path in ("/api/auth/state", "/", "/index.html"):
            assert (await main.get(path)).status_code == 404, path
        assert (await admin_port.get("/api/auth/state")).status_code == 200
        # ...and the client API is not on the admin port, even with a key.
        key = {"authorization": f"Bearer {gw.client_key}"}
        assert (await admin_port.get("/v1/models", headers=key)).status_code == 404
        assert (await main.get("/v1/models", headers=key)).status_code == 200

        admin = await Admin.login(gw)
        assert (await admin.get("/api/status")).status_code == 200
        for method, pattern, label in gw.gateway.routes():
            path = re.sub(r"\\{[^}]+\\}", "x", pattern)
            on_main = await status_of(main, method, path)
            on_admin = await status_of(admin.http, method, path)
            if label == CLIENT_KEY or path == "/health":
                assert on_admin == 404, (method, pattern)
            else:
                assert on_main == 404, (method, pattern)


async def status_of(client: httpx.AsyncClient, method: str, path: str) -> int:
    """The status alone: live streams (the monitor, the console tail) never
    end by themselves, so the body is not read."""
    response = await client.send(client.build_request(method, path), stream=True)
    await response.aclose()
    return response.status_code


async def test_the_status_command_finds_the_admin_port(tmp_path: Path) -> None:
    async with running_gateway(tmp_path, admin_port=0) as gw:
        shown = await asyncio.to_thread(run_cli, "status", "--json", data_dir=gw.settings.data_dir)
        status = json.loads(shown.stdout)
        assert status["status"] == "ok"


def test_the_admin_port_must_differ_from_the_main_one() -> None:
    with pytest.raises(ValueError, match="admin port must differ"):
        Settings.load({"port": 20128, "admin_port": 20128}, env={})
    with pytest.raises(ValueError, match="admin port"):
        Settings.load({"admin_port": 70000}, env={})

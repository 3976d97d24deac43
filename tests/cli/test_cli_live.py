"""Routing configured with the CLI reaches a running gateway without a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from omniroute.app import Gateway
from tests.cli.helpers import cli_async
from tests.support.harness import running_gateway
from tests.support.mock_upstream import Json, MockUpstream, openai_chat_json

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

UPSTREAM_KEY = "sk-live-upstream-key-0123456789"


async def _ok(data: Path, *args: str) -> str:
    code, out, err = await cli_async(data, *args)
    assert code == 0, err
    return out


async def _wait_for_model(http: httpx.AsyncClient, model: str, present: bool) -> None:
    """Poll /v1/models until ``model`` is (or is no longer) listed; bounded."""
    for _ in range(100):
        ids = {m["id"] for m in (await http.get("/v1/models")).json()["data"]}
        if (model in ids) == present:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{model!r} {'never appeared' if present else 'stayed listed'}")


async def _wait_for_revision(gateway: Gateway) -> None:
    """Poll until the running gateway has loaded the store's latest revision."""
    latest = await gateway.store.revision()
    for _ in range(100):
        if gateway.registry().snapshot.revision >= latest:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the gateway never loaded revision {latest}")


async def test_cli_changes_reach_the_running_gateway(tmp_path: Path) -> None:
    async with MockUpstream() as mock, running_gateway(tmp_path) as gw:
        mock.route("POST", "/v1/chat/completions", Json(openai_chat_json("served", "m1")))
        data = Path(gw.settings.data_dir)
        await _ok(
            data,
            "provider",
            "add",
            "up",
            "--format",
            "openai",
            "--base-url",
            mock.url + "/v1",
            "--api-key",
            UPSTREAM_KEY,
            "--models",
            "m1",
        )
        await _ok(data, "provider", "set", "up", "--header", "X-Team=blue")
        await _ok(data, "combo", "add", "best", "up/m1", "--system-prompt", "Combo rule.")
        await _ok(data, "alias", "add", "fancy-*", "best")
        await _ok(data, "config", "set", "system-prompt", "Global rule.")
        auth = {"authorization": f"Bearer {gw.client_key}"}
        async with httpx.AsyncClient(base_url=gw.base_url, headers=auth, timeout=10) as http:
            await _wait_for_model(http, "best", present=True)
            await _wait_for_revision(gw.gateway)  # the last change (the global prompt) too
            answer = await http.post(
                "/v1/chat/completions",
                json={"model": "fancy-anything", "messages": [{"role": "user", "content": "x"}]},
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["choices"][0]["message"]["content"] == "served"
            sent = mock.requests[-1]
            assert sent.headers["x-team"] == "blue"
            assert sent.json()["model"] == "m1"
            system = " ".join(
                str(m["content"]) for m in sent.json()["messages"] if m["role"] == "system"
            )
            assert "Global rule." in system and "Combo rule." in system

            await _ok(data, "combo", "disable", "best")
            await _wait_for_model(http, "best", present=False)
            refused = await http.post(
                "/v1/chat/completions",
                json={"model": "best", "messages": [{"role": "user", "content": "x"}]},
            )
            assert refused.status_code == 404

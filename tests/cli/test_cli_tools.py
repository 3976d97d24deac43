"""``omniroute tools``: the real command against a running gateway's data
directory. A setup without --key creates a client key that is written into
the tool's file and never printed, and that key then works; a dry run
creates and writes nothing; undo removes what the setup created."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest

from omniroute.store.records import ComboTargetRecord
from tests.cli.helpers import cli_async
from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import Json, MockUpstream, openai_chat_json

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

UPSTREAM_KEY = "sk-tools-upstream-key-0123456789"
OPENCODE = ".config/opencode/opencode.json"


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Harness]:
    async with MockUpstream() as mock, running_gateway(tmp_path) as harness:
        mock.route("POST", "/v1/chat/completions", Json(openai_chat_json("from the mock", "m1")))
        await harness.add_provider("acme", "openai", f"{mock.url}/v1", UPSTREAM_KEY, ["m1"])
        await harness.config.upsert_combo("coder", [ComboTargetRecord("acme/m1")])
        await harness.reload()
        yield harness


async def keys(gw: Harness) -> list[str | None]:
    return [k.name for k in await gw.gateway.store.list_client_keys()]


async def chat_when_key_is_live(gw: Harness, base_url: str, key: str, model: str) -> str:
    """The gateway picks up a key the CLI created within a second: poll, bounded."""
    sdk = gw.track(openai.AsyncOpenAI(base_url=base_url, api_key=key, max_retries=0))
    for _ in range(100):
        try:
            done = await sdk.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "hi"}]
            )
            return done.choices[0].message.content or ""
        except openai.AuthenticationError:
            await asyncio.sleep(0.05)
    raise AssertionError("the new key never worked")


async def test_setup_dry_run_and_undo(gw: Harness, tmp_path: Path) -> None:
    data, home = gw.settings.data_dir, tmp_path / "home"
    before = await keys(gw)

    code, out, err = await cli_async(
        data, "tools", "setup", "opencode", "--home", str(home), "--url", gw.base_url, "--dry-run"
    )
    assert code == 0, err
    assert out.startswith("--- /dev/null\n+++ ") and '"model": "omniroute/coder"' in out
    assert "<new-client-key>" in out
    assert not home.exists() and await keys(gw) == before

    code, out, err = await cli_async(
        data, "tools", "setup", "opencode", "--home", str(home), "--url", gw.base_url
    )
    assert code == 0, err
    assert "a new client key" in out and "coder" in out
    assert await keys(gw) == [*before, "tool:opencode"]
    config = json.loads((home / OPENCODE).read_text())
    options = config["provider"]["omniroute"]["options"]
    assert options["apiKey"] not in out + err
    assert config["model"] == "omniroute/coder"
    assert list(config["provider"]["omniroute"]["models"]) == ["coder", "acme/m1"]
    text = await chat_when_key_is_live(gw, options["baseURL"], options["apiKey"], "coder")
    assert text == "from the mock"

    code, out, err = await cli_async(
        data, "tools", "setup", "opencode", "--home", str(home), "--undo"
    )
    assert code == 0, err
    assert "removed (it did not exist before)" in out
    assert [p for p in home.rglob("*") if p.is_file()] == []


async def test_copilot_file(gw: Harness) -> None:
    code, out, err = await cli_async(gw.settings.data_dir, "tools", "copilot", "--url", gw.base_url)
    assert code == 0, err
    [group] = json.loads(out)
    assert group["vendor"] == "customendpoint" and "apiKey" not in group
    assert [(m["id"], m["url"]) for m in group["models"]] == [
        ("coder", f"{gw.base_url}/v1/chat/completions"),
        ("acme/m1", f"{gw.base_url}/v1/chat/completions"),
    ]
    code, out, err = await cli_async(
        gw.settings.data_dir,
        "tools",
        "copilot",
        "--model",
        "coder",
        "--api",
        "responses",
        "--key",
        "sk-omni-asked-for",
        "--url",
        gw.base_url,
    )
    assert code == 0, err
    [group] = json.loads(out)
    assert group["apiKey"] == "sk-omni-asked-for" and group["apiType"] == "responses"
    assert [m["url"] for m in group["models"]] == [f"{gw.base_url}/v1/responses"]


async def test_errors_are_one_line(tmp_path: Path) -> None:
    data, home = tmp_path / "data", tmp_path / "home"
    code, out, err = await cli_async(data, "tools", "setup", "claude", "--home", str(home))
    assert code == 2 and out == ""
    assert err == "omniroute: the gateway serves no model yet: add a provider or pass --model\n"
    code, _out, err = await cli_async(data, "tools", "setup", "vim", "--home", str(home))
    assert code == 2 and "invalid choice: 'vim'" in err
    code, _out, err = await cli_async(
        data, "tools", "setup", "gemini", "--home", str(home), "--undo"
    )
    assert code == 2 and err.startswith("omniroute: no backup of gemini's settings")
    assert not home.exists()

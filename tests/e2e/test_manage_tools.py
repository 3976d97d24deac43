"""``/api/tools``: the dashboard's tool setup. A dry run shows the diff and
touches nothing; a setup writes the tool's file in the home of the user
the gateway runs as (HOME points at a temporary directory here) with a new
client key that then works against the gateway; undo puts the file back."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import anthropic
import pytest

from tests.e2e.manage_env import Env, answering_env

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

ACCOUNT_KEY = "sk-tools-account-key-00112233"
SETTINGS = ".claude/settings.json"


@pytest.fixture
async def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    async with answering_env(tmp_path, ACCOUNT_KEY) as e:
        await e.ok("POST", "/api/combos", 201, json={"name": "coder", "targets": ["acme/m1"]})
        yield e


def home(env: Env) -> Path:
    return Path.home()


async def key_count(env: Env) -> int:
    return len((await env.ok("GET", "/api/keys"))["keys"])


async def test_dry_run_setup_and_undo(env: Env) -> None:
    path = home(env) / SETTINGS
    path.parent.mkdir(parents=True)
    original = json.dumps({"theme": "dark", "env": {"DISABLE_TELEMETRY": "1"}}).encode()
    path.write_bytes(original)
    keys = await key_count(env)

    dry = await env.ok("POST", "/api/tools/claude/setup", json={"dry_run": True})
    assert dry["dry_run"] is True and dry["backup"] is None and dry["changed"] is True
    assert dry["path"] == str(path)
    assert '+    "ANTHROPIC_MODEL": "coder",' in dry["diff"]  # the first combo by default
    assert "<new-client-key>" in dry["diff"]
    assert path.read_bytes() == original and await key_count(env) == keys

    done = await env.ok(
        "POST", "/api/tools/claude/setup", json={"url": env.gw.base_url, "model": "acme/m1"}
    )
    assert done["key_created"] is not None and await key_count(env) == keys + 1
    assert done["backup"].endswith(".bak") and Path(done["backup"]).read_bytes() == original
    written = json.loads(path.read_text())
    assert written["theme"] == "dark" and written["env"]["DISABLE_TELEMETRY"] == "1"
    token = written["env"]["ANTHROPIC_AUTH_TOKEN"]
    # The key is in the file, never in an answer.
    assert all(token not in body for body in env.seen)

    # What Claude Code would do with these settings: it works.
    client = env.gw.track(
        anthropic.AsyncAnthropic(
            base_url=written["env"]["ANTHROPIC_BASE_URL"], auth_token=token, max_retries=0
        )
    )
    answer = await client.messages.create(
        model=written["env"]["ANTHROPIC_MODEL"],
        max_tokens=16,
        messages=[{"role": "user", "content": "hi"}],
    )
    assert answer.content[0].text == "hello from the mock"  # type: ignore[union-attr]

    listed = await env.ok("GET", "/api/tools")
    assert listed["home"] == str(home(env))
    claude = next(t for t in listed["tools"] if t["tool"] == "claude")
    assert claude == {"tool": "claude", "paths": [str(path)], "backups": 1}

    undone = await env.ok("POST", "/api/tools/claude/undo")
    assert undone["restored"] == [{"path": str(path), "backup": done["backup"], "deleted": False}]
    assert path.read_bytes() == original

    audit = (await env.ok("GET", "/api/audit"))["entries"]
    actions = [(e["action"], e["target"]) for e in audit[:3]]
    assert ("tools.undo", "claude") in actions and ("tools.setup", "claude") in actions


async def test_a_given_key_is_written_as_it_is_and_no_key_is_created(env: Env) -> None:
    keys = await key_count(env)
    given = "sk-omni-given-by-the-user-0123456789"
    done = await env.ok("POST", "/api/tools/codex/setup", json={"key": given, "model": "coder"})
    assert done["key_created"] is None and await key_count(env) == keys
    text = (home(env) / ".codex/config.toml").read_text()
    assert f'experimental_bearer_token = "{given}"' in text
    assert given not in done["diff"]
    undone = await env.ok("POST", "/api/tools/codex/undo")
    assert undone["restored"][0]["deleted"] is True
    assert not (home(env) / ".codex/config.toml").exists()


async def test_refusals(env: Env) -> None:
    message = await env.refused("POST", "/api/tools/vim/setup", 404, json={})
    assert "no tool 'vim'" in message
    message = await env.refused("POST", "/api/tools/claude/setup", 400, json={"modle": "x"})
    assert "unknown field 'modle'" in message
    message = await env.refused("POST", "/api/tools/claude/setup", 400, json={"url": "ftp://x"})
    assert "http://" in message
    message = await env.refused("POST", "/api/tools/gemini/undo", 400)
    assert "no backup" in message
    bad = home(env) / ".openclaw/openclaw.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{ gateway: { port: 1 } }")
    keys = await key_count(env)
    message = await env.refused("POST", "/api/tools/openclaw/setup", 400, json={})
    assert "not plain JSON" in message and bad.read_text() == "{ gateway: { port: 1 } }"
    assert await key_count(env) == keys  # no key made for a setup that was refused

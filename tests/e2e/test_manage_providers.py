"""Providers and accounts over the management API, through the real server:
each change takes effect for the client API at once, refusals name the
field and change nothing, and keys are never answered."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest

from omniroute.store.admin import AdminRows
from tests.e2e.manage_env import CHAT, MODEL, Env, manage_env, provider_body
from tests.support.mock_upstream import Json, Status, openai_error

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

KEY = "sk-acme-first-account-key-0001"
KEY2 = "sk-acme-second-account-key-0002"
CANARY = "sk-canary-7c1e9d2b4f6a8e0c3b5d"
PROXY_PASSWORD = "proxy-pass-5e8f1a"


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with manage_env(tmp_path) as e:
        yield e


def bearer(env: Env) -> str:
    return env.mock.requests[-1].headers["authorization"]


async def test_a_provider_added_over_the_api_serves_clients_at_once(env: Env) -> None:
    env.upstream_answers("hello from acme")
    created = await env.ok("POST", "/api/providers", 201, json=provider_body(env.mock, KEY))
    assert created["name"] == "acme" and created["format"] == "openai"
    assert created["base_url"] == env.mock.url + "/v1" and created["models"] == [MODEL]
    (account,) = created["accounts"]
    assert account["key"] == "…" + KEY[-4:] and account["enabled"] is True
    # No reload, no restart: the very next client request routes by it.
    assert await env.chat("acme/m1") == "hello from acme"
    assert bearer(env) == f"Bearer {KEY}"
    listed = await env.ok("GET", "/api/providers")
    assert [p["name"] for p in listed["providers"]] == ["acme"]
    assert await env.ok("GET", "/api/providers/acme") == created
    assert not any(KEY in body for body in env.seen)


async def test_provider_changes_take_effect_without_restart(env: Env) -> None:
    env.upstream_answers()
    await env.ok("POST", "/api/providers", 201, json=provider_body(env.mock, KEY))
    off = await env.ok("PATCH", "/api/providers/acme", json={"enabled": False})
    assert off["enabled"] is False
    with pytest.raises(openai.NotFoundError):
        await env.chat("acme/m1")
    await env.ok("PATCH", "/api/providers/acme", json={"enabled": True})
    await env.chat("acme/m1")

    changed = await env.ok(
        "PATCH",
        "/api/providers/acme",
        json={
            "models": ["m2"],
            "headers": {"X-Team": "blue", "X-Token": "tok-abcdef-0123456789"},
            "proxy": f"http://bob:{PROXY_PASSWORD}@127.0.0.1:9",
            "limits": {"rpm": 60, "max_concurrent": 2},
            "alias": "ac",
        },
    )
    assert changed["models"] == ["m2"] and changed["alias"] == "ac"
    assert changed["headers"] == {"X-Team": "****", "X-Token": "…6789"}
    assert changed["proxy"] == "http://bob:***@127.0.0.1:9"
    assert changed["limits"]["rpm"] == 60 and changed["limits"]["max_concurrent"] == 2
    # The proxy goes again (nothing listens there); the rest stays.
    kept = await env.ok(
        "PATCH", "/api/providers/acme", json={"proxy": None, "limits": {"rpm": None}}
    )
    assert kept["proxy"] is None and kept["limits"]["rpm"] is None
    assert kept["limits"]["max_concurrent"] == 2 and kept["models"] == ["m2"]
    await env.chat("ac/m2")
    sent = env.mock.requests[-1]
    assert sent.json()["model"] == "m2" and sent.headers["x-team"] == "blue"
    assert await env.ok("PATCH", "/api/providers/acme", json={"headers": {"X-Team": None}})
    await env.chat("acme/m2")
    assert "x-team" not in env.mock.requests[-1].headers

    deleted = await env.ok("DELETE", "/api/providers/acme")
    assert deleted == {"deleted": "acme", "combos_naming_it": {}}
    with pytest.raises(openai.NotFoundError):
        await env.chat("acme/m2")
    await env.refused("GET", "/api/providers/acme", 404)
    assert PROXY_PASSWORD not in "".join(env.seen)


async def test_capabilities_over_the_api(env: Env) -> None:
    body = {**provider_body(env.mock, KEY), "capabilities": ["chat"]}
    created = await env.ok("POST", "/api/providers", 201, json=body)
    assert created["capabilities"] == ["chat"]
    changed = await env.ok(
        "PATCH", "/api/providers/acme", json={"capabilities": ["embeddings", "chat"]}
    )
    assert changed["capabilities"] == ["chat", "embeddings"]
    default = await env.ok("PATCH", "/api/providers/acme", json={"capabilities": None})
    assert "speech" in default["capabilities"]  # a custom OpenAI-compatible server: everything
    message = await env.refused(
        "PATCH", "/api/providers/acme", 400, json={"capabilities": ["telepathy"]}
    )
    assert "telepathy" in message
    assert (await env.ok("GET", "/api/providers/acme")) == default


async def test_accounts_are_added_changed_and_removed(env: Env) -> None:
    env.upstream_answers()
    await env.ok("POST", "/api/providers", 201, json=provider_body(env.mock, KEY))
    second = await env.ok(
        "POST",
        "/api/providers/acme/accounts",
        201,
        json={"api_key": KEY2, "priority": 7, "limits": {"rpm": 30}},
    )
    assert second["key"] == "…" + KEY2[-4:] and second["priority"] == 7
    assert second["limits"]["rpm"] == 30
    duplicate = await env.refused(
        "POST", "/api/providers/acme/accounts", 409, json={"api_key": KEY2}
    )
    assert "already has an account with this key" in duplicate

    first = (await env.ok("GET", "/api/providers/acme"))["accounts"][0]
    changed = await env.ok("PATCH", f"/api/accounts/{first['id']}", json={"enabled": False})
    assert changed["enabled"] is False
    await env.chat("acme/m1")
    assert bearer(env) == f"Bearer {KEY2}"  # the first account is off now

    await env.ok("PATCH", f"/api/accounts/{first['id']}", json={"enabled": True, "priority": 9})
    await env.ok("DELETE", f"/api/accounts/{second['id']}")
    await env.chat("acme/m1")
    assert bearer(env) == f"Bearer {KEY}"
    await env.refused("DELETE", f"/api/accounts/{second['id']}", 404)
    await env.refused("PATCH", "/api/accounts/999", 404, json={"priority": 1})
    await env.refused("PATCH", "/api/accounts/abc", 404, json={"priority": 1})
    nothing = await env.refused("PATCH", f"/api/accounts/{first['id']}", 400, json={})
    assert "nothing to change: give at least one field" in nothing


async def test_refusals_name_the_field_and_change_nothing(env: Env) -> None:
    await env.ok("POST", "/api/providers", 201, json=provider_body(env.mock, KEY))
    store = env.gw.gateway.store
    revision, before = await store.revision(), await env.ok("GET", "/api/providers")
    b = provider_body(env.mock, KEY2, "b")
    cases: list[tuple[str, str, int, object, str]] = [
        ("POST", "/api/providers", 400, {}, "'name' is required"),
        ("POST", "/api/providers", 400, {"name": 5}, "'name' must be a string"),
        ("POST", "/api/providers", 400, {"name": "x", "api_key": "k"}, "'format' and 'base_url'"),
        ("POST", "/api/providers", 400, {**b, "format": "soap"},
         "'format' must be one of"),
        ("POST", "/api/providers", 400, {**b, "base_url": "ftp://h"},
         "'base_url' must be an http(s) URL"),
        ("POST", "/api/providers", 400, {**b, "api_key": "  "},
         "'api_key' must not be empty"),
        ("POST", "/api/providers", 400, {**b, "apikey": "k"},
         "unknown field 'apikey'"),
        ("POST", "/api/providers", 400, {**b, "priority": "high"},
         "'priority' must be a whole number"),
        ("POST", "/api/providers", 400, {**b, "priority": 10**30},
         "'priority' must be a whole number from"),
        ("POST", "/api/providers", 400, {**b, "models": "m1"},
         "'models' must be a list"),
        ("POST", "/api/providers", 400, {**b, "limits": {"rps": 1}},
         "unknown rate-limit fields: rps"),
        ("POST", "/api/providers", 400, {"name": "deepseek"}, "'api_key' is required"),
        ("POST", "/api/providers", 409, provider_body(env.mock, KEY2), "provider 'acme' exists"),
        ("PATCH", "/api/providers/acme", 400, {}, "nothing to change: give at least one field"),
        ("PATCH", "/api/providers/acme", 400, {"enabled": "yes"},
         "'enabled' must be true or false"),
        ("PATCH", "/api/providers/acme", 400, {"models": ["m9"], "proxy": "gopher://h"},
         "proxy URL must start with one of"),
        ("PATCH", "/api/providers/acme", 400, {"headers": {"X-A": 1}}, "'headers' must map"),
        ("PATCH", "/api/providers/ghost", 404, {"enabled": False}, "unknown provider 'ghost'"),
        ("DELETE", "/api/providers/ghost", 404, None, "unknown provider 'ghost'"),
        ("POST", "/api/providers/ghost/accounts", 404, {"api_key": KEY2}, "unknown provider"),
        ("POST", "/api/providers/ghost/test", 404, None, "unknown provider 'ghost'"),
        ("POST", "/api/providers/ghost/discover", 404, None, "unknown provider 'ghost'"),
    ]  # fmt: skip
    for method, path, status, body, words in cases:
        message = await env.refused(method, path, status, json=body)
        assert words in message, (method, path, body, message)
    not_json = await env.call("POST", "/api/providers", content=b"{nope")
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["error"]["message"]
    # Nothing of it was written: same revision, same providers.
    assert await store.revision() == revision
    assert await env.ok("GET", "/api/providers") == before


async def test_catalog_providers_and_keyless_local_servers(env: Env) -> None:
    catalog = await env.ok("GET", "/api/catalog")
    deepseek = next(p for p in catalog["providers"] if p["id"] == "deepseek")
    assert deepseek["models"] and deepseek["base_url"].startswith("https://")
    # By its alias, with a key: everything else from the catalog.
    added = await env.ok(
        "POST", "/api/providers", 201, json={"name": deepseek["alias"], "api_key": KEY}
    )
    assert added["name"] == "deepseek" and added["catalog"] == "deepseek"
    assert added["format"] == deepseek["format"] and added["models_from"] == "catalog"
    assert added["models"] == [m["id"] for m in deepseek["models"]]
    local = await env.ok("POST", "/api/providers", 201, json={"name": "ollama"})
    assert local["tier"] == "local" and local["accounts"][0]["key"] == "****"
    borrowed = await env.refused("POST", "/api/providers", 400, json={"name": "cc", "api_key": KEY})
    assert "only for Claude Code" in borrowed
    signed_in = await env.refused(
        "POST", "/api/providers", 400, json={"name": "chatgpt", "api_key": KEY}
    )
    assert "omniroute login chatgpt" in signed_in


async def test_a_provider_test_answers_latency_or_the_upstreams_error(env: Env) -> None:
    env.upstream_answers()
    await env.ok("POST", "/api/providers", 201, json=provider_body(env.mock, KEY))
    good = await env.ok("POST", "/api/providers/acme/test")
    assert good["ok"] is True and good["status"] == 200 and good["error"] is None
    assert isinstance(good["latency_ms"], float) and good["latency_ms"] >= 0
    assert good["model"] == MODEL and good["provider"] == "acme"
    sent = env.mock.requests[-1]
    assert sent.path == CHAT and sent.json()["max_tokens"] == 1 and bearer(env) == f"Bearer {KEY}"

    refusal = openai_error(f"Incorrect API key provided: {KEY}.", "invalid_request_error")
    env.mock.enqueue("POST", CHAT, Json(refusal, status=401))
    bad = await env.ok("POST", "/api/providers/acme/test", json={"model": "m7"})
    assert bad["ok"] is False and bad["status"] == 401 and bad["model"] == "m7"
    assert "Incorrect API key provided" in bad["error"] and KEY not in bad["error"]
    # A test leaves the gateway's routing state alone: the account serves on.
    await env.chat("acme/m1")

    env.mock.enqueue("POST", CHAT, Status(503, b"upstream overloaded"))
    busy = await env.ok("POST", "/api/providers/acme/test")
    assert busy["ok"] is False and busy["status"] == 503
    await env.refused("POST", "/api/providers/acme/test", 404, json={"account": 999})
    await env.refused("POST", "/api/providers/acme/test", 400, json={"model": 5})

    # No model known: the model listing is asked instead.
    env.mock.route("GET", "/bare/v1/models", Json({"data": [{"id": "x"}]}))
    bare = {**provider_body(env.mock, KEY2, "bare"), "base_url": env.mock.url + "/bare/v1"}
    del bare["models"]
    await env.ok("POST", "/api/providers", 201, json=bare)
    listing = await env.ok("POST", "/api/providers/bare/test")
    assert listing["ok"] is True and listing["model"] is None
    assert env.mock.requests[-1].path == "/bare/v1/models"


async def test_discovery_over_the_api(env: Env) -> None:
    env.mock.route("GET", "/v1/models", Json({"data": [{"id": MODEL}, {"id": "m-new"}]}))
    body = {**provider_body(env.mock, KEY), "models": ["mine", MODEL]}
    await env.ok("POST", "/api/providers", 201, json=body)
    found = await env.ok("POST", "/api/providers/acme/discover")
    assert found["listed"] == [MODEL, "m-new"] and found["added"] == ["m-new"]
    assert found["models"] == ["mine", MODEL, "m-new"] and found["kept"] == 1
    replaced = await env.ok("POST", "/api/providers/acme/discover", json={"replace": True})
    assert replaced["removed"] == ["mine"] and replaced["models"] == [MODEL, "m-new"]
    assert (await env.ok("GET", "/api/providers/acme"))["models"] == [MODEL, "m-new"]
    env.mock.route("GET", "/v1/models", Json(openai_error(f"bad key {KEY}"), status=403))
    refused = await env.refused("POST", "/api/providers/acme/discover", 400)
    assert "answered HTTP 403" in refused and KEY not in refused


async def test_a_canary_key_appears_in_no_answer_export_audit_row_or_log(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    env.upstream_answers()
    proxy = f"http://canary:{PROXY_PASSWORD}@127.0.0.1:9"
    await env.ok("POST", "/api/providers", 201, json=provider_body(env.mock, CANARY, proxy=proxy))
    account = await env.ok("POST", "/api/providers/acme/accounts", 201, json={"api_key": KEY2})
    await env.ok("PATCH", f"/api/accounts/{account['id']}", json={"proxy": proxy})
    await env.ok("PATCH", f"/api/accounts/{account['id']}", json={"proxy": None})
    await env.ok("PATCH", "/api/providers/acme", json={"headers": {"Authorization": CANARY}})
    await env.ok("GET", "/api/providers")
    await env.ok("GET", "/api/providers/acme")
    echo = openai_error(f"Incorrect API key provided: {CANARY}")
    env.mock.enqueue("POST", CHAT, Json(echo, status=401))
    await env.ok("POST", "/api/providers/acme/test", json={"account": account["id"] - 1})
    exported = await env.ok("GET", "/api/export?secrets=0")
    assert [p["name"] for p in exported["providers"]] == ["acme"]
    await env.ok("DELETE", "/api/providers/acme")
    entries = await env.ok("GET", "/api/audit")
    assert entries["entries"], "the changes were audited"
    rows = await AdminRows(env.gw.gateway.store).audit_log(1000)
    stored = json.dumps([(r.actor, r.action, r.target, dict(r.detail)) for r in rows])
    for secret in (CANARY, PROXY_PASSWORD, CANARY[-12:]):
        assert not any(secret in body for body in env.seen), secret
        assert secret not in stored, secret
        assert secret not in caplog.text, secret
    assert caplog.records, "logs were captured"

"""Combos, aliases, settings, health and the translator over the
management API, through the real server; every change is live for the
client API at once, and a refused one changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest

from tests.e2e.manage_env import CHAT, MODEL, Env, manage_env, provider_body
from tests.support.mock_upstream import Json, Status, openai_chat_json, openai_error

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

KEY = "sk-routing-account-key-000111"
PROXY_PASSWORD = "settings-proxy-pw-42"


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with manage_env(tmp_path) as e:
        e.upstream_answers()
        await e.ok("POST", "/api/providers", 201, json=provider_body(e.mock, KEY))
        second = {**provider_body(e.mock, KEY, "beta"), "base_url": e.mock.url + "/beta/v1"}
        await e.ok("POST", "/api/providers", 201, json=second)
        e.mock.route("POST", "/beta" + CHAT, Json(openai_chat_json("from beta", MODEL)))
        yield e


async def test_combos_round_trip_and_route_at_once(env: Env) -> None:
    created = await env.ok(
        "POST",
        "/api/combos",
        201,
        json={"name": "fast", "targets": ["acme/m1", "beta/m1"], "weights": [3, 1]},
    )
    assert created["strategy"] == "fill-first" and created["enabled"] is True
    assert [(t["ref"], t["weight"], t["problem"]) for t in created["targets"]] == [
        ("acme/m1", 3, None),
        ("beta/m1", 1, None),
    ]
    assert await env.chat("fast") == "hello from the mock"
    listed = await env.ok("GET", "/api/combos")
    assert listed["combos"] == [created]

    flipped = await env.ok(
        "PATCH",
        "/api/combos/fast",
        json={
            "targets": [{"ref": "beta/m1"}, {"ref": "acme/m1", "weight": 2, "enabled": False}],
            "system_prompt": "Be brief.",
        },
    )
    assert [t["ref"] for t in flipped["targets"]] == ["beta/m1", "acme/m1"]
    assert flipped["targets"][1]["enabled"] is False and flipped["system_prompt"] == "Be brief."
    assert await env.chat("fast") == "from beta"
    reweighted = await env.ok("PATCH", "/api/combos/fast", json={"weights": [5, 6]})
    assert [(t["weight"], t["enabled"]) for t in reweighted["targets"]] == [(5, True), (6, False)]
    await env.ok("PATCH", "/api/combos/fast", json={"enabled": False, "system_prompt": None})
    with pytest.raises(openai.NotFoundError):
        await env.chat("fast")

    await env.ok("POST", "/api/combos", 201, json={"name": "outer", "targets": ["fast"]})
    in_use = await env.refused("DELETE", "/api/combos/fast", 409)
    assert "target of combo 'outer'" in in_use
    await env.ok("DELETE", "/api/combos/outer")
    assert await env.ok("DELETE", "/api/combos/fast") == {"deleted": "fast"}
    assert (await env.ok("GET", "/api/combos"))["combos"] == []


async def test_combo_refusals_name_the_field_and_change_nothing(env: Env) -> None:
    await env.ok("POST", "/api/combos", 201, json={"name": "c", "targets": ["acme/m1"]})
    revision = await env.gw.gateway.store.revision()
    cases: list[tuple[str, str, int, object, str]] = [
        ("POST", "/api/combos", 400, {"targets": ["acme/m1"]}, "'name' is required"),
        ("POST", "/api/combos", 400, {"name": "d"}, "'targets' is required"),
        ("POST", "/api/combos", 400, {"name": "d", "targets": []}, "'targets' must be a non-empty"),
        ("POST", "/api/combos", 400, {"name": "d", "targets": ["acme/m1"], "weights": [1, 2]},
         "'weights' has 2 value(s) for 1 target(s)"),
        ("POST", "/api/combos", 400, {"name": "d", "targets": [{"ref": "acme/m1", "weight": -1}]},
         "'targets[0].weight' must hold whole numbers"),
        ("POST", "/api/combos", 400, {"name": "d", "targets": ["nope/x"]},
         "unknown target 'nope/x'"),
        ("POST", "/api/combos", 400, {"name": "d", "targets": ["acme/m1"], "strategy": "odd"},
         "unknown strategy"),
        ("POST", "/api/combos", 409, {"name": "c", "targets": ["beta/m1"]}, "combo 'c' exists"),
        ("PATCH", "/api/combos/c", 400, {"targets": ["c"]}, "cycle"),
        ("PATCH", "/api/combos/c", 400, {"enabled": "no"}, "'enabled' must be true or false"),
        ("PATCH", "/api/combos/ghost", 404, {"enabled": False}, "unknown combo 'ghost'"),
        ("DELETE", "/api/combos/ghost", 404, None, "unknown combo 'ghost'"),
        ("POST", "/api/combos/ghost/test", 404, None, "unknown combo 'ghost'"),
        ("POST", "/api/aliases", 400, {"pattern": "x"}, "'target' is required"),
        ("POST", "/api/aliases", 400, {"pattern": "x", "target": "y*"}, "more '*'"),
        ("DELETE", "/api/aliases/nope-*", 404, None, "unknown alias 'nope-*'"),
    ]  # fmt: skip
    for method, path, status, body, words in cases:
        message = await env.refused(method, path, status, json=body)
        assert words in message, (method, path, body, message)
    assert await env.gw.gateway.store.revision() == revision


async def test_a_combo_test_tries_each_target_in_order(env: Env) -> None:
    await env.ok(
        "POST", "/api/combos", 201, json={"name": "pair", "targets": ["acme/m1", "beta/m1"]}
    )
    env.mock.enqueue("POST", CHAT, Json(openai_error("no such model"), status=404))
    tested = await env.ok("POST", "/api/combos/pair/test")
    assert tested["ok"] is True
    first, second = tested["targets"]
    assert (first["target"], first["ok"], first["status"]) == ("acme/m1", False, 404)
    assert "no such model" in first["error"]
    assert (second["target"], second["ok"], second["status"]) == ("beta/m1", True, 200)
    assert [r.path for r in env.mock.requests[-2:]] == [CHAT, "/beta" + CHAT]
    await env.ok("PATCH", "/api/combos/pair", json={"enabled": False})
    off = await env.refused("POST", "/api/combos/pair/test", 400)
    assert "disabled" in off


async def test_aliases_round_trip(env: Env) -> None:
    added = await env.ok("POST", "/api/aliases", 201, json={"pattern": "gpt-*", "target": "beta/*"})
    assert added == {"pattern": "gpt-*", "target": "beta/*", "position": 0}
    await env.ok("POST", "/api/aliases", 201, json={"pattern": "old/model", "target": "acme/m1"})
    assert await env.chat("gpt-m1") == "from beta"
    assert await env.chat("old/model") == "hello from the mock"
    again = await env.refused(
        "POST", "/api/aliases", 409, json={"pattern": "gpt-*", "target": "acme/*"}
    )
    assert "alias 'gpt-*' exists" in again
    listed = await env.ok("GET", "/api/aliases")
    assert [a["pattern"] for a in listed["aliases"]] == ["gpt-*", "old/model"]
    await env.ok("DELETE", "/api/aliases/gpt-*")
    await env.ok("DELETE", "/api/aliases/old/model")
    assert (await env.ok("GET", "/api/aliases"))["aliases"] == []
    with pytest.raises(openai.NotFoundError):
        await env.chat("gpt-m1")


async def test_settings_show_defaults_and_change_all_or_nothing(env: Env) -> None:
    shown = (await env.ok("GET", "/api/settings"))["settings"]
    assert shown["breaker.failure-threshold"] == {"value": None, "default": 5}
    assert shown["audit-retention-days"] == {"value": None, "default": 90}
    assert shown["proxy"] == {"value": None, "default": None}
    assert shown["public-hosts"] == {"value": None, "default": []}

    changed = await env.ok(
        "PATCH",
        "/api/settings",
        json={
            "breaker.failure-threshold": 3,
            "fallback.max-attempts": 2,
            "proxy": f"socks5://me:{PROXY_PASSWORD}@127.0.0.1:1080",
            "system-prompt": "Global rule.",
        },
    )
    settings = changed["settings"]
    assert settings["breaker.failure-threshold"]["value"] == 3
    assert settings["proxy"]["value"] == "socks5://me:***@127.0.0.1:1080"
    options = env.gw.gateway.registry().options  # live at once, before the answer
    assert options.breaker.failure_threshold == 3 and options.system_prompt == "Global rule."

    revision = await env.gw.gateway.store.revision()
    cases: list[tuple[object, str]] = [
        ({"breaker.failure-threshold": 0, "fallback.max-attempts": 7},
         "'breaker.failure-threshold': setting breaker.failure_threshold must be a whole"),
        ({"fallback.max-attempts": 7, "breaker.window": "soon"}, "'breaker.window'"),
        ({"fallback.max-attempts": 7, "account-strategy": "odd"},
         "'account-strategy': unknown strategy"),
        ({"fallback.max-attempts": 7, "cooldown.cap": 0.5}, "must not be below cooldown.base"),
        ({"fallback.max-attempts": 7, "audit-retention-days": 0}, "'audit-retention-days'"),
        ({"fallback.max-attempts": 7, "public-hosts": ["bad host!"]}, "'public-hosts'"),
        ({"fallback.max-attempts": 7, "no.such": 1}, "unknown field 'no.such'"),
        ({}, "nothing to change"),
    ]  # fmt: skip
    for body, words in cases:
        message = await env.refused("PATCH", "/api/settings", 400, json=body)
        assert words in message, (body, message)
    assert await env.gw.gateway.store.revision() == revision
    after = (await env.ok("GET", "/api/settings"))["settings"]
    assert after["fallback.max-attempts"]["value"] == 2  # the valid half was not written

    restored = await env.ok(
        "PATCH", "/api/settings", json={"proxy": None, "breaker.failure-threshold": None}
    )
    assert restored["settings"]["proxy"]["value"] is None
    assert restored["settings"]["breaker.failure-threshold"] == {"value": None, "default": 5}
    assert not any(PROXY_PASSWORD in body for body in env.seen)


async def test_health_shows_and_resets_cooldowns_and_breakers(env: Env) -> None:
    await env.ok("PATCH", "/api/settings", json={"breaker.failure-threshold": 1})
    env.mock.enqueue("POST", CHAT, Status(429, b'{"error":{"message":"slow down"}}'))
    with pytest.raises(openai.RateLimitError):
        await env.chat("acme/m1")
    env.mock.enqueue("POST", "/beta" + CHAT, Status(500, b"boom"))
    with pytest.raises(openai.InternalServerError):
        await env.chat("beta/m1")

    health = await env.ok("GET", "/api/health")
    (cooling,) = health["cooldowns"]
    assert cooling["scope"] == "account" and cooling["provider"] == "acme"
    assert cooling["model"] == MODEL and cooling["reason"] == "rate_limit"
    model_breaker = next(b for b in health["breakers"] if b["key"] == "model:beta/m1")
    assert model_breaker["state"] == "open" and model_breaker["provider"] == "beta"
    # Still resting: the request is refused without reaching the upstream.
    sent = len(env.mock.requests)
    with pytest.raises(openai.APIStatusError):
        await env.chat("acme/m1")
    assert len(env.mock.requests) == sent

    reset = await env.ok("POST", "/api/health/reset", json={"target": "acme"})
    assert reset["reset"] == ["account:1/m1", "provider:acme"]
    assert await env.chat("acme/m1") == "hello from the mock"
    assert (await env.ok("GET", "/api/health"))["cooldowns"] == []
    one = await env.ok("POST", "/api/health/reset", json={"target": "model:beta/m1"})
    assert one["reset"] == ["model:beta/m1"]
    assert await env.chat("beta/m1") == "from beta"
    everything = await env.ok("POST", "/api/health/reset")
    assert "model:beta/m1" in everything["reset"]
    unknown = await env.refused("POST", "/api/health/reset", 404, json={"target": "ghost"})
    assert "nothing to reset for 'ghost'" in unknown
    await env.refused("POST", "/api/health/reset", 400, json={"target": 3})


async def test_the_translator_playground(env: Env) -> None:
    chat = {
        "model": "gpt-x",
        "max_tokens": 50,
        "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "hi"},
        ],
    }
    anthropic = await env.ok(
        "POST", "/api/translate", json={"from": "openai", "to": "anthropic", "body": chat}
    )
    assert anthropic["body"]["system"] == "Be terse." and anthropic["body"]["max_tokens"] == 50
    assert anthropic["body"]["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]}
    ]
    gemini = await env.ok(
        "POST",
        "/api/translate",
        json={"from": "anthropic", "to": "gemini", "body": anthropic["body"]},
    )
    assert gemini["body"]["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    back = await env.ok(
        "POST",
        "/api/translate",
        json={"from": "openai", "to": "openai-responses", "body": chat},
    )
    assert back["body"]["instructions"] == "Be terse."
    for body, words in (
        ({"from": "soap", "to": "openai", "body": chat}, "'from' must be one of"),
        ({"from": "openai", "to": "gemini"}, "'body' is required"),
        ({"from": "openai", "to": "gemini", "body": []}, "'body' must be an object"),
        ({"from": "openai", "to": "gemini", "body": {"messages": 5}},
         "'body' is not a valid openai request"),
    ):  # fmt: skip
        message = await env.refused("POST", "/api/translate", 400, json=body)
        assert words in message, (body, message)

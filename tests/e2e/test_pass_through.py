"""Pass-through accounts, end to end: Claude Code's own subscription token
(here the official Anthropic SDK sending a bearer and Claude Code's
headers) forwarded untouched to a fake Anthropic upstream, the fallback to
a key account of another format when the subscription refuses, and the
token nowhere else: not in the database file, the log file, the console
log, the debug capture, another upstream or any answer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.admin_helpers import Admin
from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import (
    Json,
    MockUpstream,
    RecordedRequest,
    Sse,
    anthropic_error,
    anthropic_json,
    anthropic_sse,
    gemini_json,
    openai_chat_json,
    openai_error,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

# Claude Code's subscription tokens look like this (``sk-ant-oat01-`` prefix).
BEARER = "sk-ant-oat01-Xq7vR2mK9pL4wT8nB3cF6hJ1dS5gA0eZ-developer-one-AA"
OTHER_BEARER = "sk-ant-oat01-Yw3kP8sN2qM7vT1xC4bG9fH6jD0aL5eR-developer-two-BB"
BACKUP_KEY = "sk-backup-upstream-key-5f4e3d2c1b0a"
MODEL = "claude-sonnet-4-5-20250929"
COMBO = "coding"
SUBSCRIPTION_ANSWER = "Answered by the subscription."
BACKUP_ANSWER = "Answered by the backup."
# Claude Code's own headers (CLAUDE_CODE's sign-in needs the OAuth beta).
CLAUDE_CODE_HEADERS = {"anthropic-beta": "oauth-2025-04-20", "x-app": "cli"}


@dataclass
class Env:
    gw: Harness
    mock: MockUpstream
    admin: Admin
    tmp: Path
    seen: list[str] = field(default_factory=list)  # every answer, for the token check

    def claude_code(self, bearer: str = BEARER, gateway_key: str | None = None) -> Any:
        """The Anthropic SDK as Claude Code signed in with its subscription
        and pointed at the gateway: its own bearer, the gateway key in
        X-OmniRoute-Key (``ANTHROPIC_CUSTOM_HEADERS``)."""
        headers = dict(CLAUDE_CODE_HEADERS)
        if gateway_key != "":
            headers["X-OmniRoute-Key"] = gateway_key or self.gw.client_key
        return self.gw.track(
            anthropic.AsyncAnthropic(
                base_url=self.gw.base_url,
                api_key=None,
                auth_token=bearer,
                default_headers=headers,
                max_retries=0,
                timeout=15,
            )
        )

    async def ask(self, client: anthropic.AsyncAnthropic, model: str = COMBO) -> str:
        raw = await client.messages.with_raw_response.create(
            model=model, max_tokens=64, messages=[{"role": "user", "content": "Hello"}]
        )
        self.seen.append(raw.http_response.text + json.dumps(dict(raw.headers)))
        answer = await raw.parse()
        return "".join(b.text for b in answer.content if b.type == "text")

    async def admin_ok(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        answer = await self.admin.call(method, path, **kw)
        self.seen.append(answer.text)
        assert answer.status_code == status, (path, answer.status_code, answer.text)
        return answer.json()

    def subscription_calls(self) -> list[RecordedRequest]:
        return [r for r in self.mock.requests if r.path.startswith("/ant/")]

    def backup_calls(self) -> list[RecordedRequest]:
        return [r for r in self.mock.requests if r.path.startswith("/oa/")]


@pytest.fixture
async def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    # The SDK would add a key of its own from the environment.
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    async with MockUpstream() as mock, running_gateway(tmp_path) as gw:
        e = Env(gw, mock, await Admin.login(gw), tmp_path)
        mock.route("POST", "/ant/v1/messages", Json(anthropic_json(SUBSCRIPTION_ANSWER, MODEL)))
        mock.route("POST", "/oa/v1/chat/completions", Json(openai_chat_json(BACKUP_ANSWER, "m")))
        added = await e.admin_ok(
            "POST",
            "/api/providers",
            201,
            json={"name": "claude-passthrough", "base_url": mock.url + "/ant/v1"},
        )
        assert "Claude Code" in added["notice"] and "X-OmniRoute-Key" in added["notice"]
        backup = {
            "name": "backup",
            "format": "openai",
            "base_url": mock.url + "/oa/v1",
            "api_key": BACKUP_KEY,
            "models": ["m"],
        }
        await e.admin_ok("POST", "/api/providers", 201, json=backup)
        combo = {"name": COMBO, "targets": [f"claude-passthrough/{MODEL}", "backup/m"]}
        await e.admin_ok("POST", "/api/combos", 201, json=combo)
        yield e


def quoting(request: RecordedRequest) -> Json:
    """A refusal that quotes the credential it was sent."""
    token = request.headers["authorization"].removeprefix("Bearer ")
    return Json(anthropic_error(f"invalid bearer {token}", "invalid_request_error"), 400)


def refuse_with_429(env: Env) -> None:
    """The subscription's quota is spent (Anthropic's unified rate limit)."""
    env.mock.enqueue(
        "POST",
        "/ant/v1/messages",
        Json(
            anthropic_error("Number of requests has exceeded your rate limit", "rate_limit_error"),
            429,
            headers={"retry-after": "600", "anthropic-ratelimit-unified-status": "rejected"},
        ),
    )


async def test_the_bearer_reaches_the_upstream_byte_identical(env: Env) -> None:
    assert await env.ask(env.claude_code()) == SUBSCRIPTION_ANSWER
    (sent,) = env.subscription_calls()
    assert sent.headers["authorization"] == f"Bearer {BEARER}"
    assert "x-api-key" not in sent.headers
    # The client's own headers go along; the gateway's key does not.
    assert sent.headers["anthropic-beta"] == "oauth-2025-04-20"
    assert sent.headers["x-app"] == "cli"
    assert sent.headers["user-agent"].startswith("AsyncAnthropic/Python")
    assert sent.headers["anthropic-version"]  # the SDK's own, whichever it is
    assert not any(name.startswith("x-omniroute") for name in sent.headers)
    assert env.gw.client_key not in json.dumps(sent.headers)
    assert sent.json()["model"] == MODEL
    assert env.backup_calls() == []


async def test_a_429_falls_back_to_the_next_target_translated(env: Env) -> None:
    refuse_with_429(env)
    assert await env.ask(env.claude_code()) == BACKUP_ANSWER
    (tried,) = env.subscription_calls()
    assert tried.headers["authorization"] == f"Bearer {BEARER}"
    (served,) = env.backup_calls()
    # The backup gets its own key, an OpenAI request, and nothing of the client's.
    assert served.headers["authorization"] == f"Bearer {BACKUP_KEY}"
    assert served.json()["messages"][-1] == {"role": "user", "content": "Hello"}
    assert BEARER not in json.dumps(served.headers) + served.body.decode()
    assert "x-app" not in served.headers
    # While that subscription rests, the next request goes straight to the backup.
    assert await env.ask(env.claude_code()) == BACKUP_ANSWER
    assert len(env.subscription_calls()) == 1


async def test_a_streamed_request_falls_back_when_the_subscription_is_down(env: Env) -> None:
    env.mock.enqueue(
        "POST",
        "/ant/v1/messages",
        Json(anthropic_error("Overloaded", "overloaded_error"), 529),
    )
    env.mock.route("POST", "/oa/v1/chat/completions", Json(openai_chat_json(BACKUP_ANSWER, "m")))
    client = env.claude_code()
    async with client.messages.stream(
        model=COMBO, max_tokens=64, messages=[{"role": "user", "content": "Hello"}]
    ) as stream:
        text = "".join([chunk async for chunk in stream.text_stream])
    assert text == BACKUP_ANSWER
    assert len(env.subscription_calls()) == 1 and len(env.backup_calls()) == 1


async def test_one_developers_rest_does_not_block_another(env: Env) -> None:
    refuse_with_429(env)
    assert await env.ask(env.claude_code(BEARER)) == BACKUP_ANSWER
    # The second developer's subscription still serves...
    assert await env.ask(env.claude_code(OTHER_BEARER)) == SUBSCRIPTION_ANSWER
    first, second = env.subscription_calls()
    assert first.headers["authorization"] == f"Bearer {BEARER}"
    assert second.headers["authorization"] == f"Bearer {OTHER_BEARER}"
    # ...while the first one's rests.
    assert await env.ask(env.claude_code(BEARER)) == BACKUP_ANSWER
    assert len(env.subscription_calls()) == 2
    cooling = json.dumps(await env.admin_ok("GET", "/api/status"))
    assert BEARER not in cooling and OTHER_BEARER not in cooling


async def test_a_request_without_x_omniroute_key_is_refused(env: Env) -> None:
    client = env.claude_code(gateway_key="")
    with pytest.raises(anthropic.AuthenticationError) as refused:
        await client.messages.create(
            model=COMBO, max_tokens=64, messages=[{"role": "user", "content": "Hello"}]
        )
    assert refused.value.status_code == 401
    body = refused.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "authentication_error"
    assert BEARER not in json.dumps(body) and BEARER not in refused.value.response.text
    # A wrong gateway key is refused the same way.
    with pytest.raises(anthropic.AuthenticationError):
        await env.claude_code(gateway_key="sk-omni-not-a-key-0123").messages.create(
            model=COMBO, max_tokens=64, messages=[{"role": "user", "content": "Hello"}]
        )
    assert env.mock.requests == []


async def test_without_a_credential_of_its_own_a_request_skips_the_pass_through(
    env: Env,
) -> None:
    plain = env.gw.track(
        anthropic.AsyncAnthropic(
            base_url=env.gw.base_url, api_key=env.gw.client_key, max_retries=0, timeout=15
        )
    )
    assert await env.ask(plain) == BACKUP_ANSWER
    assert env.subscription_calls() == []
    with pytest.raises(anthropic.APIStatusError) as nowhere:
        await plain.messages.create(
            model=f"claude-passthrough/{MODEL}",
            max_tokens=64,
            messages=[{"role": "user", "content": "Hello"}],
        )
    assert nowhere.value.status_code == 503
    assert "no credential of its own" in nowhere.value.message
    assert env.subscription_calls() == []


async def test_the_bearer_is_nowhere_else(env: Env, info_logs: None) -> None:
    log_path = env.tmp / "logs" / "omniroute.log"
    log_path.parent.mkdir()
    settings = {"log.file": str(log_path), "request-log.capture-bodies": "on"}
    await env.admin_ok("PATCH", "/api/settings", json=settings)
    client = env.claude_code()
    assert await env.ask(client) == SUBSCRIPTION_ANSWER
    refuse_with_429(env)
    assert await env.ask(client) == BACKUP_ANSWER
    # An upstream that quotes the token back in its refusal.
    env.mock.route("POST", "/ant/v1/messages", quoting)
    with pytest.raises(anthropic.BadRequestError) as quoted:
        await env.claude_code(OTHER_BEARER).messages.create(
            model=COMBO, max_tokens=64, messages=[{"role": "user", "content": "Hello"}]
        )
    assert "invalid bearer" in quoted.value.message
    assert OTHER_BEARER not in quoted.value.message
    env.seen.append(quoted.value.response.text)
    # A streamed answer, then everything failing.
    env.mock.route("POST", "/ant/v1/messages", Sse(anthropic_sse(["Stre", "amed."], MODEL)))
    async with env.claude_code(OTHER_BEARER).messages.stream(
        model=COMBO, max_tokens=64, messages=[{"role": "user", "content": "Hello"}]
    ) as stream:
        assert "".join([c async for c in stream.text_stream]) == "Streamed."
    env.mock.route(
        "POST", "/oa/v1/chat/completions", Json(openai_error("backup down", "server_error"), 500)
    )
    refuse_with_429(env)
    with pytest.raises(anthropic.APIStatusError) as failed:
        await env.claude_code(OTHER_BEARER).messages.create(
            model=COMBO, max_tokens=64, messages=[{"role": "user", "content": "Hello"}]
        )
    env.seen.append(failed.value.response.text)

    await env.gw.gateway.store.flush_logs()
    rows = (await env.admin_ok("GET", "/api/logs/requests"))["requests"]
    assert len(rows) >= 5
    for row in rows:
        await env.admin_ok("GET", f"/api/logs/requests/{row['id']}")
    captured = await env.admin_ok("GET", f"/api/logs/requests/{rows[-1]['id']}")
    assert captured["capture"]["request_headers"]["authorization"] == "***"
    await env.admin_ok("GET", "/api/logs/console", params={"limit": "2000"})
    await env.admin_ok("GET", "/api/providers")
    await env.admin_ok("GET", "/api/status")
    await env.admin_ok("GET", "/api/audit")
    env.gw.gateway.log_file.close()  # writes what is queued
    assert log_path.read_text()  # the log did get lines
    files = [log_path, *env.gw.settings.data_dir.glob("*.db*")]
    assert any(p.name.endswith(".db") for p in files)
    for path in files:
        raw = path.read_bytes()
        for token in (BEARER, OTHER_BEARER):
            assert token.encode() not in raw, path
            assert token[-24:].encode() not in raw, path  # not even its tail
    for text in env.seen:
        for token in (BEARER, OTHER_BEARER):
            assert token not in text
    # The backups never saw a subscription token either.
    for sent in env.backup_calls():
        assert "sk-ant-oat01" not in json.dumps(sent.headers) + sent.body.decode()


async def test_the_same_idempotency_key_is_not_shared_across_credentials(env: Env) -> None:
    env.mock.route(
        "POST",
        "/ant/v1/messages",
        lambda req: Json(anthropic_json(req.headers["authorization"][-2:], MODEL)),
    )
    headers = {"Idempotency-Key": "same-key-1"}
    first = await env.claude_code(BEARER).messages.create(
        model=COMBO,
        max_tokens=64,
        messages=[{"role": "user", "content": "Hello"}],
        extra_headers=headers,
    )
    second = await env.claude_code(OTHER_BEARER).messages.create(
        model=COMBO,
        max_tokens=64,
        messages=[{"role": "user", "content": "Hello"}],
        extra_headers=headers,
    )
    assert [first.content[0].text, second.content[0].text] == ["AA", "BB"]  # type: ignore[union-attr]
    assert len(env.subscription_calls()) == 2


# -- any provider: a team where each developer brings a key ---------------------------


async def _pass_through_provider(env: Env, name: str, fmt: str, prefix: str) -> None:
    added = await env.admin_ok(
        "POST",
        "/api/providers",
        201,
        json={
            "name": name,
            "format": fmt,
            "base_url": f"{env.mock.url}/{prefix}",
            "models": ["m"],
            "pass_through": True,
        },
    )
    (account,) = added["accounts"]
    assert account["kind"] == "pass-through" and account["key"] is None
    assert "X-OmniRoute-Key" in added["notice"]


async def test_an_anthropic_key_in_x_api_key_is_passed_through(env: Env) -> None:
    """The way Claude Code sends ANTHROPIC_API_KEY (the SDK sends a bearer)."""
    own_key = "sk-ant-api03-developer-own-key-0123456789abcdef"
    await _pass_through_provider(env, "team-ant", "anthropic", "team/v1")
    env.mock.route("POST", "/team/v1/messages", Json(anthropic_json("team answer", "m")))
    async with httpx.AsyncClient(base_url=env.gw.base_url, timeout=15) as http:
        answer = await http.post(
            "/v1/messages",
            headers={
                "x-api-key": own_key,
                "X-OmniRoute-Key": env.gw.client_key,
                "anthropic-version": "2023-06-01",
            },
            json={
                "model": "team-ant/m",
                "max_tokens": 64,
                "messages": [{"role": "user", "content": "Hi"}],
            },
        )
    assert answer.status_code == 200 and answer.json()["content"][0]["text"] == "team answer"
    (sent,) = [r for r in env.mock.requests if r.path.startswith("/team/")]
    assert sent.headers["x-api-key"] == own_key and "authorization" not in sent.headers
    assert own_key not in answer.text


async def test_a_gemini_key_in_x_goog_api_key_is_passed_through(env: Env) -> None:
    own_key = "AIzaSyDeveloperOwnKey0123456789abcdefgh"
    await _pass_through_provider(env, "team-gem", "gemini", "gem/v1beta")
    env.mock.route(
        "POST", "/gem/v1beta/models/m:generateContent", Json(gemini_json("gemini answer", "m"))
    )
    client = genai.Client(
        api_key=own_key,
        http_options=gtypes.HttpOptions(
            base_url=env.gw.base_url,
            api_version="v1beta",
            timeout=15_000,
            headers={"X-OmniRoute-Key": env.gw.client_key},
        ),
    )
    env.gw.track(client.aio)
    answer = await client.aio.models.generate_content(model="team-gem/m", contents="Hello")
    assert answer.text == "gemini answer"
    (sent,) = [r for r in env.mock.requests if r.path.startswith("/gem/")]
    assert sent.headers["x-goog-api-key"] == own_key
    assert "authorization" not in sent.headers and "key" not in sent.query


async def test_a_translated_pass_through_sends_the_key_the_providers_way(env: Env) -> None:
    """An OpenAI-SDK client's own Gemini key, sent as a bearer, reaches a
    Gemini upstream in the header Gemini reads."""
    own_key = "AIzaSyAnotherDeveloperKey0123456789abcd"
    await _pass_through_provider(env, "team-gem", "gemini", "gem/v1beta")
    env.mock.route(
        "POST", "/gem/v1beta/models/m:generateContent", Json(gemini_json("translated", "m"))
    )
    client = env.gw.track(
        openai.AsyncOpenAI(
            base_url=env.gw.base_url + "/v1",
            api_key=own_key,
            default_headers={"X-OmniRoute-Key": env.gw.client_key},
            max_retries=0,
            timeout=15,
        )
    )
    done = await client.chat.completions.create(
        model="team-gem/m", messages=[{"role": "user", "content": "Hello"}]
    )
    assert done.choices[0].message.content == "translated"
    (sent,) = [r for r in env.mock.requests if r.path.startswith("/gem/")]
    assert sent.headers["x-goog-api-key"] == own_key and "authorization" not in sent.headers


async def test_the_management_api_lists_and_guards_pass_through_accounts(env: Env) -> None:
    shown = await env.admin_ok("GET", "/api/providers/claude-passthrough")
    (account,) = shown["accounts"]
    assert account["kind"] == "pass-through" and account["key"] is None
    assert shown["tier"] == "subscription" and shown["catalog"] == "claude-passthrough"
    backup = await env.admin_ok("GET", "/api/providers/backup")
    assert backup["accounts"][0]["kind"] == "api_key"
    # One pass-through account per provider; it takes no key.
    again = await env.admin.post("/api/providers/claude-passthrough/accounts", json={})
    assert again.status_code == 409 and "pass-through account already" in again.text
    keyed = await env.admin.post(
        "/api/providers/backup/accounts", json={"pass_through": True, "api_key": "sk-x-123456"}
    )
    assert keyed.status_code == 400 and "stores no key" in keyed.json()["error"]["message"]
    added = await env.admin_ok(
        "POST", "/api/providers/backup/accounts", 201, json={"pass_through": True}
    )
    assert added["kind"] == "pass-through" and "X-OmniRoute-Key" in added["notice"]
    # A key account still needs its key.
    bare = await env.admin.post("/api/providers/backup/accounts", json={})
    assert bare.status_code == 400 and "'api_key' is required" in bare.text
    # Nothing to test a pass-through account with.
    probe = await env.admin_ok("POST", "/api/providers/claude-passthrough/test", json={})
    assert probe["ok"] is False and "no credential of its own" in probe["error"]
    assert env.subscription_calls() == []
    catalog = await env.admin_ok("GET", "/api/catalog")
    (entry,) = [p for p in catalog["providers"] if p["id"] == "claude-passthrough"]
    assert entry["auth"] == "pass-through" and "own risk" in entry["notice"]


async def test_the_request_log_names_the_pass_through_account(env: Env) -> None:
    assert await env.ask(env.claude_code()) == SUBSCRIPTION_ANSWER
    await env.gw.gateway.store.flush_logs()
    (row,) = (await env.admin_ok("GET", "/api/logs/requests"))["requests"]
    assert row["provider"] == "claude-passthrough" and row["status"] == 200
    async with httpx.AsyncClient(base_url=env.gw.base_url, timeout=15) as http:
        models = await http.get("/v1/models", headers={"x-omniroute-key": env.gw.client_key})
    assert f"ccp/{MODEL}" in {m["id"] for m in models.json()["data"]}


async def test_a_fallback_to_an_anthropic_key_drops_the_subscription_beta(env: Env) -> None:
    key = "sk-ant-api03-team-fallback-key-0123456789"
    body = {
        "name": "ant-key",
        "format": "anthropic",
        "base_url": env.mock.url + "/antkey/v1",
        "api_key": key,
        "models": [MODEL],
    }
    await env.admin_ok("POST", "/api/providers", 201, json=body)
    combo = {"name": "claude", "targets": [f"claude-passthrough/{MODEL}", f"ant-key/{MODEL}"]}
    await env.admin_ok("POST", "/api/combos", 201, json=combo)
    env.mock.route("POST", "/antkey/v1/messages", Json(anthropic_json("from the key", MODEL)))
    refuse_with_429(env)
    client = env.claude_code()
    answer = await client.messages.create(
        model="claude",
        max_tokens=64,
        messages=[{"role": "user", "content": "Hello"}],
        extra_headers={"anthropic-beta": "claude-code-20250219,oauth-2025-04-20"},
    )
    assert answer.content[0].text == "from the key"  # type: ignore[union-attr]
    (sent,) = [r for r in env.mock.requests if r.path.startswith("/antkey/")]
    assert sent.headers["x-api-key"] == key and "authorization" not in sent.headers
    assert sent.headers["anthropic-beta"] == "claude-code-20250219"
    assert BEARER not in json.dumps(sent.headers) and "x-app" not in sent.headers


async def test_the_health_view_names_and_resets_one_credentials_rest(env: Env) -> None:
    refuse_with_429(env)
    assert await env.ask(env.claude_code()) == BACKUP_ANSWER
    health = await env.admin_ok("GET", "/api/health")
    (rest,) = [c for c in health["cooldowns"] if c.get("provider") == "claude-passthrough"]
    assert rest["scope"] == "account" and rest["model"] == MODEL
    assert rest["account"] == 1 and rest["client"] and rest["client"] not in BEARER
    reset = await env.admin_ok("POST", "/api/health/reset", json={"target": "claude-passthrough"})
    assert rest["key"] in reset["reset"]
    assert await env.ask(env.claude_code()) == SUBSCRIPTION_ANSWER


async def test_answers_paid_by_a_clients_own_credential_are_never_cached(env: Env) -> None:
    await env.gw.config.change_settings({"cache.enabled": "on"})
    await env.gw.reload()
    client = env.claude_code()
    for _ in range(2):
        raw = await client.messages.with_raw_response.create(
            model=COMBO,
            max_tokens=64,
            messages=[{"role": "user", "content": "Hello"}],
            extra_body={"temperature": 0},  # deterministic: cacheable but for its credential
        )
        assert "x-omniroute-cache" not in raw.headers
    # Both went to the subscription: one developer's answer is never served
    # to another, who may share the gateway key.
    assert len(env.subscription_calls()) == 2

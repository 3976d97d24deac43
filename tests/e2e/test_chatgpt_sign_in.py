"""Sign in with ChatGPT end to end, against a loopback stand-in of the issuer
and of the plan-paid Responses API (``tests/support/fake_chatgpt.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types as genai_types

from omniroute.providers.oauth.chatgpt import ISSUER_ENV
from omniroute.store import sign_ins
from tests.e2e.admin_helpers import Admin
from tests.support.fake_chatgpt import FakeChatGPT
from tests.support.harness import Harness, running_gateway

pytestmark = pytest.mark.anyio

MODEL = "chatgpt/gpt-plan"
ANSWER = "Hello from the plan"


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeChatGPT]:
    async with FakeChatGPT() as server:
        monkeypatch.setenv(ISSUER_ENV, server.issuer)
        yield server


@pytest.fixture
async def gw(tmp_path: Path, fake: FakeChatGPT) -> AsyncIterator[Harness]:
    async with running_gateway(tmp_path) as harness:
        # The provider row exists before the sign-in, pointed at the stand-in
        # API (as `omniroute provider set chatgpt --base-url` would).
        await harness.gateway.store.upsert_provider("chatgpt", "openai-responses", fake.api)
        yield harness


async def _sign_in(admin: Admin, fake: FakeChatGPT, *, listen: bool = True) -> dict[str, object]:
    started = await admin.post("/api/oauth/chatgpt/start", json={"listen": listen})
    assert started.status_code == 200, started.text
    flow = started.json()
    back = fake.approve(str(flow["url"]))
    if listen:
        async with httpx.AsyncClient(timeout=15) as browser:
            page = await browser.get(back)
        assert page.status_code == 200, page.text
        assert "Signed in" in page.text and fake.email in page.text
        done = await admin.get(f"/api/oauth/flows/{flow['flow_id']}")
    else:
        done = await admin.post(f"/api/oauth/flows/{flow['flow_id']}/complete", json={"url": back})
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["status"] == "done", result
    return dict(result)


def _openai(gw: Harness) -> openai.AsyncOpenAI:
    return gw.track(
        openai.AsyncOpenAI(base_url=gw.base_url + "/v1", api_key=gw.client_key, max_retries=0)
    )


async def test_sign_in_by_redirect_then_every_client_format(gw: Harness, fake: FakeChatGPT) -> None:
    admin = await Admin.login(gw)
    flow = await _sign_in(admin, fake)
    assert flow["created"] is True and flow["email"] == fake.email
    assert len(fake.issued_clients) == 1  # the first sign-in registered the app
    await gw.reload()
    client = _openai(gw)

    chat = await client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
        ],
        temperature=0.2,
        max_tokens=50,
        tools=[
            {
                "type": "function",
                "function": {"name": "lookup", "parameters": {"type": "object"}},
            }
        ],
    )
    assert chat.choices[0].message.content == ANSWER
    streamed = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
    )
    pieces = [c.choices[0].delta.content async for c in streamed if c.choices]
    assert "".join(p for p in pieces if p) == ANSWER

    response = await client.responses.create(
        model=MODEL,
        input="hi",
        instructions="Be brief.",
        max_output_tokens=64,
        temperature=0.1,
        metadata={"a": "b"},
    )
    assert response.output_text == ANSWER
    events = await client.responses.create(model=MODEL, input="hi", stream=True)
    deltas = [e.delta async for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == ANSWER

    claude = gw.track(
        anthropic.AsyncAnthropic(base_url=gw.base_url, api_key=gw.client_key, max_retries=0)
    )
    message = await claude.messages.create(
        model=MODEL,
        max_tokens=100,
        system="Be brief.",
        messages=[{"role": "user", "content": "hi"}],
    )
    assert message.content[0].type == "text" and message.content[0].text == ANSWER

    gemini = genai.Client(
        api_key=gw.client_key,
        http_options=genai_types.HttpOptions(base_url=gw.base_url),
    )
    answer = await gemini.aio.models.generate_content(
        model=MODEL,
        contents="hi",
        config=genai_types.GenerateContentConfig(temperature=0.0, max_output_tokens=40),
    )
    assert answer.text == ANSWER

    # Every call reached the stand-in within the plan's rules (it refuses
    # anything else with a 400, which would have failed the call above).
    assert len(fake.inference) == 6
    assert all(r.headers["authorization"].startswith("Bearer at-") for r in fake.inference)
    audit = await admin.get("/api/audit")
    assert any(e["action"] == "oauth.sign_in" for e in audit.json()["entries"])


async def test_paste_back_and_signing_in_again_updates_the_account(
    gw: Harness, fake: FakeChatGPT
) -> None:
    admin = await Admin.login(gw)
    first = await _sign_in(admin, fake, listen=False)
    again = await _sign_in(admin, fake, listen=False)
    assert again["account_id"] == first["account_id"] and again["created"] is False
    assert len(fake.issued_clients) == 1  # the registration is reused

    # A returning sign-in may also be completed with the code alone.
    started = (await admin.post("/api/oauth/chatgpt/start", json={"listen": False})).json()
    code = httpx.URL(fake.approve(started["url"])).params["code"]
    done = await admin.post(f"/api/oauth/flows/{started['flow_id']}/complete", json={"code": code})
    assert done.json()["account_id"] == first["account_id"]

    snap = await gw.gateway.store.snapshot()
    accounts = snap.accounts_for(snap.provider("chatgpt").id)  # type: ignore[union-attr]
    assert len(accounts) == 1 and accounts[0].extra["kind"] == "oauth"


async def test_bad_pastes_are_refused_clearly(gw: Harness, fake: FakeChatGPT) -> None:
    admin = await Admin.login(gw)
    started = (await admin.post("/api/oauth/chatgpt/start", json={"listen": False})).json()
    flow_id = started["flow_id"]
    wrong_state = "http://127.0.0.1:1455/auth/callback?code=x&state=not-this-one"
    answer = await admin.post(f"/api/oauth/flows/{flow_id}/complete", json={"url": wrong_state})
    assert answer.status_code == 400
    assert "another sign-in" in answer.json()["error"]["message"]
    # A first sign-in cannot complete with a bare code: the client id is missing.
    answer = await admin.post(f"/api/oauth/flows/{flow_id}/complete", json={"code": "abc"})
    assert answer.status_code == 400 and "whole address" in answer.json()["error"]["message"]
    # The user declined: the flow ends with that reason.
    declined = started["redirect_uri"] + "?error=access_denied&state=" + _state(started["url"])
    answer = await admin.post(f"/api/oauth/flows/{flow_id}/complete", json={"url": declined})
    assert answer.status_code == 400 and "declined" in answer.json()["error"]["message"]
    shown = (await admin.get(f"/api/oauth/flows/{flow_id}")).json()
    assert shown["status"] == "failed"
    for refused in ("claude", "gemini-cli", "copilot"):
        answer = await admin.post(f"/api/oauth/{refused}/start", json={})
        assert answer.status_code == 400
    assert (await admin.post("/api/oauth/nothing/start", json={})).status_code == 404


def _state(url: str) -> str:
    return httpx.URL(url).params["state"]


async def test_an_expired_token_is_refreshed_once_for_fifty_requests(
    gw: Harness, fake: FakeChatGPT
) -> None:
    fake.lifetime = 30  # under a minute left: the next request must refresh first
    admin = await Admin.login(gw)
    await _sign_in(admin, fake, listen=False)
    fake.lifetime = 3600
    await gw.reload()
    client = _openai(gw)

    async def ask() -> str | None:
        done = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}]
        )
        return done.choices[0].message.content

    answers = await asyncio.gather(*(ask() for _ in range(50)))
    assert answers == [ANSWER] * 50
    assert fake.refreshes == 1 and fake.reused == 0
    # The rotated refresh token is what the database holds now.
    store = gw.gateway.store
    grants = await store.read_sealed(sign_ins.read_grants)
    assert grants[0].tokens.access_token in {
        r.headers["authorization"].removeprefix("Bearer ") for r in fake.inference
    }


async def _ask(client: openai.AsyncOpenAI) -> str | None:
    done = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "x"}]
    )
    return done.choices[0].message.content


async def test_a_refused_token_is_refreshed_and_logout_turns_the_account_off(
    gw: Harness, fake: FakeChatGPT
) -> None:
    admin = await Admin.login(gw)
    flow = await _sign_in(admin, fake, listen=False)
    await gw.reload()
    client = _openai(gw)
    assert await _ask(client) == ANSWER
    fake.expire_access_tokens()  # revoked early, as a password change would
    with pytest.raises(openai.InternalServerError):
        await _ask(client)
    assert await _ask(client) == ANSWER and fake.refreshes == 1

    account = flow["account_id"]
    out = await admin.post(f"/api/oauth/accounts/{account}/logout", json={})
    assert out.status_code == 200 and out.json()["revoked"] is True
    assert len(fake.revoked) == 1
    listed = (await admin.get("/api/oauth/accounts")).json()["accounts"]
    assert listed[0]["status"] == "needs_login"
    seen = {r.headers["authorization"].removeprefix("Bearer ") for r in fake.inference}
    assert not any(token in str(listed) for token in seen)  # no token is ever shown
    with pytest.raises(openai.APIStatusError):
        await _ask(client)


async def test_export_and_import_keep_a_sign_in_only_where_it_was_made(
    gw: Harness, fake: FakeChatGPT, tmp_path: Path
) -> None:
    admin = await Admin.login(gw)
    flow = await _sign_in(admin, fake, listen=False)
    exported = await admin.get("/api/export")  # without secrets
    assert exported.status_code == 200, exported.text
    document = exported.json()
    [provider] = [p for p in document["providers"] if p["name"] == "chatgpt"]
    [account] = provider["accounts"]
    # The stand-in names who signed in; no token is in the file.
    assert str(account["api_key"]).startswith("signed-in:")
    assert fake.email in str(account["label"])
    [grant] = await gw.gateway.store.read_sealed(sign_ins.read_grants)
    assert grant.tokens.access_token not in exported.text
    assert str(grant.tokens.refresh_token) not in exported.text

    # Back into the same gateway: the account and its sign-in stay.
    imported = await admin.post("/api/import", json=document)
    assert imported.status_code == 200, imported.text
    assert not [x for x in imported.json()["left_out"] if "sign-in" in x]
    await gw.reload()
    [kept] = await gw.gateway.store.read_sealed(sign_ins.read_grants)
    assert kept.account_id == flow["account_id"] and kept.tokens == grant.tokens
    answer = await _openai(gw).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content == ANSWER

    # Into another gateway: the account would have no tokens, so it is left
    # out and named; everything else in the file is imported.
    async with running_gateway(tmp_path / "other") as other:
        fresh = await Admin.login(other)
        elsewhere = await fresh.post("/api/import", json=document)
        assert elsewhere.status_code == 200, elsewhere.text
        notes = elsewhere.json()["left_out"]
        assert any(fake.email in note and "sign in again" in note for note in notes), notes
        snap = await other.gateway.store.snapshot()
        chatgpt = snap.provider("chatgpt")
        assert chatgpt is not None and snap.accounts_for(chatgpt.id) == ()

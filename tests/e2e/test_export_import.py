"""Export and import through the real server's management API.

A full export of one gateway, imported into a second one on a fresh data
directory, serves the same clients the same way: the old client key still
works and a request reaches the mock upstream with the account's own key.
An export without secrets holds none; a bad or partial file changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import openai
import pytest

from omniroute.store import ComboTargetRecord
from omniroute.store.admin import AdminRows
from tests.e2e.admin_helpers import Admin
from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import Json, MockUpstream, openai_chat_json

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

UPSTREAM_KEY = "sk-canary-upstream-6b1d93f0a2"
HEADER_SECRET = "canary-team-header-2c7e"
PASSPHRASE = "correct horse battery export"
PASS = {"x-export-passphrase": PASSPHRASE}


@pytest.fixture
async def mock() -> AsyncIterator[MockUpstream]:
    async with MockUpstream() as up:
        up.route("POST", "/p/v1/chat/completions", Json(openai_chat_json("from p", "m")))
        yield up


@pytest.fixture
async def old(tmp_path: Path, mock: MockUpstream) -> AsyncIterator[Harness]:
    async with running_gateway(tmp_path / "old") as gw:
        await gw.add_provider("p", "openai", mock.url + "/p/v1", UPSTREAM_KEY, ["m"])
        await gw.config.update_provider("p", extra={"headers": {"x-team": HEADER_SECRET}})
        await gw.config.upsert_combo("team", [ComboTargetRecord("p/m")])
        await gw.gateway.store.add_alias("gpt-*", "team")
        await gw.reload()
        yield gw


async def chat(gw: Harness, key: str, model: str) -> str | None:
    client = gw.track(
        openai.AsyncOpenAI(base_url=gw.base_url + "/v1", api_key=key, max_retries=0, timeout=15)
    )
    answer = await client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}]
    )
    return answer.choices[0].message.content


async def test_full_export_then_import_on_a_fresh_data_dir_serves_the_same_clients(
    old: Harness, mock: MockUpstream, tmp_path: Path
) -> None:
    admin = await Admin.login(old)
    exported = await admin.get("/api/export?secrets=1", headers=PASS)
    assert exported.status_code == 200, exported.text
    assert "attachment" in exported.headers["content-disposition"]
    assert exported.headers["cache-control"] == "no-store"
    assert UPSTREAM_KEY not in exported.text and HEADER_SECRET not in exported.text
    document = exported.json()

    async with running_gateway(tmp_path / "new") as new:
        fresh = await Admin.login(new)
        imported = await fresh.post("/api/import", json=document, headers=PASS)
        assert imported.status_code == 200, imported.text
        body = imported.json()
        assert body["providers"] == 1 and body["accounts"] == 1 and body["combos"] == 1
        assert body["left_out"] == []
        # No reload: the answer means the new configuration is in force.
        # The key of the old gateway works on the new one; the new one's own
        # first key is gone (an import replaces the configuration).
        assert await chat(new, old.client_key, "team") == "from p"
        assert await chat(new, old.client_key, "gpt-4o") == "from p"  # the alias came too
        upstream = mock.requests[-1]
        assert upstream.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
        assert upstream.headers["x-team"] == HEADER_SECRET
        with pytest.raises(openai.AuthenticationError):
            await chat(new, new.client_key, "team")
        rows = await AdminRows(new.gateway.store).audit_log()
        assert [(r.actor, r.action) for r in rows][0] == ("session", "config.import")


async def test_an_export_without_secrets_holds_none_and_says_so(old: Harness) -> None:
    admin = await Admin.login(old)
    for path in ("/api/export", "/api/export?secrets=0"):
        answer = await admin.get(path)
        assert answer.status_code == 200
        assert UPSTREAM_KEY not in answer.text and HEADER_SECRET not in answer.text
        assert old.client_key not in answer.text
        document = answer.json()
        assert document["secrets"] == "withheld"
        assert document["providers"][0]["accounts"][0]["api_key"] == {"withheld": True}
    rows = await AdminRows(old.gateway.store).audit_log()
    assert [r.action for r in rows[:2]] == ["config.export", "config.export"]
    assert all(UPSTREAM_KEY not in json.dumps(r.detail) for r in rows)


async def test_the_passphrase_goes_in_a_header_and_must_be_right(
    old: Harness, tmp_path: Path
) -> None:
    admin = await Admin.login(old)
    in_url = await admin.get(f"/api/export?secrets=1&passphrase={PASSPHRASE.replace(' ', '+')}")
    assert in_url.status_code == 400 and "header" in in_url.json()["error"]["message"]
    missing = await admin.get("/api/export?secrets=1")
    assert (
        missing.status_code == 400 and "X-Export-Passphrase" in missing.json()["error"]["message"]
    )
    odd = await admin.get("/api/export?secrets=yes")
    assert odd.status_code == 400 and "'secrets'" in odd.json()["error"]["message"]
    short = await admin.get("/api/export?secrets=1", headers={"x-export-passphrase": "short"})
    assert short.status_code == 400
    document = (await admin.get("/api/export?secrets=1", headers=PASS)).json()
    before = await old.gateway.store.revision()
    for headers in ({}, {"x-export-passphrase": "a wrong passphrase!"}):
        refused = await admin.post("/api/import", json=document, headers=headers)
        assert refused.status_code == 400, refused.text
        assert "passphrase" in refused.json()["error"]["message"]
    assert await old.gateway.store.revision() == before


async def test_a_malformed_or_partial_file_changes_nothing(old: Harness) -> None:
    admin = await Admin.login(old)
    document = (await admin.get("/api/export?secrets=1", headers=PASS)).json()
    store = old.gateway.store
    before = (await store.read_config(), await store.revision())
    partial = {k: v for k, v in document.items() if k != "combos"}
    broken_account = json.loads(json.dumps(document))
    broken_account["providers"][0]["accounts"][0]["priority"] = "first"
    for body, expected in (
        (b"{not json", "not valid JSON"),
        (b"[]", "JSON object"),
        (json.dumps(partial).encode(), "'combos' is missing"),
        (json.dumps(broken_account).encode(), "providers[0].accounts[0].priority"),
        (json.dumps(document)[: len(json.dumps(document)) // 2].encode(), "not valid JSON"),
    ):
        answer = await admin.post(
            "/api/import",
            content=body,
            headers={**PASS, "content-type": "application/json"},
        )
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert expected in error["message"] and error["kind"] == "invalid_request"
    assert (await store.read_config(), await store.revision()) == before
    await old.reload()
    assert await chat(old, old.client_key, "team") == "from p"


async def test_import_needs_a_session_with_csrf(old: Harness) -> None:
    admin = await Admin.login(old)
    document = (await admin.get("/api/export")).json()
    async with httpx.AsyncClient(base_url=old.base_url, timeout=15) as anonymous:
        assert (await anonymous.post("/api/import", json=document)).status_code == 401
    no_csrf = await admin.http.post("/api/import", json=document)
    assert no_csrf.status_code == 403

"""``/api/keys`` through the real server: a key is shown once at creation
and never again, its scope is changed field by field, revoking it closes
the client API to it at once, and every change leaves an audit row without
the key in it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest

from omniroute.store.admin import AdminRows
from tests.e2e.admin_helpers import Admin
from tests.e2e.sdk_helpers import ANSWER, add_providers, chat, openai_sdk
from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import MockUpstream

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Harness]:
    async with MockUpstream() as mock, running_gateway(tmp_path) as harness:
        await add_providers(harness, mock, ["oa", "other"])
        yield harness


async def test_a_key_round_trip_shows_the_key_once(
    gw: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = await Admin.login(gw)
    seen: list[str] = []

    async def call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        answer = await admin.call(method, path, **kwargs)
        seen.append(answer.text)
        return {"status": answer.status_code, **answer.json()}

    created = await call(
        "POST", "/api/keys", json={"name": "ci", "models": ["oa/*"], "expires": "30d", "rpm": 50}
    )
    assert created["status"] == 201
    key = str(created["key"])
    assert key.startswith("sk-omni-") and created["prefix"] == key[:12]
    assert created["state"] == "active" and created["models"] == ["oa/*"]
    assert isinstance(created["expires_at"], float) and created["rpm"] == 50
    key_id = created["id"]
    # No reload: the answer means the key already works.

    assert await chat(openai_sdk(gw, key), "oa/m") == ANSWER
    with pytest.raises(openai.PermissionDeniedError):
        await chat(openai_sdk(gw, key), "other/m")
    await gw.gateway.store.flush_logs()
    listed = await call("GET", "/api/keys")
    (mine,) = [k for k in listed["keys"] if k["id"] == key_id]
    assert mine["usage"]["requests"] == 2
    assert (mine["usage"]["input_tokens"], mine["usage"]["output_tokens"]) == (12, 7)
    assert mine["usage"]["last_used_at"] is not None

    changed = await call("PATCH", f"/api/keys/{key_id}", json={"models": None, "providers": ["oa"]})
    assert changed["status"] == 200
    assert changed["models"] == [] and changed["providers"] == ["oa"] and changed["rpm"] == 50
    assert await chat(openai_sdk(gw, key), "oa/n") == ANSWER

    revoked = await call("DELETE", f"/api/keys/{key_id}")
    assert revoked["status"] == 200 and revoked["state"] == "revoked"
    with pytest.raises(openai.AuthenticationError):
        await chat(openai_sdk(gw, key), "oa/m")
    again = await call("DELETE", f"/api/keys/{key_id}")
    assert again["status"] == 404 and again["error"]["kind"] == "not_found"

    # The key was in the creation answer and nowhere else: not in any later
    # answer, the audit log or the server's log.
    assert sum(key in text for text in seen) == 1
    rows = await AdminRows(gw.gateway.store).audit_log()
    keyed = [r for r in reversed(rows) if r.action.startswith("key.")]
    assert [(r.actor, r.action, r.target) for r in keyed] == [
        ("session", "key.create", f"key {key_id}"),
        ("session", "key.update", f"key {key_id}"),
        ("session", "key.revoke", f"key {key_id}"),
    ]
    assert all(r.address == "127.0.0.1" for r in keyed)
    assert keyed[1].detail["before"]["models"] == ["oa/*"]
    assert keyed[1].detail["after"]["providers"] == ["oa"]
    assert key not in str(rows) and key[12:] not in str(rows)
    assert key not in caplog.text


async def test_bad_input_is_named_and_changes_nothing(gw: Harness) -> None:
    admin = await Admin.login(gw)
    created = (await admin.post("/api/keys", json={"providers": ["oa"], "rpm": 5})).json()
    key_id = created["id"]
    for body, named in (
        ({"providers": ["nope"], "rpm": 7}, "unknown provider(s) 'nope'"),
        ({"rpm": 0, "name": "x"}, "'rpm' must be a whole number"),
        ({"models": "oa/*"}, "'models' must be a list"),
        ({"expires": "soon"}, "'expires'"),
        ({"name": 5}, "'name' must be text"),
        ({"key": "sk-omni-chosen"}, "unknown field(s) 'key'"),
    ):
        answer = await admin.call("PATCH", f"/api/keys/{key_id}", json=body)
        assert answer.status_code == 400, body
        assert named in answer.json()["error"]["message"]
        assert answer.json()["error"]["kind"] == "invalid_request"
    refused = await admin.post("/api/keys", json={"max_concurrent": -1})
    assert refused.status_code == 400 and "'max_concurrent'" in refused.text
    for path in ("/api/keys/999", "/api/keys/abc", "/api/keys/-1"):
        assert (await admin.call("PATCH", path, json={"rpm": 1})).status_code == 404
    assert (await admin.call("PATCH", f"/api/keys/{key_id}", content=b"[1]")).status_code == 400
    keys = (await admin.get("/api/keys")).json()["keys"]
    assert len(keys) == 2  # the harness's own key and this one: the refused POST made none
    (mine,) = [k for k in keys if k["id"] == key_id]
    assert (mine["providers"], mine["rpm"], mine["name"]) == (["oa"], 5, None)
    assert "key" not in mine

"""The audit log: every management action writes one row naming who (a
session with its address, or the CLI), what and which; ``GET /api/audit``
pages through it and ``omniroute audit`` prints it; old rows go."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from omniroute.store.admin import AdminRows
from tests.cli.helpers import cli_async
from tests.e2e.manage_env import Env, manage_env, provider_body

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

KEY = "sk-audit-account-key-00112233"
KEY2 = "sk-audit-account-key-44556677"
CLI_KEY = "sk-audit-cli-account-key-8899"
SIGN_IN = frozenset({"admin.password", "login"})


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with manage_env(tmp_path) as e:
        yield e


async def changes(env: Env, **query: Any) -> list[dict[str, Any]]:
    """Audit entries newest first, without the sign-in rows."""
    entries = (await env.ok("GET", "/api/audit", params=query))["entries"]
    return [e for e in entries if e["action"] not in SIGN_IN]


async def test_every_management_action_writes_one_row(env: Env) -> None:
    env.upstream_answers()
    acme = provider_body(env.mock, KEY)
    done: list[tuple[str, str]] = []

    async def act(method: str, path: str, action: str, target: str, **body: Any) -> Any:
        answer = await env.ok(method, path, 201 if action.endswith(".add") else 200, **body)
        done.append((action, target))
        return answer

    await act("POST", "/api/providers", "provider.add", "acme", json=acme)
    account = await act(
        "POST", "/api/providers/acme/accounts", "account.add", "2", json={"api_key": KEY2}
    )
    await act(
        "PATCH", f"/api/accounts/{account['id']}", "account.update", "2", json={"priority": 5}
    )
    await act("PATCH", "/api/providers/acme", "provider.update", "acme", json={"enabled": False})
    await act("PATCH", "/api/providers/acme", "provider.update", "acme", json={"enabled": True})
    combo = {"name": "c", "targets": ["acme/m1"]}
    await act("POST", "/api/combos", "combo.add", "c", json=combo)
    await act("PATCH", "/api/combos/c", "combo.update", "c", json={"strategy": "round-robin"})
    await act("POST", "/api/aliases", "alias.add", "x-*", json={"pattern": "x-*", "target": "c"})
    await act(
        "PATCH", "/api/settings", "settings.update", "cooldown.base", json={"cooldown.base": 2}
    )
    await act("POST", "/api/health/reset", "health.reset", "all")
    await act("POST", "/api/providers/acme/test", "provider.test", "acme")
    await act("POST", "/api/combos/c/test", "combo.test", "c")
    await act("DELETE", "/api/aliases/x-*", "alias.delete", "x-*")
    await act("DELETE", "/api/combos/c", "combo.delete", "c")
    await act("DELETE", f"/api/accounts/{account['id']}", "account.delete", "2")
    await act("DELETE", "/api/providers/acme", "provider.delete", "acme")
    # Refused changes and reads leave no row.
    await env.refused("DELETE", "/api/providers/acme", 404)
    await env.refused("PATCH", "/api/settings", 400, json={"cooldown.base": -1})
    await env.ok("GET", "/api/providers")

    entries = await changes(env)
    assert [(e["action"], e["target"]) for e in reversed(entries)] == done
    assert {(e["actor"], e["address"]) for e in entries} == {("session", "127.0.0.1")}
    by_action: dict[str, dict[str, Any]] = {}
    for entry in reversed(entries):  # the first of each
        by_action.setdefault(entry["action"], entry)
    assert by_action["provider.update"]["detail"] == {
        "before": {"enabled": True},
        "after": {"enabled": False},
    }
    assert by_action["settings.update"]["detail"] == {
        "before": {"cooldown": None},
        "after": {"cooldown": {"base": 2.0}},
    }
    assert by_action["account.update"]["detail"] == {
        "before": {"priority": 1},
        "after": {"priority": 5},
    }
    added = by_action["provider.add"]["detail"]["after"]
    assert added["name"] == "acme" and added["accounts"][0]["key"] == "…" + KEY[-4:]
    assert by_action["provider.delete"]["detail"]["before"]["name"] == "acme"
    assert by_action["provider.test"]["detail"]["ok"] is True
    text = json.dumps(entries)
    assert KEY not in text and KEY2 not in text


async def test_cli_changes_are_audited_as_the_cli(env: Env) -> None:
    data = env.gw.settings.data_dir
    code, out, err = await cli_async(
        data,
        "provider", "add", "clip", "--format", "openai", "--base-url", env.mock.url + "/v1",
        "--api-key", CLI_KEY, "--models", "m1",
    )  # fmt: skip
    assert code == 0, err
    code, _, err = await cli_async(data, "config", "set", "fallback.max-attempts", "3")
    assert code == 0, err
    await env.ok("PATCH", "/api/providers/clip", json={"models": ["m1", "m2"]})

    entries = await changes(env)
    assert [(e["actor"], e["action"], e["target"]) for e in entries] == [
        ("session", "provider.update", "clip"),
        ("cli", "settings.update", "fallback.max-attempts"),
        ("cli", "provider.add", "clip"),
    ]
    assert entries[1]["address"] is None

    code, out, err = await cli_async(data, "audit")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "TIME", "ACTOR", "ACTION", "TARGET", "CHANGED"]
    first = lines[1].split()
    assert first[0] == str(entries[0]["id"]) and first[4:] == [
        "session@127.0.0.1",
        "provider.update",
        "clip",
        "models",
    ]
    assert "cli" in lines[2] and "settings.update" in lines[2] and "fallback" in lines[2]
    code, out, err = await cli_async(data, "audit", "--json", "--limit", "2")
    assert code == 0, err
    assert json.loads(out) == (await env.ok("GET", "/api/audit", params={"limit": 2}))["entries"]
    assert CLI_KEY not in out
    code, out, err = await cli_async(data, "audit", "--limit", "0")
    assert code == 2 and "--limit" in err


async def test_the_local_cli_token_reads_but_does_not_change(env: Env) -> None:
    token = {"authorization": f"Bearer {env.gw.gateway.admin.token}"}
    http = env.gw.track(httpx.AsyncClient(base_url=env.gw.base_url, headers=token, timeout=15))
    for path in ("/api/audit", "/api/providers", "/api/settings", "/api/health", "/api/catalog"):
        answer = await http.get(path)
        assert answer.status_code == 200, path
    refused = await http.post("/api/providers", json=provider_body(env.mock, KEY))
    assert refused.status_code == 401
    assert (await http.get("/api/providers")).json()["providers"] == []


async def test_paging_back_through_the_log(env: Env) -> None:
    for n in range(5):
        await env.ok("POST", "/api/aliases", 201, json={"pattern": f"a{n}", "target": "t"})
    page = await env.ok("GET", "/api/audit", params={"limit": 2})
    assert [e["target"] for e in page["entries"]] == ["a4", "a3"]
    older = await env.ok("GET", "/api/audit", params={"limit": 2, "before": page["next_before"]})
    assert [e["target"] for e in older["entries"]] == ["a2", "a1"]
    everything = await env.ok("GET", "/api/audit", params={"limit": 1000})
    assert everything["next_before"] is None
    for bad in ({"limit": "0"}, {"limit": "x"}, {"limit": "1001"}, {"before": "-1"}):
        message = await env.refused("GET", "/api/audit", 400, params=bad)
        assert f"'{next(iter(bad))}'" in message


async def test_old_rows_go_after_the_retention(env: Env) -> None:
    await env.ok("PATCH", "/api/settings", json={"audit-retention-days": 2})
    rows = AdminRows(env.gw.gateway.store)
    # A row's write prunes what is older than its own time minus the retention.
    await rows.audit(time.time() - 1 * 86_400, "cli", "recent.thing", "yesterday")
    await rows.audit(time.time() - 3 * 86_400, "cli", "old.thing", "ancient")
    assert {"ancient", "yesterday"} <= {e["target"] for e in await changes(env)}
    await env.ok("POST", "/api/aliases", 201, json={"pattern": "p", "target": "t"})
    targets = {e["target"] for e in await changes(env)}
    assert "ancient" not in targets and {"yesterday", "p"} <= targets

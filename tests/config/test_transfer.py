"""Export and import through the one function the CLI and the API share:
no secret in an export without secrets, a full export encrypted under a
passphrase, and an import that is checked whole and written in one
transaction (a bad or partial file changes nothing)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from omniroute.config.editor import ConfigEditor
from omniroute.config.transfer import export_config, import_config
from omniroute.errors import BadRequest
from omniroute.settings import Settings
from omniroute.store import ComboTargetRecord, Store, hash_client_key
from omniroute.store.admin import AdminRows

from .test_base_urls import METADATA

pytestmark = pytest.mark.anyio

API_KEY = "sk-canary-apikey-7f3a9c21e4"
SECOND_KEY = "sk-canary-second-5d2b8e10"
PROXY_PASSWORD = "canary-proxy-pw-81c3"
HEADER_SECRET = "canary-header-value-44ee"
GLOBAL_PROXY_PASSWORD = "canary-global-pw-09ab"
CANARIES = (API_KEY, SECOND_KEY, PROXY_PASSWORD, HEADER_SECRET, GLOBAL_PROXY_PASSWORD)
PASSPHRASE = "a long enough passphrase"
SCOPE = {"models": ["acme/*"], "rpm": 60}


async def configure(store: Store) -> str:
    """A configuration touching every section; returns a client key."""
    editor = ConfigEditor(store)
    await editor.add_account(
        "acme",
        API_KEY,
        provider=("openai", "https://acme.test/v1", ["m1", "m2"]),
        provider_extra={"headers": {"x-team": HEADER_SECRET}, "limits": {"rpm": 30}},
        account_extra={"proxy": f"socks5://user:{PROXY_PASSWORD}@proxy.test:1080"},
    )
    await editor.add_account("acme", SECOND_KEY, priority=5)
    await editor.add_account(
        "beta", "sk-beta-key-000001", provider=("anthropic", "https://b.test", ["b"])
    )
    await editor.update_provider("beta", extra={"proxy": "http://plain-proxy.test:3128"})
    await store.set_provider_enabled("beta", False)
    await editor.upsert_combo(
        "inner", [ComboTargetRecord("acme/m1", 2), ComboTargetRecord("beta/b", 1)]
    )
    await editor.upsert_combo("outer", [ComboTargetRecord("inner")], strategy="round-robin")
    await store.add_alias("gpt-*", "outer")
    await store.add_alias("claude-*", "beta/*")
    await editor.set_setting("system_prompt", "be brief")
    await editor.set_setting("proxy", f"http://admin:{GLOBAL_PROXY_PASSWORD}@egress.test:8080")
    await editor.merge_setting("breaker", {"failure_threshold": 3})
    record, key = await store.create_client_key("laptop")
    await store.write(
        lambda c: c.execute(
            "UPDATE client_keys SET scope = ? WHERE id = ?", (json.dumps(SCOPE), record.id)
        )
    )
    await store.revoke_client_key((await store.create_client_key("old"))[0].id)
    return key


async def config_of(store: Store) -> Any:
    """Everything configured, by value (no row ids)."""
    data = await store.read_config()
    return (
        data.providers,
        data.combos,
        data.aliases,
        [
            (k.key_hash, k.prefix, k.name, k.revoked_at is not None, dict(k.scope))
            for k in data.client_keys
        ],
        dict(data.settings),
    )


def settings_in(tmp_path: Path, name: str) -> Settings:
    return Settings(data_dir=tmp_path / name, log_flush_interval=30.0)


async def test_an_export_without_secrets_holds_none(settings: Settings) -> None:
    async with Store(settings) as store:
        key = await configure(store)
        doc = await export_config(store, secrets=False, actor="cli")
        audit = await AdminRows(store).audit_log()
    text = json.dumps(doc)
    for canary in CANARIES:
        assert canary not in text
    assert doc["secrets"] == "withheld" and "encryption" not in doc
    (acme, beta) = doc["providers"]
    assert acme["options"]["headers"] == {"x-team": {"withheld": True}}
    assert [a["api_key"] for a in acme["accounts"]] == [{"withheld": True}] * 2
    assert acme["accounts"][0]["options"]["proxy"] == {"withheld": True}
    assert beta["options"]["proxy"] == "http://plain-proxy.test:3128"  # no credentials: no secret
    assert doc["settings"]["proxy"] == {"withheld": True}
    assert hash_client_key(key) in [k["key_hash"] for k in doc["client_keys"]]
    assert key not in text
    assert audit[0].action == "config.export" and audit[0].actor == "cli"
    assert audit[0].detail["secrets"] is False and audit[0].detail["providers"] == 2
    assert not any(canary in json.dumps(audit[0].detail) for canary in CANARIES)


async def test_a_full_export_round_trips_into_a_fresh_data_dir(tmp_path: Path) -> None:
    async with Store(settings_in(tmp_path, "old")) as old:
        await configure(old)
        expected = await config_of(old)
        doc = await export_config(old, secrets=True, passphrase=PASSPHRASE, actor="cli")
    text = json.dumps(doc)
    for canary in CANARIES:
        assert canary not in text  # encrypted, not merely encoded
    assert doc["providers"][0]["accounts"][0]["api_key"] == {"secret": "s2"}
    async with Store(settings_in(tmp_path, "new")) as new:
        summary = await import_config(new, json.loads(text), passphrase=PASSPHRASE, actor="cli")
        assert await config_of(new) == expected
        audit = await AdminRows(new).audit_log()
    assert summary.counts() == {
        "providers": 2,
        "accounts": 3,
        "combos": 2,
        "aliases": 2,
        "client_keys": 2,
        "settings": 3,
    }
    assert summary.left_out == ()
    assert audit[0].action == "config.import" and audit[0].detail["accounts"] == 3
    assert not any(canary in json.dumps(audit[0].detail) for canary in CANARIES)


async def test_the_passphrase_must_be_right(tmp_path: Path) -> None:
    async with Store(settings_in(tmp_path, "a")) as store:
        await configure(store)
        doc = await export_config(store, secrets=True, passphrase=PASSPHRASE, actor="cli")
        with pytest.raises(BadRequest, match="too short"):
            await export_config(store, secrets=True, passphrase="short", actor="cli")
        with pytest.raises(BadRequest, match="passphrase is required"):
            await export_config(store, secrets=True, actor="cli")
    async with Store(settings_in(tmp_path, "b")) as fresh:
        await fresh.set_setting("system_prompt", "untouched")
        before = await config_of(fresh)
        for wrong in ("not the passphrase!", None):
            with pytest.raises(BadRequest, match="passphrase"):
                await import_config(fresh, doc, passphrase=wrong, actor="cli")
        tampered = copy.deepcopy(doc)
        sealed = tampered["encryption"]["ciphertext"]
        tampered["encryption"]["ciphertext"] = ("A" if sealed[0] != "A" else "B") + sealed[1:]
        with pytest.raises(BadRequest, match="changed after export"):
            await import_config(fresh, tampered, passphrase=PASSPHRASE, actor="cli")
        assert await config_of(fresh) == before


async def test_a_file_without_secrets_imports_what_it_can_and_says_what_not(
    tmp_path: Path,
) -> None:
    async with Store(settings_in(tmp_path, "a")) as store:
        await configure(store)
        doc = await export_config(store, secrets=False, actor="cli")
    async with Store(settings_in(tmp_path, "b")) as fresh:
        summary = await import_config(fresh, doc, actor="cli")
        snap = await fresh.snapshot()
    assert [p.name for p in snap.providers] == ["acme", "beta"]
    assert snap.accounts == ()  # no key, no account
    assert "proxy" not in snap.settings and snap.settings["system_prompt"] == "be brief"
    acme = snap.provider("acme")
    assert acme is not None and "headers" not in acme.extra and acme.extra["limits"]["rpm"] == 30
    assert summary.accounts == 0
    assert sorted(summary.left_out) == sorted(
        [
            "providers[0].options.headers.x-team: not in the file (exported without secrets)",
            "providers[0].accounts[0].api_key: not in the file (exported without secrets)",
            "providers[0].accounts[1].api_key: not in the file (exported without secrets)",
            "providers[1].accounts[0].api_key: not in the file (exported without secrets)",
            "settings.proxy: not in the file (exported without secrets)",
        ]
    )


async def test_an_import_replaces_and_keeps_the_ids_of_what_stays(settings: Settings) -> None:
    async with Store(settings) as store:
        await configure(store)
        doc = await export_config(store, secrets=True, passphrase=PASSPHRASE, actor="cli")
        before = await store.snapshot()
        # Changes the import must undo.
        await store.upsert_provider("gamma", "gemini", "https://g.test", ["g"])
        await store.remove_alias("gpt-*")
        await store.create_client_key("extra")
        await import_config(store, doc, passphrase=PASSPHRASE, actor="session")
        after = await store.snapshot()
    assert [p.name for p in after.providers] == ["acme", "beta"]
    assert [(a.id, a.api_key) for a in after.accounts] == [
        (a.id, a.api_key) for a in before.accounts
    ]
    assert [(k.id, k.key_hash) for k in after.client_keys] == [
        (k.id, k.key_hash) for k in before.client_keys
    ]
    assert [a.pattern for a in after.aliases] == ["gpt-*", "claude-*"]


def _mutations() -> list[Any]:
    def drop(key: str) -> Callable[[dict[str, Any]], None]:
        return lambda d: d.pop(key)

    def setp(*path: Any, value: Any) -> Callable[[dict[str, Any]], None]:
        def apply(d: dict[str, Any]) -> None:
            target: Any = d
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = value

        return apply

    cases: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
        ("no providers", drop("providers"), "'providers' is missing"),
        ("no combos", drop("combos"), "'combos' is missing"),
        ("no client keys", drop("client_keys"), "'client_keys' is missing"),
        ("no settings", drop("settings"), "'settings' is missing"),
        ("not ours", setp("format", value="something-else"), "not an OmniRoute"),
        ("newer", setp("version", value=2), "newer OmniRoute"),
        ("providers not a list", setp("providers", value={}), "'providers' must be a list"),
        ("provider format", setp("providers", 0, "format", value="soap"), "providers[0].format"),
        ("provider name", setp("providers", 0, "name", value=""), "providers[0].name"),
        ("bad name", setp("providers", 0, "name", value="a/b"), "provider name"),
        ("base url", setp("providers", 1, "base_url", value="ftp://x"), "base_url"),
        (
            "metadata",
            setp("providers", 1, "base_url", value=METADATA[0]),
            "providers[1].base_url: base_url points to a link-local address",
        ),
        (
            "priority",
            setp("providers", 0, "accounts", 1, "priority", value="high"),
            "accounts[1].priority",
        ),
        (
            "no key",
            lambda d: d["providers"][0]["accounts"][0].pop("api_key"),
            "accounts[0].api_key is missing",
        ),
        (
            "secret ref",
            setp("providers", 0, "accounts", 0, "api_key", value={"secret": "s99"}),
            "does not hold",
        ),
        (
            "bad slot",
            setp("providers", 0, "accounts", 0, "api_key", value=42),
            "accounts[0].api_key must be",
        ),
        (
            "bad proxy",
            setp("providers", 1, "options", "proxy", value="ftp://p"),
            "providers[1].options",
        ),
        (
            "bad limits",
            setp("providers", 0, "options", "limits", value=[1]),
            "providers[0].options",
        ),
        ("enabled", setp("providers", 1, "enabled", value="no"), "providers[1].enabled"),
        (
            "twice",
            lambda d: d["providers"].append(copy.deepcopy(d["providers"][0])),
            "appears twice",
        ),
        ("strategy", setp("combos", 0, "strategy", value="telepathy"), "unknown strategy"),
        ("weight", setp("combos", 0, "targets", 0, "weight", value=-1), "targets[0].weight"),
        ("circle", setp("combos", 0, "targets", 0, "ref", value="outer"), "circle"),
        ("alias", setp("aliases", 0, "target", value=None), "aliases[0].target"),
        ("alias twice", lambda d: d["aliases"].append(dict(d["aliases"][0])), "appears twice"),
        ("key hash", setp("client_keys", 0, "key_hash", value="abc"), "client_keys[0].key_hash"),
        ("scope", setp("client_keys", 0, "scope", value="all"), "client_keys[0].scope"),
        (
            "setting",
            setp("settings", "breaker", value={"failure_threshold": 0}),
            "settings.breaker",
        ),
        ("setting key", setp("settings", "bad key!", value=1), "setting key"),
    ]
    return [pytest.param(mutate, message, id=name) for name, mutate, message in cases]


@pytest.mark.parametrize(("mutate", "message"), _mutations())
async def test_a_bad_or_partial_file_changes_nothing(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], None], message: str
) -> None:
    async with Store(settings_in(tmp_path, "src")) as source:
        await configure(source)
        doc = await export_config(source, secrets=True, passphrase=PASSPHRASE, actor="cli")
    mutate(doc)
    async with Store(settings_in(tmp_path, "dst")) as store:
        editor = ConfigEditor(store)
        await editor.add_account(
            "keep", "sk-keep-000000001", provider=("openai", "https://k.test", ["k"])
        )
        await store.add_alias("keep-*", "keep/k")
        before = (await config_of(store), await store.revision())
        with pytest.raises(BadRequest) as caught:
            await import_config(store, doc, passphrase=PASSPHRASE, actor="cli")
        assert message in caught.value.message
        assert (await config_of(store), await store.revision()) == before
        actions = [r.action for r in await AdminRows(store).audit_log()]
        assert "config.import" not in actions


@pytest.mark.parametrize("document", [None, [], "text", 3, {}, {"format": "omniroute-config"}])
async def test_what_is_not_an_export_is_refused(settings: Settings, document: Any) -> None:
    async with Store(settings) as store:
        await store.set_setting("system_prompt", "kept")
        with pytest.raises(BadRequest):
            await import_config(store, document, actor="cli")
        assert (await store.snapshot()).settings == {"system_prompt": "kept"}


async def test_errors_about_a_file_never_repeat_its_secrets(settings: Settings) -> None:
    document = {
        "format": "omniroute-config",
        "version": 1,
        "providers": [
            {
                "name": "acme",
                "format": "openai",
                "base_url": "https://acme.test/v1",
                "options": {"proxy": f"ftp://user:{PROXY_PASSWORD}@p.test"},
                "accounts": [{"api_key": API_KEY}],
            }
        ],
        "combos": [],
        "aliases": [],
        "client_keys": [],
        "settings": {"proxy": f"http://u:{GLOBAL_PROXY_PASSWORD}@p.test:1:2"},
    }
    async with Store(settings) as store:
        for bad in ("settings", "providers"):
            attempt = copy.deepcopy(document)
            if bad == "providers":
                attempt["settings"] = {}
            with pytest.raises(BadRequest) as caught:
                await import_config(store, attempt, actor="cli")
            assert bad in caught.value.message
            assert not any(canary in caught.value.message for canary in CANARIES)
        # Written by hand in plain text, the same file imports once it is right.
        document["settings"] = {}
        document["providers"][0]["options"] = {}
        await import_config(store, document, actor="cli")
        assert (await store.snapshot()).accounts[0].api_key == API_KEY

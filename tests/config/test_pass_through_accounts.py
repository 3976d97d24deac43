"""Pass-through accounts through the rules the CLI and the management API
share: no key stored, one per provider, the kind shown, the terms note."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omniroute.cli.common import NAMING
from omniroute.config.describe import provider_json
from omniroute.config.editor import ConfigEditor
from omniroute.config.providers import NewAccount, add_account, add_provider, pass_through_notice
from omniroute.config.transfer import export_config, import_config
from omniroute.errors import BadRequest, Conflict
from omniroute.providers.accounts import KIND_PASS_THROUGH, PASS_THROUGH_STAND_IN, account_kind
from omniroute.providers.catalog import Catalog
from omniroute.settings import Settings
from omniroute.store import Store

pytestmark = pytest.mark.anyio

OWN = NewAccount(pass_through=True)


async def test_the_claude_passthrough_entry_adds_a_pass_through_account(
    settings: Settings,
) -> None:
    async with Store(settings) as store:
        editor = ConfigEditor(store)
        provider, account = await add_provider(
            editor, "claude-passthrough", NewAccount(), naming=NAMING
        )
        assert account_kind(account) == KIND_PASS_THROUGH
        assert account.api_key == PASS_THROUGH_STAND_IN  # a stand-in, never sent
        assert (provider.format, provider.base_url) == ("anthropic", "https://api.anthropic.com/v1")
        shown = provider_json(provider, await store.snapshot(), editor.catalog)
        (listed,) = shown["accounts"]
        assert listed["kind"] == "pass-through" and listed["key"] is None
        assert shown["tier"] == "subscription"
        with pytest.raises(Conflict, match="has a pass-through account already"):
            await add_provider(editor, "ccp", NewAccount(), naming=NAMING)
        with pytest.raises(BadRequest, match="stores no key.*--api-key"):
            await add_account(editor, "claude-passthrough", NewAccount("sk-ant-x"), naming=NAMING)


async def test_any_provider_takes_one_pass_through_account_beside_its_keys(
    settings: Settings,
) -> None:
    async with Store(settings) as store:
        editor = ConfigEditor(store)
        _, keyed = await add_provider(
            editor,
            "team",
            NewAccount("sk-team-shared-key-0001"),
            format="openai",
            base_url="https://team.test/v1",
            naming=NAMING,
        )
        own = await add_account(editor, "team", OWN, naming=NAMING)
        assert account_kind(keyed) == "key" and account_kind(own) == KIND_PASS_THROUGH
        assert own.extra["kind"] == "pass-through"
        with pytest.raises(Conflict):
            await add_account(editor, "team", OWN, naming=NAMING)
        # A key account still needs its key.
        with pytest.raises(BadRequest, match="--api-key is required"):
            await add_account(editor, "team", NewAccount(), naming=NAMING)
        with pytest.raises(BadRequest, match="stores no key"):
            await add_account(editor, "team", NewAccount("sk-y", pass_through=True), naming=NAMING)
        # A new custom provider can start with one.
        provider, first = await add_provider(
            editor, "solo", OWN, format="gemini", base_url="https://solo.test/v1beta", naming=NAMING
        )
        assert account_kind(first) == KIND_PASS_THROUGH
        accounts = (await store.snapshot()).accounts_for(provider.id)
        assert [account_kind(a) for a in accounts] == [KIND_PASS_THROUGH]


async def test_an_empty_key_field_is_no_key_for_a_pass_through_account(
    settings: Settings,
) -> None:
    """The dashboard's add form sends an empty key field as it is."""
    async with Store(settings) as store:
        _, account = await add_provider(
            ConfigEditor(store), "claude-passthrough", NewAccount(""), naming=NAMING
        )
        assert account_kind(account) == KIND_PASS_THROUGH


async def test_the_notice_names_the_terms_and_the_client_setup(settings: Settings) -> None:
    catalog = Catalog.load()
    entry = catalog.get("claude-passthrough")
    assert entry is not None and entry.auth == "pass-through"
    async with Store(settings) as store:
        provider, _ = await add_provider(ConfigEditor(store), "ccp", NewAccount(), naming=NAMING)
        custom, _ = await add_provider(
            ConfigEditor(store),
            "team",
            OWN,
            format="openai",
            base_url="https://team.test/v1",
            naming=NAMING,
        )
    text = pass_through_notice(provider, entry, "http://127.0.0.1:20128")
    assert "Claude Code and Anthropic's own apps" in text
    assert "never takes, stores or refreshes the token" in text and "own risk" in text
    assert "ANTHROPIC_BASE_URL=http://127.0.0.1:20128" in text
    assert 'ANTHROPIC_CUSTOM_HEADERS="X-OmniRoute-Key: <your sk-omni key>"' in text
    generic = pass_through_notice(custom, None, "http://127.0.0.1:20128")
    assert "X-OmniRoute-Key" in generic and "never stored" in generic
    assert "https://team.test/v1" in generic


async def test_an_export_without_secrets_keeps_the_pass_through_account(
    settings: Settings, tmp_path: Path
) -> None:
    """It has no secret to withhold, so it comes back as it was."""
    async with Store(settings) as store:
        await add_provider(ConfigEditor(store), "claude-passthrough", NewAccount(), naming=NAMING)
        document = await export_config(store, secrets=False, actor="cli")
    other = Settings.load({"data_dir": tmp_path / "other"}, env={})
    async with Store(other) as store:
        summary = await import_config(store, json.loads(json.dumps(document)), actor="cli")
        assert summary.left_out == ()
        (account,) = (await store.snapshot()).accounts
        assert account_kind(account) == KIND_PASS_THROUGH

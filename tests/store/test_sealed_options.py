"""Proxy credentials and custom header values are sealed at rest like API
keys: plain for the code above the store, never plain in the database file."""

from __future__ import annotations

import json
import sqlite3

import pytest

from omniroute.config.editor import ConfigEditor
from omniroute.errors import SecretKeyError
from omniroute.settings import Settings
from omniroute.store import Store

from .helpers import raw_query

pytestmark = pytest.mark.anyio

PROVIDER_PROXY = "socks5://alice:pr0vider-pa55word@127.0.0.1:1080"
ACCOUNT_PROXY = "http://bob:acc0unt-pa55word@127.0.0.1:3128"
GLOBAL_PROXY = "socks5h://carol:gl0bal-pa55word@127.0.0.1:9050"
HEADER_TOKEN = "team-token-5e1d9c0a7b"
SECRETS = ("pr0vider-pa55word", "acc0unt-pa55word", "gl0bal-pa55word", HEADER_TOKEN)


async def _configure(store: Store) -> int:
    editor = ConfigEditor(store)
    _, account = await editor.add_account(
        "acme",
        "sk-acme-account-key-0123456789",
        provider=("openai", "https://acme.example/v1", None),
        account_extra={"proxy": ACCOUNT_PROXY},
    )
    await editor.update_provider(
        "acme", extra={"proxy": PROVIDER_PROXY, "headers": {"X-Team": HEADER_TOKEN}}
    )
    await editor.set_setting("proxy", GLOBAL_PROXY)
    return account.id


def _database_bytes(store: Store) -> bytes:
    with sqlite3.connect(store.db_path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return store.db_path.read_bytes()


async def test_secrets_in_options_are_sealed_on_disk_and_plain_above(settings: Settings) -> None:
    async with Store(settings) as store:
        account_id = await _configure(store)
        snap = await store.snapshot()
        provider = snap.provider("acme")
        assert provider is not None
        assert provider.extra["proxy"] == PROVIDER_PROXY
        assert provider.extra["headers"] == {"X-Team": HEADER_TOKEN}
        (account,) = snap.accounts_for(provider.id)
        assert account.id == account_id and account.extra["proxy"] == ACCOUNT_PROXY
        assert snap.settings["proxy"] == GLOBAL_PROXY
        raw = _database_bytes(store)
    for secret in SECRETS:
        assert secret.encode() not in raw


async def test_plain_values_from_an_older_version_are_sealed_on_open(settings: Settings) -> None:
    async with Store(settings) as store:
        account_id = await _configure(store)
        db_path = store.db_path
    # What an older version wrote: the same values as plain JSON text.
    with sqlite3.connect(db_path) as db:
        db.execute(
            "UPDATE providers SET extra = ? WHERE name = 'acme'",
            (json.dumps({"proxy": PROVIDER_PROXY, "headers": {"X-Team": HEADER_TOKEN}}),),
        )
        db.execute(
            "UPDATE accounts SET extra = ? WHERE id = ?",
            (json.dumps({"proxy": ACCOUNT_PROXY}), account_id),
        )
        db.execute("UPDATE settings SET value = ? WHERE key = 'proxy'", (json.dumps(GLOBAL_PROXY),))
    async with Store(settings) as store:
        snap = await store.snapshot()
        provider = snap.provider("acme")
        assert provider is not None and provider.extra["proxy"] == PROVIDER_PROXY
        assert snap.accounts_for(provider.id)[0].extra["proxy"] == ACCOUNT_PROXY
        assert snap.settings["proxy"] == GLOBAL_PROXY
        raw = _database_bytes(store)
    for secret in SECRETS:
        assert secret.encode() not in raw
    stored = json.loads(raw_query(db_path, "SELECT extra FROM providers")[0][0])
    assert set(stored["proxy"]) == {"sealed"}


async def test_a_sealed_value_moved_to_another_row_does_not_open(settings: Settings) -> None:
    async with Store(settings) as store:
        await _configure(store)
        await ConfigEditor(store).add_account(
            "beta", "sk-beta-account-key-0123456789",
            provider=("openai", "https://beta.example/v1", None),
        )  # fmt: skip
        db_path = store.db_path
    with sqlite3.connect(db_path) as db:
        (acme_extra,) = db.execute("SELECT extra FROM providers WHERE name = 'acme'").fetchone()
        db.execute("UPDATE providers SET extra = ? WHERE name = 'beta'", (acme_extra,))
    async with Store(settings) as store:
        with pytest.raises(SecretKeyError, match="failed authentication"):
            await store.snapshot()

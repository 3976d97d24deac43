from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from pathlib import Path

import pytest

from omniroute.errors import BadRequest, ConfigError, Conflict, NotFound
from omniroute.settings import Settings
from omniroute.store import CLIENT_KEY_PREFIX, Store, bump_revision, hash_client_key

from .helpers import all_bytes, raw_query

pytestmark = pytest.mark.anyio


async def test_connection_pragmas(settings: Settings) -> None:
    async with Store(settings) as store:
        pragmas = await store.read(
            lambda c: tuple(
                c.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
            )
        )
        writer_pragmas = await store.write(
            lambda c: (
                c.execute("PRAGMA synchronous").fetchone()[0],
                c.execute("PRAGMA foreign_keys").fetchone()[0],
            )
        )
    assert pragmas[0] == "wal"
    assert pragmas[1] == 1
    assert pragmas[2] == 2  # FULL
    assert pragmas[3] > 0
    assert writer_pragmas == (2, 1)


async def test_upsert_provider_inserts_then_updates(settings: Settings) -> None:
    async with Store(settings) as store:
        created = await store.upsert_provider("acme", "openai", "https://a.test/v1", ["m1", "m2"])
        assert (created.name, created.format, created.base_url) == (
            "acme",
            "openai",
            "https://a.test/v1",
        )
        assert created.models == ("m1", "m2") and created.enabled
        same = await store.upsert_provider("acme", "anthropic", "https://b.test")
        assert same.id == created.id
        assert (same.format, same.base_url, same.models) == (
            "anthropic",
            "https://b.test",
            ("m1", "m2"),
        )
        replaced = await store.upsert_provider("acme", "anthropic", "https://b.test", [])
        assert replaced.models == ()
        snap = await store.snapshot()
        assert [p.name for p in snap.providers] == ["acme"]
        assert snap.provider("acme") == replaced
        assert snap.provider("nope") is None


@pytest.mark.parametrize(
    ("name", "format", "base_url"),
    [
        ("", "openai", "https://a.test"),
        ("has/slash", "openai", "https://a.test"),
        ("has space", "openai", "https://a.test"),
        ("ok", "", "https://a.test"),
        ("ok", "openai", "ftp://a.test"),
        ("ok", "openai", ""),
    ],
)
async def test_invalid_provider_input_is_a_bad_request(
    settings: Settings, name: str, format: str, base_url: str
) -> None:
    async with Store(settings) as store:
        with pytest.raises(BadRequest):
            await store.upsert_provider(name, format, base_url)
        with pytest.raises(BadRequest):
            await store.upsert_provider("ok", "openai", "https://a.test", "one-string")
        assert await store.revision() == 0


async def test_accounts_priority_order_and_validation(settings: Settings) -> None:
    async with Store(settings) as store:
        a = await store.upsert_provider("a", "openai", "https://a.test")
        b = await store.upsert_provider("b", "openai", "https://b.test")
        b1 = await store.add_account(b.id, "kb1")
        a1 = await store.add_account(a.id, "ka1")
        a2 = await store.add_account(a.id, "ka2", label="second")
        a0 = await store.add_account(a.id, "ka0", priority=-5, enabled=False)
        a3 = await store.add_account(a.id, "  ka3  ")
        assert (a1.priority, a2.priority, a3.priority, b1.priority) == (0, 1, 2, 0)
        assert a3.api_key == "ka3"  # pasted whitespace is not part of a key
        assert not a0.enabled and a2.label == "second"

        snap = await store.snapshot()
        assert [x.id for x in snap.accounts] == [a0.id, a1.id, a2.id, a3.id, b1.id]
        assert [x.api_key for x in snap.accounts_for(a.id)] == ["ka0", "ka1", "ka2", "ka3"]
        assert snap.accounts_for(b.id) == (b1,)
        assert snap.accounts_for(999) == ()

        revision = await store.revision()
        with pytest.raises(NotFound, match="unknown provider id 999"):
            await store.add_account(999, "k")
        with pytest.raises(BadRequest, match="must not be empty"):
            await store.add_account(a.id, "   ")
        with pytest.raises(Conflict, match="already has an account"):
            await store.add_account(a.id, "ka1")
        assert await store.revision() == revision  # failed writes change nothing
        assert len((await store.snapshot()).accounts) == 5


async def test_enable_disable_and_delete(settings: Settings) -> None:
    async with Store(settings) as store:
        p = await store.upsert_provider("p", "openai", "https://p.test")
        acc = await store.add_account(p.id, "k1")
        await store.set_provider_enabled("p", False)
        await store.set_account_enabled(acc.id, False)
        snap = await store.snapshot()
        provider = snap.provider("p")
        assert provider is not None and not provider.enabled
        assert not snap.accounts[0].enabled
        await store.set_provider_enabled("p", True)
        assert (await store.snapshot()).providers[0].enabled

        with pytest.raises(NotFound, match="unknown provider"):
            await store.set_provider_enabled("ghost", True)
        with pytest.raises(NotFound, match="unknown account id"):
            await store.set_account_enabled(12345, True)

        assert await store.delete_provider("p") is True
        assert await store.delete_provider("p") is False
        snap = await store.snapshot()
        assert snap.providers == () and snap.accounts == ()  # accounts cascade
        leftover = await store.read(lambda c: c.execute("SELECT count(*) FROM accounts").fetchone())
        assert leftover == (0,)


async def test_config_revision_increments_once_per_change(settings: Settings) -> None:
    async with Store(settings) as store:
        assert await store.revision() == 0
        p = await store.upsert_provider("p", "openai", "https://p.test")
        assert await store.revision() == 1
        acc = await store.add_account(p.id, "k")
        assert await store.revision() == 2
        await store.set_account_enabled(acc.id, False)
        await store.set_provider_enabled("p", False)
        key, _ = await store.create_client_key()
        await store.revoke_client_key(key.id)
        await store.set_setting("x", 1)
        assert await store.revision() == 7
        await store.revoke_client_key(key.id)  # nothing changed
        await store.delete_provider("ghost")  # nothing changed
        await store.snapshot()
        assert await store.revision() == 7
        await store.delete_provider("p")
        assert (await store.snapshot()).revision == 8
        # Features added later bump it through the generic writer.
        await store.write(bump_revision)
        assert await store.revision() == 9


async def test_revision_change_is_seen_by_another_store(settings: Settings) -> None:
    async with Store(settings) as server, Store(settings) as cli:
        seen = await server.revision()
        await cli.upsert_provider("from-cli", "openai", "https://c.test")
        assert await server.revision() == seen + 1
        assert (await server.snapshot()).provider("from-cli") is not None


async def test_client_keys_create_lookup_revoke(settings: Settings) -> None:
    async with Store(settings) as store:
        record, plaintext = await store.create_client_key("laptop")
        other, other_plain = await store.create_client_key()
        assert plaintext.startswith(CLIENT_KEY_PREFIX) and len(plaintext) > 40
        assert plaintext != other_plain
        assert record.key_hash == hashlib.sha256(plaintext.encode()).hexdigest()
        assert record.key_hash == hash_client_key(plaintext)
        assert record.prefix == plaintext[:12]
        assert record.name == "laptop" and other.name is None
        assert not record.revoked and record.last_used_at is None
        assert plaintext not in repr(record)

        snap = await store.snapshot()
        assert snap.key_by_hash(hash_client_key(plaintext)) == record
        assert snap.key_by_hash(hash_client_key(other_plain)) == other
        assert snap.key_by_hash(hash_client_key(plaintext + "x")) is None

        assert await store.revoke_client_key(record.id) is True
        assert await store.revoke_client_key(record.id) is False
        assert await store.revoke_client_key(9999) is False
        snap = await store.snapshot()
        revoked = snap.key_by_hash(record.key_hash)
        assert revoked is not None and revoked.revoked
        still = snap.key_by_hash(other.key_hash)
        assert still is not None and not still.revoked
        db_dir = Path(settings.data_dir)
    stored = raw_query(db_dir / "omniroute.db", "SELECT key_hash, prefix FROM client_keys")
    assert (record.key_hash, record.prefix) in stored
    assert plaintext.encode() not in all_bytes(db_dir)


async def test_settings_are_json(settings: Settings) -> None:
    async with Store(settings) as store:
        await store.set_setting("routing.strategy", "fill-first")
        await store.set_setting("limits", {"rpm": 60, "models": ["a", "b"]})
        await store.set_setting("limits", {"rpm": 30})
        await store.set_setting("flag", None)
        snap = await store.snapshot()
        assert dict(snap.settings) == {
            "routing.strategy": "fill-first",
            "limits": {"rpm": 30},
            "flag": None,
        }
        with pytest.raises(BadRequest, match="JSON"):
            await store.set_setting("bad", {1, 2})
        with pytest.raises(BadRequest, match="JSON"):
            await store.set_setting("nan", float("nan"))
        with pytest.raises(BadRequest, match="setting key"):
            await store.set_setting("", 1)


async def test_generic_write_is_one_transaction(settings: Settings) -> None:
    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO settings (key, value) VALUES ('half', '1')")
        raise ValueError("stop here")

    async with Store(settings) as store:
        with pytest.raises(ValueError, match="stop here"):
            await store.write(half_then_fail)
        rows = await store.read(lambda c: c.execute("SELECT * FROM settings").fetchall())
        assert rows == []
        count = await store.write(
            lambda c: c.execute("INSERT INTO settings VALUES ('a', '1')").rowcount
        )
        assert count == 1
        with pytest.raises(sqlite3.OperationalError):  # the reader is read-only
            await store.read(lambda c: c.execute("DELETE FROM settings"))


async def test_use_before_open_and_after_close(settings: Settings) -> None:
    store = Store(settings)
    with pytest.raises(ConfigError, match="not open"):
        await store.revision()
    with pytest.raises(ConfigError, match="not open"):
        store.seal("x", "a|1|b")
    await store.open()
    await store.open()  # already open: nothing happens
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(ConfigError):
        await store.snapshot()
    with pytest.raises(ConfigError):
        await store.upsert_provider("p", "openai", "https://p.test")
    with pytest.raises(ConfigError, match="closed"):
        await store.open()


async def test_close_waits_for_queued_writes(settings: Settings) -> None:

    async with Store(settings) as store:
        tasks = [
            asyncio.ensure_future(store.upsert_provider(f"p{i}", "openai", "https://p.test"))
            for i in range(20)
        ]
        await asyncio.sleep(0)  # let every task submit its job
    results = await asyncio.gather(*tasks)
    assert len({r.id for r in results}) == 20
    async with Store(settings) as again:
        assert len((await again.snapshot()).providers) == 20


async def test_breaker_state_round_trip_without_revision_change(settings: Settings) -> None:
    state = {"openai|1": {"state": "open", "failures_ago": [0.5, 1.25], "open_for": 3.0}}
    async with Store(settings) as store:
        assert await store.load_breaker_state() == {}
        await store.save_breaker_state(state)
        assert await store.load_breaker_state() == state
        assert await store.revision() == 0  # runtime state, not configuration
        with pytest.raises(BadRequest):
            await store.save_breaker_state({"x": {1, 2}})
    async with Store(settings) as again:
        assert await again.load_breaker_state() == state


async def test_response_memory_table_is_usable(settings: Settings) -> None:
    async with Store(settings) as store:
        await store.write(
            lambda c: c.execute(
                "INSERT INTO response_memory (id, expires_at, items) VALUES ('r1', 10, '[]')"
            )
        )
        rows = await store.read(lambda c: c.execute("SELECT id FROM response_memory").fetchall())
    assert rows == [("r1",)]

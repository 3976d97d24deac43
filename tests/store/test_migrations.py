from __future__ import annotations

import re
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from omniroute.errors import ConfigError
from omniroute.settings import Settings
from omniroute.store import MIGRATIONS, Migration, Store, hash_client_key
from omniroute.store.migrations import backup_database, check_migrations, migrate, sql

from .helpers import raw_execute, raw_query

pytestmark = pytest.mark.anyio

LATEST = MIGRATIONS[-1].version


def _tables(db_path: Path) -> set[str]:
    return {r[0] for r in raw_query(db_path, "SELECT name FROM sqlite_master WHERE type='table'")}


def _backups(settings: Settings) -> list[Path]:
    folder = Path(settings.data_dir) / "backups"
    return sorted(folder.glob("*.db")) if folder.exists() else []


async def _fill(store: Store) -> tuple[int, int, str]:
    """Rows valid at every schema version (the config tables come first)."""
    provider = await store.upsert_provider("acme", "openai", "https://acme.test/v1", ["m1"])
    account = await store.add_account(provider.id, "acme-secret-key", label="main")
    # Written by hand: today's store reads and writes key columns that the
    # first versions do not have.
    plaintext = "sk-omni-migration-test-key-0123456789"
    await store.write(
        lambda c: c.execute(
            "INSERT INTO client_keys (name, key_hash, prefix, created_at) VALUES (?, ?, ?, 0)",
            ("ci", hash_client_key(plaintext), plaintext[:12]),
        )
    )
    await store.set_setting("theme", {"dark": True})
    return provider.id, account.id, plaintext


async def test_fresh_database_gets_every_migration(settings: Settings) -> None:
    async with Store(settings) as store:
        result = store.migration_result
        assert result is not None
        assert result.from_version == 0
        assert result.to_version == LATEST
        assert result.applied == tuple(m.version for m in MIGRATIONS)
        assert result.backup is None  # nothing to back up in a new database
        db_path = store.db_path
    recorded = raw_query(db_path, "SELECT version, name FROM schema_migrations ORDER BY version")
    assert recorded == [(m.version, m.name) for m in MIGRATIONS]
    expected = {"providers", "accounts", "client_keys", "settings", "meta", "request_log"}
    assert expected | {"response_memory"} <= _tables(db_path)
    indexes = raw_query(db_path, "SELECT name FROM sqlite_master WHERE tbl_name='request_log'")
    assert any("ts" in name for (name,) in indexes)
    assert _backups(settings) == []


async def test_rerunning_is_a_no_op(settings: Settings) -> None:
    async with Store(settings) as store:
        await store.upsert_provider("acme", "openai", "https://acme.test/v1")
        db_path = store.db_path
    before = raw_query(db_path, "SELECT version, name, applied_at FROM schema_migrations")
    async with Store(settings) as again:
        result = again.migration_result
        assert result is not None
        assert result.applied == ()
        assert result.from_version == result.to_version == LATEST
        assert (await again.snapshot()).provider("acme") is not None
    assert raw_query(db_path, "SELECT version, name, applied_at FROM schema_migrations") == before
    assert _backups(settings) == []


@pytest.mark.parametrize("old_version", range(1, LATEST))
async def test_upgrade_from_each_earlier_version_keeps_rows_and_backs_up(
    settings: Settings, old_version: int
) -> None:
    async with Store(settings, migrations=MIGRATIONS[:old_version]) as old:
        provider_id, account_id, key_plaintext = await _fill(old)
    async with Store(settings) as store:
        result = store.migration_result
        assert result is not None
        assert (result.from_version, result.to_version) == (old_version, LATEST)
        snap = await store.snapshot()
        backup = result.backup
    provider = snap.provider("acme")
    assert provider is not None and provider.id == provider_id and provider.models == ("m1",)
    (account,) = snap.accounts_for(provider_id)
    assert (account.id, account.api_key, account.label) == (account_id, "acme-secret-key", "main")
    assert snap.settings["theme"] == {"dark": True}
    assert snap.key_by_hash(hash_client_key(key_plaintext)) is not None

    assert backup is not None and _backups(settings) == [backup]
    assert re.fullmatch(rf"omniroute-\d{{8}}T\d{{6}}Z-v{old_version}\.db", backup.name)
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    # The backup is a complete database at the old version.
    assert raw_query(backup, "PRAGMA integrity_check") == [("ok",)]
    assert raw_query(backup, "SELECT max(version) FROM schema_migrations") == [(old_version,)]
    assert raw_query(backup, "SELECT name FROM providers") == [("acme",)]


async def test_appended_migration_runs_on_current_schema(settings: Settings) -> None:
    async with Store(settings) as store:
        await _fill(store)
    extra = Migration(
        LATEST + 1, "provider notes", sql("ALTER TABLE providers ADD COLUMN note TEXT")
    )
    async with Store(settings, migrations=(*MIGRATIONS, extra)) as store:
        result = store.migration_result
        assert result is not None and result.applied == (LATEST + 1,)
        assert result.backup is not None and result.backup.name.endswith(f"-v{LATEST}.db")
        snap = await store.snapshot()
        assert snap.accounts[0].api_key == "acme-secret-key"
        notes = await store.read(lambda c: c.execute("SELECT note FROM providers").fetchall())
        assert notes == [(None,)]


async def test_newer_database_is_refused_clearly(settings: Settings) -> None:
    async with Store(settings) as store:
        db_path = store.db_path
    raw_execute(
        db_path,
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)",
        (LATEST + 3,),
    )
    with pytest.raises(ConfigError) as info:
        await Store(settings).open()
    message = str(info.value)
    assert f"schema version {LATEST + 3}" in message
    assert "newer" in message and f"up to {LATEST}" in message


async def test_failing_migration_rolls_back_and_keeps_old_version(settings: Settings) -> None:
    async with Store(settings) as store:
        await _fill(store)

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("migration bug")

    bad = Migration(LATEST + 1, "broken", broken)
    with pytest.raises(RuntimeError, match="migration bug"):
        await Store(settings, migrations=(*MIGRATIONS, bad)).open()
    db_path = Path(settings.data_dir) / "omniroute.db"
    assert "half_done" not in _tables(db_path)
    assert raw_query(db_path, "SELECT max(version) FROM schema_migrations") == [(LATEST,)]
    async with Store(settings) as store:  # the current code still opens it
        assert len((await store.snapshot()).accounts) == 1


def test_migration_list_must_be_contiguous() -> None:
    noop = sql()
    check_migrations([Migration(1, "a", noop), Migration(2, "b", noop)])
    with pytest.raises(ConfigError, match="expected 2"):
        check_migrations([Migration(1, "a", noop), Migration(3, "c", noop)])
    with pytest.raises(ConfigError, match="expected 1"):
        check_migrations([Migration(2, "b", noop)])


def test_migrate_twice_on_one_connection(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    try:
        first = migrate(conn, tmp_path / "backups")
        second = migrate(conn, tmp_path / "backups")
    finally:
        conn.close()
    assert first.applied == tuple(m.version for m in MIGRATIONS)
    assert second.applied == () and second.backup is None


def test_simultaneous_backups_get_distinct_complete_files(tmp_path: Path) -> None:
    db_path = tmp_path / "x.db"
    setup = sqlite3.connect(db_path, isolation_level=None)
    migrate(setup, tmp_path / "backups")
    setup.execute("INSERT INTO settings VALUES ('k', '1')")
    setup.close()
    results: list[Path] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def back_up() -> None:
        conn = sqlite3.connect(db_path, isolation_level=None)
        try:
            barrier.wait(timeout=5)
            results.append(backup_database(conn, tmp_path / "backups", 7))
        except BaseException as exc:
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=back_up) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len(set(results)) == 6
    assert sorted(results) == sorted((tmp_path / "backups").iterdir())  # no partials left
    for path in results:
        assert path.name.startswith("omniroute-") and "-v7" in path.name
        assert raw_query(path, "SELECT value FROM settings") == [("1",)]

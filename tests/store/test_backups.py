"""Backups with SQLite's backup API, and restoring one into a live database:
one transaction, a pre-restore copy first, history and access kept, names
that cannot lead outside the backup directory."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from omniroute.errors import BadRequest, NotFound
from omniroute.settings import Settings
from omniroute.store import MIGRATIONS, ComboTargetRecord, RequestLogRow, Store
from omniroute.store.admin import AdminRows
from omniroute.store.backups import AUTO, MANUAL, PRE_MIGRATION, PRE_RESTORE

from .helpers import raw_query

pytestmark = pytest.mark.anyio

KEY_A = "sk-backup-test-key-aaaa"
KEY_B = "sk-backup-test-key-bbbb"


def always(snapshot: object, combo: object) -> None:
    """A combo check that accepts everything (the editor's is tested elsewhere)."""


async def _configure(store: Store) -> None:
    acme = await store.upsert_provider("acme", "openai", "https://acme.test/v1", ["m1"])
    await store.add_account(acme.id, KEY_A)
    await store.upsert_combo("duo", [ComboTargetRecord("acme/m1", 1)], check=always)
    await store.add_alias("gpt-*", "duo")
    await store.set_setting("system_prompt", "be brief")


async def _config(store: Store) -> tuple[object, ...]:
    """Everything configured, without ids that are not the user's."""
    snap = await store.snapshot()
    return (
        [(p.name, p.base_url, p.models) for p in snap.providers],
        [(a.api_key, a.priority) for a in snap.accounts],
        [(c.name, c.targets) for c in snap.combos],
        [(a.pattern, a.target) for a in snap.aliases],
        dict(snap.settings),
        [k.key_hash for k in snap.client_keys],
    )


async def test_a_backup_is_a_private_self_contained_copy(settings: Settings) -> None:
    async with Store(settings) as store:
        await _configure(store)
        info = await store.create_backup()
        listed = await store.list_backups()
    assert listed == [info] and info.kind == MANUAL
    path = store.backup_dir / info.name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert raw_query(path, "PRAGMA journal_mode") == [("delete",)]
    assert raw_query(path, "SELECT name FROM providers") == [("acme",)]
    assert not path.with_name(path.name + "-wal").exists()


async def test_backup_change_restore_brings_the_old_configuration_back(
    settings: Settings,
) -> None:
    async with Store(settings) as store:
        await _configure(store)
        _, key = await store.create_client_key("old")
        before = await _config(store)
        backup = await store.create_backup()
        revision_at_backup = await store.revision()

        # Changes after the backup: some added, some changed, some removed.
        beta = await store.upsert_provider("beta", "anthropic", "https://beta.test", ["b"])
        await store.add_account(beta.id, KEY_B)
        await store.set_setting("system_prompt", "be verbose")
        await store.remove_alias("gpt-*")
        await store.create_client_key("new")
        changed = await _config(store)
        rows = AdminRows(store)
        await rows.audit(time.time(), "cli", "test.after_backup", "x")
        store.log_request(RequestLogRow(time.time(), "req-after", "acme/m1", 200, 1.0))
        revision_before_restore = await store.revision()

        result = await store.restore_backup(backup.name)

        assert await _config(store) == before
        assert result.restored == backup.name
        assert result.revision > max(revision_at_backup, revision_before_restore)
        assert await store.revision() == result.revision
        # The state it replaced is in the pre-restore backup.
        previous = store.backup_dir / result.previous
        assert (await store.list_backups())[0].kind == PRE_RESTORE
        assert raw_query(previous, "SELECT name FROM providers ORDER BY name") == [
            ("acme",),
            ("beta",),
        ]
        assert changed != before
        # History is kept, not rolled back.
        audit = await rows.audit_log()
        assert "test.after_backup" in [r.action for r in audit]
        logged = raw_query(store.db_path, "SELECT request_id FROM request_log")
        assert ("req-after",) in logged
        # The old client key is back and the new one gone.
        snap = await store.snapshot()
        assert [k.name for k in snap.client_keys] == ["old"]
        assert key.startswith("sk-omni-")
        # Ids are never reused: beta's account (2) is gone, and the next one
        # gets 3, not 2 again.
        acme = snap.provider("acme")
        assert acme is not None
        assert [a.id for a in snap.accounts] == [1]
        account = await store.add_account(acme.id, "sk-another-key-0000")
        assert account.id == 3


async def test_the_admin_password_and_sessions_are_kept(settings: Settings) -> None:
    async with Store(settings) as store:
        rows = AdminRows(store)
        await rows.set_password("old-hash", time.time())
        backup = await store.create_backup()
        await rows.set_password("new-hash", time.time())
        await store.restore_backup(backup.name)
        assert await rows.password() == "new-hash"


async def test_another_store_on_the_same_database_sees_the_restore(settings: Settings) -> None:
    # The CLI restoring next to a running server: two stores, one database.
    async with Store(settings) as server, Store(settings) as cli:
        await _configure(server)
        backup = await cli.create_backup()
        await server.set_setting("system_prompt", "changed")
        seen = await server.revision()
        await cli.restore_backup(backup.name)
        assert await server.revision() > seen
        assert (await server.snapshot()).settings["system_prompt"] == "be brief"


@pytest.mark.parametrize(
    "name",
    [
        "../omniroute.db",
        "omniroute.db",
        "secret.key",
        "omniroute-20250101T000000Z-manual.db/../../omniroute.db",
        "/etc/passwd",
        "omniroute-20250101T000000Z-manual",
        "omniroute-x-manual.db",
        "",
    ],
)
async def test_names_that_are_not_backups_are_refused(settings: Settings, name: str) -> None:
    async with Store(settings) as store:
        await _configure(store)
        before = await _config(store)
        with pytest.raises(BadRequest, match="backup name looks like"):
            await store.restore_backup(name)
        assert await _config(store) == before


async def test_a_missing_backup_or_a_link_is_not_found(settings: Settings) -> None:
    async with Store(settings) as store:
        await _configure(store)
        with pytest.raises(NotFound):
            await store.restore_backup("omniroute-20250101T000000Z-manual.db")
        store.backup_dir.mkdir(exist_ok=True)
        link = store.backup_dir / "omniroute-20250101T000000Z-auto.db"
        os.symlink(store.db_path, link)
        with pytest.raises(NotFound):
            await store.restore_backup(link.name)
        assert [b.name for b in await store.list_backups()] == []


async def test_a_damaged_backup_changes_nothing(settings: Settings) -> None:
    async with Store(settings) as store:
        await _configure(store)
        backup = await store.create_backup()
        path = store.backup_dir / backup.name
        data = bytearray(path.read_bytes())
        data[100:4096] = b"\xff" * (4096 - 100)  # the schema page, overwritten
        path.write_bytes(bytes(data))
        await store.set_setting("system_prompt", "current")
        before = await _config(store)
        with pytest.raises(BadRequest, match=backup.name):
            await store.restore_backup(backup.name)
        assert await _config(store) == before
        assert [b.kind for b in await store.list_backups()] == [MANUAL]
        assert not list(store.backup_dir.glob("*.partial"))


async def test_a_backup_sealed_with_another_key_is_refused(tmp_path: Path) -> None:
    other = Settings(data_dir=tmp_path / "other", log_flush_interval=30.0)
    async with Store(other) as foreign:
        await _configure(foreign)
        made = await foreign.create_backup()
    mine = Settings(data_dir=tmp_path / "mine", log_flush_interval=30.0)
    async with Store(mine) as store:
        await store.set_setting("system_prompt", "mine")
        store.backup_dir.mkdir(exist_ok=True)
        (store.backup_dir / made.name).write_bytes((foreign.backup_dir / made.name).read_bytes())
        with pytest.raises(BadRequest, match="another secret key"):
            await store.restore_backup(made.name)
        assert (await store.snapshot()).settings["system_prompt"] == "mine"


async def test_a_backup_from_an_older_schema_is_migrated_on_restore(settings: Settings) -> None:
    async with Store(settings, migrations=MIGRATIONS[:5]) as old:
        # Only writes that need no later table: today's snapshot reads columns
        # a version-5 database does not have yet.
        acme = await old.upsert_provider("acme", "openai", "https://acme.test/v1", ["m1"])
        await old.add_account(acme.id, KEY_A)
        await old.set_setting("system_prompt", "be brief")
    # Opening with every migration upgrades the database and keeps a copy
    # of the old one: a backup of an older schema.
    async with Store(settings) as store:
        result = store.migration_result
        assert result is not None and result.backup is not None
        await store.set_setting("system_prompt", "after the upgrade")
        (old_backup,) = [b for b in await store.list_backups() if b.kind == PRE_MIGRATION]
        await store.restore_backup(old_backup.name)
        assert (await store.snapshot()).settings["system_prompt"] == "be brief"
        assert [p.name for p in (await store.snapshot()).providers] == ["acme"]


async def test_pruning_keeps_the_newest_of_one_kind(settings: Settings) -> None:
    async with Store(settings) as store:
        manual = await store.create_backup()
        autos = []
        for _ in range(4):
            autos.append(await store.create_backup(AUTO))
        removed = await store.prune_backups(AUTO, 2)
        left = await store.list_backups()
    assert sorted(removed) == sorted(a.name for a in autos[:2])
    assert {b.name for b in left} == {manual.name, autos[2].name, autos[3].name}

"""Backups as the CLI and the management API make and restore them: the
store does the work (``omniroute.store.backups``), this adds the audit row,
so both record the same thing."""

from __future__ import annotations

import time

from omniroute.store import Store
from omniroute.store.admin import AdminRows
from omniroute.store.backups import MANUAL, BackupInfo, RestoreResult


async def make_backup(store: Store, *, actor: str, address: str | None = None) -> BackupInfo:
    made = await store.create_backup(MANUAL)
    await AdminRows(store).audit(
        time.time(), actor, "backup.create", made.name, {"size": made.size}, address
    )
    return made


async def restore_backup(
    store: Store, name: str, *, actor: str, address: str | None = None
) -> RestoreResult:
    """Restore backup ``name``; the audit row is written after it, into the
    audit log the restore keeps."""
    result = await store.restore_backup(name)
    detail = {"previous": result.previous, "revision": result.revision}
    await AdminRows(store).audit(time.time(), actor, "backup.restore", name, detail, address)
    return result

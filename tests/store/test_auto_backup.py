"""Automatic backups: one when due, none before, the oldest beyond the
retention count removed, other kinds never touched."""

from __future__ import annotations

import pytest

from omniroute.settings import Settings
from omniroute.store import Store
from omniroute.store.auto_backup import AutoBackups
from omniroute.store.backups import AUTO, MANUAL

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_backup_when_due_and_the_retention_count_kept(settings: Settings) -> None:
    schedule = {"hours": 24.0, "keep": 2}
    clock = Clock()
    async with Store(settings) as store:
        manual = await store.create_backup()
        autos = AutoBackups(store, lambda: (schedule["hours"], schedule["keep"]), 60, clock)
        first = await autos.run_once()
        assert first is not None and first.kind == AUTO
        clock.now = first.created_at + 23 * 3600  # not due yet
        assert await autos.run_once() is None
        made = [first]
        for _ in range(3):
            clock.now = max(b.created_at for b in await store.list_backups()) + 24 * 3600
            backup = await autos.run_once()
            assert backup is not None
            made.append(backup)
        left = await store.list_backups()
        assert [b.name for b in left if b.kind == AUTO] == [made[3].name, made[2].name]
        assert [b.name for b in left if b.kind == MANUAL] == [manual.name]
        schedule["hours"] = 0  # off
        clock.now += 10 * 24 * 3600
        assert await autos.run_once() is None

"""Automatic backups while the server runs: whenever the newest automatic
backup is older than the interval (``backup-interval-hours``, 0 = off), a new
one is written and the oldest beyond the retention count
(``backup-retention``) are deleted. Manual, pre-restore and pre-migration
backups are never deleted here.

The check runs every ``check_every`` seconds, first after one such pause, so
a server that only lives a few seconds (a test, a quick restart) writes none.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from .backups import AUTO, BackupInfo
from .store import Store

log = logging.getLogger("omniroute.store")

# (interval in hours, how many automatic backups to keep), read at each check
# so a changed setting applies without a restart.
Schedule = Callable[[], tuple[float, int]]


class AutoBackups:
    __slots__ = ("_store", "_schedule", "_check_every", "_clock", "_task")

    def __init__(
        self,
        store: Store,
        schedule: Schedule,
        check_every: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._schedule = schedule
        self._check_every = max(0.01, check_every)
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="auto-backup")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass

    async def run_once(self) -> BackupInfo | None:
        """Write a backup if one is due (and prune); the backup, or None."""
        hours, keep = self._schedule()
        if hours <= 0:
            return None
        newest = next((b for b in await self._store.list_backups() if b.kind == AUTO), None)
        if newest is not None and self._clock() - newest.created_at < hours * 3600:
            return None
        made = await self._store.create_backup(AUTO)
        removed = await self._store.prune_backups(AUTO, keep)
        log.info("automatic backup %s written (%d old one(s) removed)", made.name, len(removed))
        return made

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._check_every)
            try:
                await self.run_once()
            except Exception:  # a full disk must not stop the server; try again later
                log.exception("automatic backup failed")

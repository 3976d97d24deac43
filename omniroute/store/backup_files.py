"""Writing a copy of the database into the backup directory safely.

A copy is written under a name unique to the call, made private (0600)
before its first byte, fsynced, and only then linked to its final name: a
crash never leaves a half backup under a real name, and two processes
backing up in the same second never touch each other's files. Names are
``omniroute-<UTC time>-<kind>.db`` (``-2``, ``-3``… when taken).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ..errors import ConfigError

STEM_PREFIX = "omniroute-"
_STALE_PARTIAL_AGE = 3600.0  # seconds


def backup_stem(kind: str, now: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return f"{STEM_PREFIX}{moment.strftime('%Y%m%dT%H%M%SZ')}-{kind}"


def write_private_copy(directory: Path, stem: str, write: Callable[[Path], None]) -> Path:
    """Have ``write`` fill a new private file, then publish it as
    ``stem.db`` (or the next free name); returns the published path."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    remove_stale_partials(directory)
    partial = new_partial(directory, stem)
    try:
        write(partial)
        fsync_file(partial)
        target = publish(partial, directory, stem)
    finally:
        partial.unlink(missing_ok=True)
    fsync_file(directory)
    return target


def new_partial(directory: Path, stem: str) -> Path:
    """An empty private file (0600) with a name no other call uses. SQLite
    takes an empty file as a new database."""
    partial = directory / f"{stem}.{os.getpid()}.{secrets.token_hex(4)}.partial"
    os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    return partial


def publish(partial: Path, directory: Path, stem: str) -> Path:
    """Give ``partial`` the first free name ``stem.db``, ``stem-2.db``, ...

    link() fails instead of replacing an existing file, so a name taken by
    another process at the same moment is never overwritten.
    """
    for counter in range(1, 1000):
        candidate = directory / (f"{stem}.db" if counter == 1 else f"{stem}-{counter}.db")
        try:
            os.link(partial, candidate)
        except FileExistsError:
            continue
        except OSError:  # a filesystem without hard links
            if candidate.exists():
                continue
            os.replace(partial, candidate)
        return candidate
    raise ConfigError(f"no free backup file name for {stem} in {directory}")


def remove_stale_partials(directory: Path) -> None:
    """Delete leftovers of copies interrupted by a crash.  Only old ones: a
    fresh one may belong to another process writing right now."""
    cutoff = time.time() - _STALE_PARTIAL_AGE
    for partial in directory.glob(f"{STEM_PREFIX}*.partial"):
        try:
            if partial.stat().st_mtime < cutoff:
                partial.unlink()
        except OSError:
            pass


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

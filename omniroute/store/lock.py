"""One serving gateway per data directory.

Two servers on one database would both write their admin file, and the one
that exits first would remove the other's. A server holds an exclusive lock
on ``serve.lock`` while it runs (``flock``: released by the kernel when the
process dies, however it dies) and writes its PID and address there, so a
second one can say who is already serving. CLI commands take no lock: they
are meant to run beside a server.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from omniroute.errors import ConfigError

LOCK_FILE_NAME = "serve.lock"


class DataDirLock:
    __slots__ = ("_path", "_fd")

    def __init__(self, data_dir: Path) -> None:
        self._path = Path(data_dir) / LOCK_FILE_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise ConfigError naming the server that holds it."""
        self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise ConfigError(
                f"another gateway ({holder}) is already serving {self._path.parent}; "
                "stop it first or use another --data-dir"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._write(f"PID {os.getpid()}")

    def publish(self, address: str) -> None:
        """Say where this server listens (read by a second one that is refused)."""
        self._write(f"PID {os.getpid()}, {address}")

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _write(self, text: str) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, text.encode(), 0)


def holder(data_dir: Path) -> str | None:
    """Who serves ``data_dir`` ("PID 123, http://127.0.0.1:20128"), or None
    when no gateway holds its lock. Takes a shared lock for an instant to
    find out, so it never mistakes a crashed server's leftover text for a
    live one."""
    try:
        fd = os.open(Path(data_dir) / LOCK_FILE_NAME, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read(fd: int) -> str:
    text = os.pread(fd, 256, 0).decode("utf-8", "replace").strip()
    return text or "PID unknown"

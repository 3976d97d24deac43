"""SQLite connections and the worker threads that own them.

The event loop never touches the disk: each connection lives in one thread
(a ``Worker``) that takes jobs from a queue, runs each in its own
transaction, and hands the result back to the submitting event loop as a
future.  The store runs one writer worker (so writes never contend inside the
process) and one reader worker (WAL lets it read while the writer writes).
Other processes — a CLI command next to the running server — are handled by
SQLite's own locking: ``busy_timeout`` plus a bounded number of retries.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..errors import ConfigError

T = TypeVar("T")

log = logging.getLogger("omniroute.store")

DB_FILE_NAME = "omniroute.db"
BUSY_TIMEOUT_MS = 5_000
# After busy_timeout has run out, a whole transaction is retried this many
# more times (each retry waits busy_timeout again), with a short pause between.
BUSY_RETRIES = 4
_RETRY_PAUSE = 0.05

BEGIN_WRITE = "BEGIN IMMEDIATE"  # take the write lock up front: no upgrade deadlocks
BEGIN_READ = "BEGIN"  # one consistent snapshot for all statements of a read

_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) if missing; the leaf gets mode 0700."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def prepare_db_file(path: Path) -> None:
    """Create an empty database file with mode 0600 if there is none yet.

    SQLite treats an empty file as a new database, and creates the -wal and
    -shm files with the permissions of the main file, so all three stay private.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """Open ``path`` with the pragmas every connection of ours uses.

    ``isolation_level=None`` turns off the sqlite3 module's implicit
    transactions: we issue BEGIN/COMMIT ourselves.
    """
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, cached_statements=64
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not read_only:
            # WAL is a property of the file; setting it needs a write lock, so
            # only the writer does it (https://sqlite.org/wal.html#activating_and_configuring_wal_mode).
            mode = retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            if str(mode).lower() != "wal":
                raise ConfigError(f"{path}: could not switch the database to WAL mode")
        # FULL: a commit is on disk before it is acknowledged, also in WAL mode
        # (https://sqlite.org/pragma.html#pragma_synchronous).
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        if read_only:
            conn.execute("PRAGMA query_only = ON")
    except BaseException:
        conn.close()
        raise
    return conn


def is_busy(exc: BaseException) -> bool:
    return (
        isinstance(exc, sqlite3.OperationalError)
        and getattr(exc, "sqlite_errorcode", None) in _BUSY_CODES
    )


def retry_busy(action: Callable[[], T]) -> T:
    """Run ``action``, retrying while SQLite reports the database busy.

    For the few statements that can fail with SQLITE_BUSY at once, without
    waiting for busy_timeout: switching a brand-new file to WAL while another
    process does the same is one (SQLite does not call the busy handler when
    waiting could deadlock).  Bounded by the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.005
    while True:
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def run_transaction(
    conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T], begin: str
) -> T:
    """Run ``fn`` between ``begin`` and COMMIT; roll back if it raises.

    A transaction that finds the database busy even after busy_timeout is
    rolled back and retried from the start, so ``fn`` must be repeatable (it
    only touches the database).
    """
    attempt = 0
    while True:
        try:
            conn.execute(begin)
            try:
                result = fn(conn)
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
            return result
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or attempt >= BUSY_RETRIES:
                raise
            attempt += 1
            time.sleep(_RETRY_PAUSE * attempt)


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            log.warning("rollback failed", exc_info=True)


@dataclass(slots=True)
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    begin: str | None  # None: fn manages transactions itself
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


@dataclass(slots=True)
class _Stop:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


class Worker:
    """One thread, one connection, a queue of jobs; results come back as futures.

    ``tick`` (if given) runs in the thread at least every ``tick_interval``
    seconds and once more before the thread stops: the store uses it to write
    batched request-log rows.
    """

    def __init__(
        self,
        name: str,
        open_connection: Callable[[], sqlite3.Connection],
        *,
        tick: Callable[[sqlite3.Connection], object] | None = None,
        tick_interval: float = 1.0,
    ) -> None:
        self._name = name
        self._open_connection = open_connection
        self._tick = tick
        self._tick_interval = max(0.01, tick_interval)
        self._jobs: queue.SimpleQueue[_Job | _Stop] = queue.SimpleQueue()
        self._lock = threading.Lock()  # guards _state against racing submit/stop
        self._state = "new"  # -> running -> stopping -> done
        self._failure: Exception | None = None  # why the connection could not open
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def __repr__(self) -> str:
        return f"Worker({self._name!r}, {self._state})"

    def start(self) -> None:
        with self._lock:
            if self._state != "new":
                raise RuntimeError("a worker can be started only once")
            self._state = "running"
        self._thread.start()

    def submit(self, fn: Callable[[sqlite3.Connection], T], begin: str | None) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._lock:
            if self._state != "running":
                if self._failure is not None:
                    raise self._failure
                raise ConfigError("the store is closed")
            self._jobs.put(_Job(fn, begin, loop, future))
        return future

    def stop(self) -> asyncio.Future[None]:
        """Finish queued jobs, run the last tick, close the connection."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._state in ("new", "done"):  # no thread to wait for
                self._state = "done"
                future.set_result(None)
                return future
            self._state = "stopping"
            self._jobs.put(_Stop(loop, future))
        return future

    def join(self, timeout: float) -> None:
        if self._thread.ident is not None:
            self._thread.join(timeout)

    # -- in the thread -------------------------------------------------------

    def _main(self) -> None:
        try:
            conn = self._open_connection()
        except Exception as exc:
            self._failure = exc
            self._fail_remaining(exc)
            return
        stop: _Stop | None = None
        try:
            stop = self._serve(conn)
        finally:
            self._run_tick(conn)  # the last batch goes to disk before we close
            conn.close()
            self._fail_remaining(ConfigError("the store is closed"))
            if stop is not None:
                _deliver(stop.loop, stop.future, None, None)

    def _serve(self, conn: sqlite3.Connection) -> _Stop:
        next_tick = time.monotonic() + self._tick_interval
        while True:
            wait = max(0.0, next_tick - time.monotonic()) if self._tick else None
            try:
                item = self._jobs.get(timeout=wait)
            except queue.Empty:
                item = None
            if isinstance(item, _Stop):
                return item
            if item is not None:
                self._run_job(conn, item)
            if self._tick and time.monotonic() >= next_tick:
                self._run_tick(conn)
                next_tick = time.monotonic() + self._tick_interval

    def _run_job(self, conn: sqlite3.Connection, job: _Job) -> None:
        if job.future.cancelled():
            return  # the caller gave up before we started: skip the work
        try:
            begin = job.begin
            result = job.fn(conn) if begin is None else run_transaction(conn, job.fn, begin)
        except Exception as exc:
            _deliver(job.loop, job.future, None, exc)
        else:
            _deliver(job.loop, job.future, result, None)

    def _run_tick(self, conn: sqlite3.Connection) -> None:
        if self._tick is None:
            return
        try:
            self._tick(conn)
        except Exception:
            log.warning("%s: periodic task failed", self._name, exc_info=True)

    def _fail_remaining(self, exc: Exception) -> None:
        with self._lock:
            self._state = "done"
        while True:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Stop):
                _deliver(item.loop, item.future, None, None)
            else:
                _deliver(item.loop, item.future, None, exc)


def _deliver(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    result: Any,
    exc: BaseException | None,
) -> None:
    def settle() -> None:
        if future.done():  # cancelled by the caller meanwhile
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:
        pass  # that event loop is closed: nobody is waiting any more

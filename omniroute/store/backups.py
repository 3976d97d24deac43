"""Backups of the whole database, and restoring one into a live database.

A backup is a copy made with SQLite's online backup API from its own
connection, so the writer never waits for it: it holds every write that was
acknowledged (committed) before it began. Copies live in
``<data dir>/backups`` as ``omniroute-<UTC time>-<kind>.db`` (kinds: manual,
auto, pre-restore, and ``v<N>`` for the copy taken before a migration), each
a self-contained file (rollback journal, not WAL), mode 0600.

Restoring runs as one job of the writer thread (writes queued before it are
done, writes queued after it wait) and changes the live database in one
transaction, through the same connection everybody else's changes go
through: there is no file to swap and nothing to reopen, and a CLI process
or a server using the same database sees the restored state at its next
read. In order:

1. the backup is copied to a private scratch file, checked
   (``integrity_check``), migrated to the current schema, and its sealed
   secrets are checked against this database's key (a backup sealed with
   another key is refused: nothing in it could be read);
2. the live database's write lock is taken (``BEGIN IMMEDIATE``), and while
   it is held a ``pre-restore`` backup of the live state is written, so
   every write acknowledged before the restore stays on disk;
3. every table except the history and access tables is emptied and filled
   from the backup, parents before children; the config revision is moved
   past both the live and the restored one, so a running server reloads;
4. COMMIT. Any failure rolls everything back and removes the pre-restore
   copy: a failed restore changes nothing.

Kept from the live database, never rolled back: the audit log and the
request log (history: rolling them back would erase what happened since),
the admin password and sessions (who may log in is not configuration), and
the Responses conversation memory.
"""

from __future__ import annotations

import re
import sqlite3
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadRequest, ConfigError, NotFound
from . import repositories as repo
from .backup_files import (
    STEM_PREFIX,
    backup_stem,
    fsync_file,
    new_partial,
    remove_stale_partials,
    write_private_copy,
)
from .crypto import Sealer
from .db import BEGIN_WRITE, connect
from .migrations import Migration, migrate
from .sealed_options import seal_plain_values

AUTO = "auto"
MANUAL = "manual"
PRE_RESTORE = "pre-restore"
PRE_MIGRATION = "pre-migration"  # how ``v<N>`` copies are listed

_NAME = re.compile(
    rf"{STEM_PREFIX}(?P<stamp>\d{{8}}T\d{{6}}Z)-(?P<kind>auto|manual|pre-restore|v\d+)(?:-\d+)?\.db"
)
# History and access tables: a restore leaves them as they are (see above).
KEPT_TABLES = frozenset(
    {
        "admin_password",
        "admin_sessions",
        "audit_log",
        "eval_results",
        "eval_runs",
        "request_log",
        "usage_hourly",
        "response_memory",
        "schema_migrations",
    }
)
_RESTORED = "restored"  # the schema name the scratch copy is attached under


@dataclass(frozen=True, slots=True)
class BackupInfo:
    name: str
    kind: str  # manual, auto, pre-restore, pre-migration
    size: int  # bytes
    created_at: float  # the file's modification time (UNIX seconds)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "size": self.size,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class RestoreResult:
    restored: str  # the backup's name
    previous: str  # the pre-restore backup holding the state it replaced
    revision: int  # the config revision after the restore


def kind_of(name: str) -> str | None:
    found = _NAME.fullmatch(name)
    if found is None:
        return None
    kind = found.group("kind")
    return PRE_MIGRATION if kind.startswith("v") else kind


def list_backups(directory: Path) -> list[BackupInfo]:
    """Every backup in ``directory``, newest first."""
    try:
        entries = list(directory.iterdir())
    except FileNotFoundError:
        return []
    found = []
    for path in entries:
        kind = kind_of(path.name)
        if kind is None:
            continue
        try:
            info = path.lstat()
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            found.append(BackupInfo(path.name, kind, info.st_size, info.st_mtime))
    found.sort(key=lambda b: (b.created_at, b.name), reverse=True)
    return found


def backup_path(directory: Path, name: str) -> Path:
    """The file of backup ``name``. Only names that look like backups are
    accepted (no separators, no ``..``), and only regular files directly in
    ``directory``: a name can never lead anywhere else."""
    if not isinstance(name, str) or kind_of(name) is None:
        raise BadRequest(
            "a backup name looks like omniroute-20250101T120000Z-manual.db "
            "(see the list of backups)"
        )
    path = directory / name
    try:
        info = path.lstat()
    except FileNotFoundError:
        raise NotFound(f"there is no backup named {name}") from None
    if not stat.S_ISREG(info.st_mode):  # a link or a directory: not one of ours
        raise NotFound(f"there is no backup named {name}")
    return path


def copy_database(db_path: Path, directory: Path, kind: str) -> BackupInfo:
    """Write a backup of ``db_path`` (blocking: run it in a thread)."""
    source = connect(db_path, read_only=True)
    try:
        path = write_private_copy(directory, backup_stem(kind), lambda p: _copy(source, p))
    finally:
        source.close()
    info = path.stat()
    return BackupInfo(path.name, kind, info.st_size, info.st_mtime)


def _copy(source: sqlite3.Connection, target_path: Path) -> None:
    """One step of the backup API: a consistent snapshot as of its start."""
    target = sqlite3.connect(str(target_path), isolation_level=None)
    try:
        source.backup(target)
        # A self-contained file: no -wal or -shm beside it when it is opened.
        target.execute("PRAGMA journal_mode = DELETE")
    finally:
        target.close()


def prune(directory: Path, kind: str, keep: int) -> list[str]:
    """Delete the oldest backups of ``kind`` beyond the newest ``keep``."""
    removed = []
    for old in [b for b in list_backups(directory) if b.kind == kind][max(0, keep) :]:
        try:
            (directory / old.name).unlink()
        except FileNotFoundError:
            continue
        removed.append(old.name)
    return removed


# -- restore -------------------------------------------------------------------------


def restore(
    conn: sqlite3.Connection,
    sealer: Sealer,
    *,
    db_path: Path,
    source: Path,
    directory: Path,
    migrations: Sequence[Migration],
) -> RestoreResult:
    """Replace the live database's contents with backup ``source`` (see the
    module text). ``conn`` is the writer's connection, outside a transaction."""
    remove_stale_partials(directory)
    scratch = _prepared_copy(source, directory, sealer, migrations)
    previous: Path | None = None
    try:
        conn.execute(f"ATTACH DATABASE ? AS {_RESTORED}", (str(scratch),))
        try:
            conn.execute(BEGIN_WRITE)
            try:
                # Under the write lock nobody can commit: the copy is the
                # state the restore replaces, to the last acknowledged write.
                previous = write_private_copy(
                    directory, backup_stem(PRE_RESTORE), lambda p: _copy_live(db_path, p)
                )
                revision = _replace_tables(conn, sealer)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                if previous is not None:
                    previous.unlink(missing_ok=True)
                raise
        finally:
            conn.execute(f"DETACH DATABASE {_RESTORED}")
    finally:
        scratch.unlink(missing_ok=True)
    assert previous is not None  # written before the commit
    return RestoreResult(source.name, previous.name, revision)


def _copy_live(db_path: Path, target: Path) -> None:
    source = connect(db_path, read_only=True)
    try:
        _copy(source, target)
    finally:
        source.close()


def _prepared_copy(
    source: Path, directory: Path, sealer: Sealer, migrations: Sequence[Migration]
) -> Path:
    """A private scratch copy of ``source``, checked and migrated."""
    scratch = new_partial(directory, f"{STEM_PREFIX}restore")
    try:
        try:
            reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            try:
                _copy(reader, scratch)
            finally:
                reader.close()
            conn = sqlite3.connect(str(scratch), isolation_level=None)
        except sqlite3.DatabaseError:
            raise BadRequest(f"{source.name} is not a readable database") from None
        try:
            _check_copy(conn, source.name, directory, sealer, migrations)
        finally:
            conn.close()
        fsync_file(scratch)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
    return scratch


def _check_copy(
    conn: sqlite3.Connection,
    name: str,
    directory: Path,
    sealer: Sealer,
    migrations: Sequence[Migration],
) -> None:
    try:
        verdict = conn.execute("PRAGMA integrity_check").fetchone()
    except sqlite3.DatabaseError:
        verdict = None
    if verdict is None or verdict[0] != "ok":
        raise BadRequest(f"{name} is damaged (its integrity check fails)")
    # The backup itself is the copy from before this migration: the one
    # migrating takes goes to a scratch directory that is removed at once.
    with tempfile.TemporaryDirectory(dir=directory, prefix=f"{STEM_PREFIX}restore-") as scratch:
        try:
            migrate(conn, Path(scratch), migrations, db_label=name)
        except ConfigError as exc:
            raise BadRequest(exc.message) from None
    canary = repo.read_canary(conn)
    if canary is not None:
        try:
            repo.check_canary(sealer, canary)
        except ConfigError:
            raise BadRequest(
                f"{name} was sealed with another secret key: its API keys could not be "
                "read with this one (restore the secret.key it was made with)"
            ) from None
    elif repo.has_encrypted_data(conn):
        raise BadRequest(f"{name} holds secrets but no key check: it cannot be restored")


def _replace_tables(conn: sqlite3.Connection, sealer: Sealer) -> int:
    live_revision = repo.read_revision(conn)
    tables = [t for t in _tables(conn, "main") if t not in KEPT_TABLES]
    restored = set(_tables(conn, _RESTORED))
    for table in tables:
        if table not in restored:
            raise BadRequest(f"the backup has no table {table}: it cannot be restored")
    # Checked at COMMIT: the order below already puts parents first.
    conn.execute("PRAGMA defer_foreign_keys = ON")
    for table in tables:
        conn.execute(f'DELETE FROM main."{table}"')  # noqa: S608 (names from the schema)
    for table in _parents_first(conn, tables):
        # Named columns, not SELECT *: SQLite's copy shortcut for
        # INSERT … SELECT * skips the foreign-key bookkeeping.
        columns = ", ".join(f'"{c}"' for c in _columns(conn, "main", table))
        conn.execute(
            f'INSERT INTO main."{table}" ({columns}) '  # noqa: S608 (names from the schema)
            f'SELECT {columns} FROM {_RESTORED}."{table}"'
        )
    # Values older versions kept in plain text are sealed, as on open.
    seal_plain_values(conn, sealer)
    revision = max(live_revision, repo.read_revision(conn)) + 1
    conn.execute("UPDATE meta SET value = ? WHERE key = 'config_revision'", (revision,))
    return revision


def _tables(conn: sqlite3.Connection, schema: str) -> list[str]:
    rows = conn.execute(
        f"SELECT name FROM {schema}.sqlite_master "  # noqa: S608 (a fixed schema name)
        "WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    )
    return [str(row[0]) for row in rows]


def _columns(conn: sqlite3.Connection, schema: str, table: str) -> list[str]:
    return [str(row[1]) for row in conn.execute(f'PRAGMA {schema}.table_info("{table}")')]


def _parents_first(conn: sqlite3.Connection, tables: Sequence[str]) -> list[str]:
    parents = {
        t: {str(row[2]) for row in conn.execute(f'PRAGMA main.foreign_key_list("{t}")')}
        for t in tables
    }
    ordered: list[str] = []

    def visit(table: str, path: tuple[str, ...]) -> None:
        if table in ordered or table in path or table not in parents:
            return
        for parent in sorted(parents[table]):
            visit(parent, (*path, table))
        ordered.append(table)

    for table in tables:
        visit(table, ())
    return ordered

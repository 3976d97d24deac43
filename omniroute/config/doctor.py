"""``omniroute doctor``: what is wrong with a data dir, one check at a time.

Each check answers ok, warn or fail with one line of text. Nothing here
creates or changes anything: the database is opened read-only, the key is
only read, and a missing data dir is a finding, not something to make.

    data dir      exists, is ours, not readable by other users
    database      exists, private, passes PRAGMA integrity_check
    schema        the version this OmniRoute expects (older: upgraded at start)
    secret key    present (file or OMNIROUTE_SECRET_KEY), 0600, opens the database
    port          free, or our own gateway is serving on it
    providers     each enabled one has an enabled account
    client keys   at least one active; how many have no scope (may use everything)
    admin         a password is set (else the dashboard and /api stay closed)
    backups       the newest one and its age
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omniroute.errors import SecretKeyError
from omniroute.settings import Settings
from omniroute.store import MIGRATIONS
from omniroute.store import repositories as repo
from omniroute.store.backups import list_backups
from omniroute.store.crypto import Sealer, decode_key, key_file_path, read_key_file
from omniroute.store.db import DB_FILE_NAME
from omniroute.store.lock import holder
from omniroute.store.migrations import schema_version
from omniroute.store.store import BACKUP_DIR_NAME

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    status: str  # ok, warn, fail
    message: str

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "status": self.status, "message": self.message}


def examine(settings: Settings) -> list[Finding]:
    """Every check's finding, in order."""
    data_dir = Path(settings.data_dir)
    findings = [_data_dir(data_dir)]
    db_path = data_dir / DB_FILE_NAME
    conn = _open(db_path) if db_path.is_file() else None
    try:
        findings.append(_database(db_path, conn))
        readable = conn if conn is not None and findings[-1].status != FAIL else None
        if readable is not None:
            findings.append(_schema(readable))
        findings.append(_key(settings, data_dir, readable))
        if readable is not None:
            findings += list(_configuration(readable))
    finally:
        if conn is not None:
            conn.close()
    findings.append(_port(settings, data_dir))
    findings.append(_backups(data_dir / BACKUP_DIR_NAME))
    return findings


def failed(findings: list[Finding]) -> bool:
    return any(f.status == FAIL for f in findings)


# -- files ---------------------------------------------------------------------------


def _mode_problem(path: Path, what: str) -> Finding | None:
    info = path.stat()
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o007:
        return Finding(what, FAIL, f"{path} is open to every user (mode {mode:04o}); chmod o-rwx")
    if mode & 0o070:
        return Finding(what, WARN, f"{path} is open to its group (mode {mode:04o}); chmod g-rwx")
    return None


def _data_dir(data_dir: Path) -> Finding:
    if not data_dir.exists():
        return Finding(
            "data dir", FAIL, f"{data_dir} does not exist (start the gateway once, or --data-dir)"
        )
    if not data_dir.is_dir():
        return Finding("data dir", FAIL, f"{data_dir} is not a directory")
    problem = _mode_problem(data_dir, "data dir")
    if problem is not None:
        return problem
    if data_dir.stat().st_uid != os.getuid():
        return Finding("data dir", WARN, f"{data_dir} belongs to another user")
    return Finding("data dir", OK, f"{data_dir} (private)")


def _open(db_path: Path) -> sqlite3.Connection | None:
    try:
        return sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    except sqlite3.Error:
        return None


def _database(db_path: Path, conn: sqlite3.Connection | None) -> Finding:
    if not db_path.exists():
        return Finding("database", FAIL, f"no database at {db_path}")
    if conn is None:
        return Finding("database", FAIL, f"{db_path} cannot be opened")
    for path in (db_path, db_path.with_name(db_path.name + "-wal")):
        if path.exists() and (problem := _mode_problem(path, "database")) is not None:
            return problem
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return Finding("database", FAIL, f"{db_path} is not a readable database ({exc})")
    verdict = "; ".join(str(row[0]) for row in rows[:3])
    if verdict != "ok":
        return Finding("database", FAIL, f"integrity check failed: {verdict} (restore a backup)")
    return Finding("database", OK, f"{db_path}: integrity check ok")


def _schema(conn: sqlite3.Connection) -> Finding:
    version, known = schema_version(conn), len(MIGRATIONS)
    if version > known:
        return Finding(
            "schema", FAIL, f"version {version} is newer than this OmniRoute knows ({known})"
        )
    if version < known:
        return Finding("schema", WARN, f"version {version}; the next start upgrades it to {known}")
    return Finding("schema", OK, f"version {version}")


def _key(settings: Settings, data_dir: Path, conn: sqlite3.Connection | None) -> Finding:
    """The key is read whatever state the database is in; whether it opens
    the database is checked only when the database can be read."""
    path = key_file_path(data_dir)
    try:
        if settings.secret_key:
            key, source = (
                decode_key(settings.secret_key, "OMNIROUTE_SECRET_KEY"),
                "OMNIROUTE_SECRET_KEY",
            )
        else:
            found = read_key_file(path)  # refuses a file others can read
            if found is None:
                needed = conn is None or repo.has_encrypted_data(conn)
                return Finding("secret key", FAIL if needed else WARN, f"{path} is missing")
            key, source = found, str(path)
    except SecretKeyError as exc:
        return Finding("secret key", FAIL, exc.message)
    canary = None if conn is None else repo.read_canary(conn)
    if canary is not None:
        try:
            repo.check_canary(Sealer(key), canary)
        except SecretKeyError as exc:
            return Finding("secret key", FAIL, f"{source}: {exc.message}")
    if conn is None:
        return Finding("secret key", OK, f"{source} is readable (the database is not)")
    return Finding("secret key", OK, f"{source} opens the database")


# -- configuration -------------------------------------------------------------------


def _configuration(conn: sqlite3.Connection) -> Iterator[Finding]:
    for check in (_providers, _client_keys, _admin):
        try:
            yield check(conn)
        except sqlite3.Error as exc:
            yield Finding(check.__name__.strip("_").replace("_", " "), WARN, f"cannot read: {exc}")


def _providers(conn: sqlite3.Connection) -> Finding:
    rows = conn.execute(
        "SELECT p.name, count(a.id) FROM providers p "
        "LEFT JOIN accounts a ON a.provider_id = p.id AND a.enabled = 1 "
        "WHERE p.enabled = 1 GROUP BY p.id ORDER BY p.name"
    ).fetchall()
    if not rows:
        return Finding("providers", WARN, "none yet: add one with `omniroute provider add`")
    idle = [str(name) for name, accounts in rows if accounts == 0]
    if idle:
        return Finding(
            "providers", WARN, f"without an enabled account (serve nothing): {', '.join(idle)}"
        )
    return Finding("providers", OK, f"{len(rows)} enabled, each with an account")


def _client_keys(conn: sqlite3.Connection) -> Finding:
    rows = conn.execute("SELECT scope FROM client_keys WHERE revoked_at IS NULL").fetchall()
    if not rows:
        return Finding("client keys", WARN, "no active key: create one with `omniroute key create`")
    open_keys = sum(1 for (scope,) in rows if not _scope(scope))
    if open_keys:
        return Finding(
            "client keys",
            WARN,
            f"{open_keys} of {len(rows)} active key(s) have no scope (they may use every model)",
        )
    return Finding("client keys", OK, f"{len(rows)} active, each with a scope")


def _scope(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _admin(conn: sqlite3.Connection) -> Finding:
    if conn.execute("SELECT 1 FROM admin_password").fetchone() is None:
        return Finding(
            "admin",
            WARN,
            "no admin password: the dashboard and /api stay closed until "
            "`omniroute admin password`",
        )
    return Finding("admin", OK, "an admin password is set")


# -- the port and backups ------------------------------------------------------------


def _port(settings: Settings, data_dir: Path) -> Finding:
    where = f"{settings.host}:{settings.port}"
    serving = holder(data_dir)
    if serving is not None and serving.endswith(f":{settings.port}"):
        return Finding("port", OK, f"{where}: our gateway serves on it ({serving})")
    if settings.port == 0:
        return Finding("port", OK, "0: the system picks a free port")
    return _bind_check(settings.host, settings.port, where)


def _bind_check(host: str, port: int, where: str) -> Finding:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As the server binds: a port in TIME_WAIT is not in use.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return Finding("port", FAIL, f"{where} is taken by another program")
            return Finding("port", FAIL, f"{where} cannot be used: {exc.strerror or exc}")
    return Finding("port", OK, f"{where} is free")


def _backups(directory: Path, clock: Callable[[], float] = time.time) -> Finding:
    found = list_backups(directory)
    if not found:
        return Finding("backups", WARN, "none yet: `omniroute backup create` writes one")
    newest = found[0]
    hours = (clock() - newest.created_at) / 3600
    return Finding("backups", OK, f"{len(found)}; the newest, {newest.name}, is {hours:.0f} h old")

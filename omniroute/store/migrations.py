"""Numbered schema migrations, each applied once in its own transaction.

To change the schema, append a ``Migration`` to ``MIGRATIONS`` with the next
version number; never edit or reorder one that has shipped.  Applied versions
are recorded in ``schema_migrations``.  Before the first pending migration
runs on a database that already holds a schema, a copy of the file goes to
``<data_dir>/backups/omniroute-<UTC time>-v<from>.db``.
"""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from .backup_files import backup_stem, write_private_copy
from .db import BEGIN_WRITE, run_transaction


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    # Runs inside the migration's transaction.  sqlite3's executescript() would
    # COMMIT first, so statements are executed one by one.
    up: Callable[[sqlite3.Connection], None]


@dataclass(frozen=True, slots=True)
class MigrationResult:
    from_version: int
    to_version: int
    applied: tuple[int, ...]
    backup: Path | None


def sql(*statements: str) -> Callable[[sqlite3.Connection], None]:
    """A migration step that executes ``statements`` in order."""

    def run(conn: sqlite3.Connection) -> None:
        for statement in statements:
            conn.execute(statement)

    return run


_CONFIG_TABLES = sql(
    """CREATE TABLE providers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        format TEXT NOT NULL,
        base_url TEXT NOT NULL,
        models TEXT NOT NULL DEFAULT '[]',
        enabled INTEGER NOT NULL DEFAULT 1,
        extra TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    )""",
    # AUTOINCREMENT: ids are never reused, so log rows and encrypted values
    # bound to an id can never be mistaken for a later row's.
    """CREATE TABLE accounts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        provider_id INTEGER NOT NULL REFERENCES providers(id) ON DELETE CASCADE,
        label TEXT,
        api_key TEXT NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0,
        enabled INTEGER NOT NULL DEFAULT 1,
        extra TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL
    )""",
    "CREATE INDEX accounts_by_provider ON accounts(provider_id, priority, id)",
    """CREATE TABLE client_keys (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT,
        key_hash TEXT NOT NULL UNIQUE,
        prefix TEXT NOT NULL,
        created_at REAL NOT NULL,
        revoked_at REAL,
        last_used_at REAL
    )""",
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # value has no declared type: integers stay integers, text stays text.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value)",
    "INSERT INTO meta (key, value) VALUES ('config_revision', 0)",
)

_REQUEST_LOG = sql(
    """CREATE TABLE request_log (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        request_id TEXT NOT NULL,
        client_key_id INTEGER,
        model TEXT NOT NULL,
        resolved_model TEXT,
        provider TEXT,
        account_id INTEGER,
        client_format TEXT,
        upstream_format TEXT,
        stream INTEGER NOT NULL DEFAULT 0,
        status INTEGER NOT NULL,
        error_kind TEXT,
        latency_ms REAL NOT NULL,
        ttft_ms REAL,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cached_tokens INTEGER NOT NULL DEFAULT 0,
        reasoning_tokens INTEGER NOT NULL DEFAULT 0,
        usage_estimated INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX request_log_by_ts ON request_log(ts)",
)

# Responses API conversations kept for previous_response_id (JSON item lists).
_RESPONSE_MEMORY = sql(
    """CREATE TABLE response_memory (
        id TEXT PRIMARY KEY,
        expires_at REAL NOT NULL,
        items TEXT NOT NULL
    )""",
    "CREATE INDEX response_memory_by_expiry ON response_memory(expires_at)",
)

# Combos (named, ordered target lists) and user model aliases.
# ``targets`` is a JSON list of {ref, weight, enabled}; aliases are tried in
# ``position`` order, first match wins.
_ROUTING = sql(
    """CREATE TABLE combos (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        strategy TEXT NOT NULL DEFAULT 'fill-first',
        enabled INTEGER NOT NULL DEFAULT 1,
        system_prompt TEXT,
        targets TEXT NOT NULL DEFAULT '[]',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    )""",
    """CREATE TABLE aliases (
        pattern TEXT PRIMARY KEY,
        target TEXT NOT NULL,
        position INTEGER NOT NULL
    )""",
    "CREATE INDEX aliases_by_position ON aliases(position)",
)

# What a logged request asked of its upstream: chat (generation) or
# count_tokens today, the other endpoints' operations later.
_REQUEST_OPERATION = sql(
    "ALTER TABLE request_log ADD COLUMN operation TEXT NOT NULL DEFAULT 'chat'",
)

# The management side: the admin password (one row), login sessions (only a
# hash of each session token is kept), the audit log, and what each client
# key may do (a JSON object: models, providers, expiry, limits).
_ADMIN = sql(
    """CREATE TABLE admin_password (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        hash TEXT NOT NULL,
        set_at REAL NOT NULL
    )""",
    """CREATE TABLE admin_sessions (
        token_hash TEXT PRIMARY KEY,
        csrf TEXT NOT NULL,
        created_at REAL NOT NULL,
        seen_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        address TEXT
    )""",
    """CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        detail TEXT,
        address TEXT
    )""",
    "CREATE INDEX audit_log_by_ts ON audit_log(ts)",
    "ALTER TABLE client_keys ADD COLUMN scope TEXT NOT NULL DEFAULT '{}'",
)

# What each client key has used: request count and tokens, added up as the
# request log is written (``last_used_at`` already was).
_KEY_USAGE = sql(
    "ALTER TABLE client_keys ADD COLUMN requests INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE client_keys ADD COLUMN input_tokens INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE client_keys ADD COLUMN output_tokens INTEGER NOT NULL DEFAULT 0",
)

# What each request cost (USD at the prices in force when it was logged; NULL
# when no price was known) and the combo step that served it, so spending per
# combo step can be added up again after a restart.
# The request log summed per UTC hour and what a row is grouped by (filled as
# rows are written, and here from the rows already there), so usage over
# weeks reads thousands of rows rather than millions.
_REQUEST_COST = sql(
    "ALTER TABLE request_log ADD COLUMN cost REAL",
    "ALTER TABLE request_log ADD COLUMN combo TEXT",
    "ALTER TABLE request_log ADD COLUMN combo_step INTEGER",
    """CREATE TABLE usage_hourly (
        hour TEXT NOT NULL,
        provider TEXT,
        model TEXT NOT NULL,
        client_key_id INTEGER,
        account_id INTEGER,
        combo TEXT,
        combo_step INTEGER,
        requests INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cached_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        latency_ms REAL NOT NULL,
        cost REAL
    )""",
    "CREATE INDEX usage_hourly_by_hour ON usage_hourly(hour)",
    """INSERT INTO usage_hourly SELECT strftime('%Y-%m-%dT%H', ts, 'unixepoch'), provider,
        coalesce(provider || '/' || resolved_model, model), client_key_id, account_id, NULL,
        NULL, count(*), sum(status >= 400), sum(input_tokens), sum(output_tokens),
        sum(cached_tokens), sum(reasoning_tokens), sum(latency_ms), NULL
        FROM request_log GROUP BY 1, 2, 3, 4, 5""",
)

# Signed-in subscription accounts: one grant per account, tokens sealed and
# bound to the row; one row per (sign-in, issued client, subject) so that
# signing in again updates the account instead of adding another.
_SIGN_INS = sql(
    """CREATE TABLE oauth_grants (
        account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
        provider TEXT NOT NULL,
        subject TEXT NOT NULL,
        client_id TEXT NOT NULL,
        email TEXT,
        access_token TEXT NOT NULL,
        refresh_token TEXT,
        id_token TEXT,
        scopes TEXT NOT NULL DEFAULT '',
        expires_at REAL NOT NULL,
        status TEXT NOT NULL DEFAULT 'ok',
        failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        updated_at REAL NOT NULL,
        UNIQUE (provider, client_id, subject)
    )""",
)

# The admin key MCP clients may present instead of a login session: one at a
# time, only its hash kept (its first characters too, to tell keys apart).
_MCP_KEY = sql(
    """CREATE TABLE mcp_key (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        hash TEXT NOT NULL,
        prefix TEXT NOT NULL,
        created_at REAL NOT NULL
    )""",
)

# Evals: user suites (their cases as JSON; the built-in suite lives in the
# code), each run of a suite against some models, and one row per model and
# case with its answer (cut short), verdict, latency and cost.
_EVALS = sql(
    """CREATE TABLE eval_suites (
        name TEXT PRIMARY KEY,
        description TEXT NOT NULL DEFAULT '',
        cases TEXT NOT NULL,
        updated_at REAL NOT NULL
    )""",
    """CREATE TABLE eval_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        suite TEXT NOT NULL,
        models TEXT NOT NULL,
        cases INTEGER NOT NULL,
        status TEXT NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL
    )""",
    """CREATE TABLE eval_results (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        case_id TEXT NOT NULL,
        passed INTEGER NOT NULL,
        output TEXT,
        latency_ms REAL,
        cost REAL,
        error TEXT
    )""",
    "CREATE INDEX eval_results_by_run ON eval_results(run_id)",
)

# Answers kept by the response cache (gateway/response_cache.py): the whole
# answer as JSON under the hash of the request that produced it.
_RESPONSE_CACHE = sql(
    """CREATE TABLE response_cache (
        key TEXT PRIMARY KEY,
        client_key_id INTEGER,
        model TEXT NOT NULL,
        answer TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        cost REAL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    )""",
    "CREATE INDEX response_cache_by_expiry ON response_cache(expires_at)",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "config tables", _CONFIG_TABLES),
    Migration(2, "request log", _REQUEST_LOG),
    Migration(3, "response memory", _RESPONSE_MEMORY),
    Migration(4, "routing", _ROUTING),
    Migration(5, "request operation", _REQUEST_OPERATION),
    Migration(6, "admin", _ADMIN),
    Migration(7, "client key usage", _KEY_USAGE),
    Migration(8, "request cost", _REQUEST_COST),
    Migration(9, "sign-ins", _SIGN_INS),
    Migration(10, "mcp key", _MCP_KEY),
    Migration(11, "evals", _EVALS),
    Migration(12, "response cache", _RESPONSE_CACHE),
)

_LEDGER = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at REAL NOT NULL
)"""


def check_migrations(migrations: Sequence[Migration]) -> None:
    """Versions must run 1, 2, 3, ... with no gap or repeat."""
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise ConfigError(
                f"migration list is broken: {migration.name!r} has version "
                f"{migration.version}, expected {expected}"
            )


def applied_versions(conn: sqlite3.Connection) -> dict[int, str]:
    """Versions recorded in the database (empty for a new database)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if not exists:
        return {}
    rows = conn.execute("SELECT version, name FROM schema_migrations").fetchall()
    return {int(version): str(name) for version, name in rows}


def schema_version(conn: sqlite3.Connection) -> int:
    return max(applied_versions(conn), default=0)


def migrate(
    conn: sqlite3.Connection,
    backup_dir: Path,
    migrations: Sequence[Migration] = MIGRATIONS,
    *,
    db_label: str = "the database",
) -> MigrationResult:
    """Bring the schema up to the last of ``migrations``.

    ``conn`` must be in autocommit mode (``isolation_level=None``).  Safe to run
    from several processes at once: each migration re-checks, under the write
    lock, that nobody applied it meanwhile.
    """
    check_migrations(migrations)
    known = len(migrations)
    done = applied_versions(conn)
    current = max(done, default=0)
    if current > known:
        raise ConfigError(
            f"{db_label} has schema version {current}, newer than this version of "
            f"OmniRoute understands (up to {known}); run the newer OmniRoute that "
            f"created it, or restore a backup from {backup_dir}"
        )
    pending = [m for m in migrations if m.version not in done]
    if not pending:
        return MigrationResult(current, current, (), None)
    backup = backup_database(conn, backup_dir, current) if current > 0 else None
    run_transaction(conn, lambda c: c.execute(_LEDGER), BEGIN_WRITE)
    applied: list[int] = []
    for migration in pending:
        if run_transaction(conn, functools.partial(_apply, migration=migration), BEGIN_WRITE):
            applied.append(migration.version)
    return MigrationResult(current, schema_version(conn), tuple(applied), backup)


def _apply(conn: sqlite3.Connection, migration: Migration) -> bool:
    already = conn.execute(
        "SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)
    ).fetchone()
    if already:  # another process got there first
        return False
    migration.up(conn)
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
        (migration.version, migration.name, time.time()),
    )
    return True


def backup_database(conn: sqlite3.Connection, backup_dir: Path, from_version: int) -> Path:
    """Copy the database to ``backup_dir`` and return the copy's path.

    VACUUM INTO writes a consistent snapshot but does not fsync it
    (https://sqlite.org/lang_vacuum.html#vacuuminto); ``write_private_copy``
    does, and publishes the copy only once it is whole.
    """
    return write_private_copy(
        backup_dir,
        backup_stem(f"v{from_version}"),
        lambda partial: conn.execute("VACUUM INTO ?", (str(partial),)).close(),
    )

"""The ``Store``: the asyncio face of the database.

Every method hands its work to a worker thread (db.py) and awaits the result,
so the event loop never waits on the disk.  Writes go through one writer
thread, each in its own ``BEGIN IMMEDIATE`` transaction, and return only after
COMMIT: a change that has been acknowledged survives ``kill -9``.  Reads run
in a second thread with its own connection.

The same class serves the long-running server and short CLI commands
(``asyncio.run``); several processes may use one database at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from ..errors import BadRequest, ConfigError, Conflict, NotFound
from ..settings import Settings
from . import backups, options, transfer
from . import repositories as repo
from . import routing_tables as routing
from .crypto import Sealer, load_key
from .db import (
    BEGIN_READ,
    BEGIN_WRITE,
    DB_FILE_NAME,
    Worker,
    connect,
    ensure_private_dir,
    prepare_db_file,
    run_transaction,
)
from .migrations import MIGRATIONS, Migration, MigrationResult, migrate
from .records import (
    AccountRecord,
    AliasRecord,
    ClientKeyRecord,
    ComboRecord,
    ComboTargetRecord,
    ConfigSnapshot,
    ProviderRecord,
    RequestLogRow,
)
from .request_log import (
    LoggedRequest,
    RequestFilter,
    RequestLogBuffer,
    find_request,
    find_requests,
    recent_requests,
)
from .routing_tables import ComboCheck
from .sealed_options import seal_plain_values
from .usage_hourly import SpentRow, spending, usage

T = TypeVar("T")

BACKUP_DIR_NAME = "backups"
_BREAKER_STATE_KEY = "breaker_state"
# A worker thread normally exits the moment its stop job is answered; this
# only bounds the wait if something is badly wrong.
_JOIN_TIMEOUT = 5.0


class Store:
    def __init__(
        self,
        settings: Settings,
        *,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        self._settings = settings
        self._data_dir = Path(settings.data_dir)
        self._migrations = tuple(migrations)
        self._logs = RequestLogBuffer(
            settings.log_queue_max, retention=settings.log_retention_days * 86_400
        )
        self._writer: Worker | None = None
        self._reader: Worker | None = None
        self._sealer: Sealer | None = None
        self._migration_result: MigrationResult | None = None
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._sealer else "new"
        return f"Store({str(self.db_path)!r}, {state})"

    @property
    def db_path(self) -> Path:
        return self._data_dir / DB_FILE_NAME

    @property
    def backup_dir(self) -> Path:
        return self._data_dir / BACKUP_DIR_NAME

    @property
    def migration_result(self) -> MigrationResult | None:
        """What ``open()`` did to the schema (None before ``open()``)."""
        return self._migration_result

    # -- lifecycle -------------------------------------------------------------

    async def open(self) -> None:
        """Create the data dir, load the key, migrate (backing up first), start
        the writer and reader threads.  Raises ConfigError/SecretKeyError."""
        if self._closed:
            raise ConfigError("this store was closed; create a new Store to open it again")
        if self._writer is not None:
            return
        if not self._migrations:
            raise ConfigError("no migrations given")
        writer = Worker(
            "omniroute-store-writer",
            self._open_writer_connection,
            tick=self._logs.flush,
            tick_interval=self._settings.log_flush_interval,
        )
        reader = Worker("omniroute-store-reader", lambda: connect(self.db_path, read_only=True))
        writer.start()
        try:
            self._sealer = await writer.submit(self._initialise, None)
            reader.start()
            await reader.submit(repo.read_revision, BEGIN_READ)
        except BaseException:
            await _stop(reader)
            await _stop(writer)
            self._sealer = None
            raise
        self._writer, self._reader = writer, reader

    async def close(self) -> None:
        """Write queued log rows, stop both threads.  Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._logs.close()
        reader, writer = self._reader, self._writer
        self._reader = self._writer = None
        await _stop(reader)
        await _stop(writer)

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _open_writer_connection(self) -> sqlite3.Connection:
        ensure_private_dir(self._data_dir)
        prepare_db_file(self.db_path)
        return connect(self.db_path)

    def _initialise(self, conn: sqlite3.Connection) -> Sealer:
        """In the writer thread: migrate, then find and check the key."""
        self._migration_result = migrate(
            conn, self.backup_dir, self._migrations, db_label=str(self.db_path)
        )
        canary = repo.read_canary(conn)
        key = load_key(
            self._data_dir,
            self._settings.secret_key,
            has_encrypted_data=repo.has_encrypted_data(conn),
        )
        sealer = Sealer(key)
        if canary is None:
            canary = run_transaction(conn, lambda c: repo.store_canary(c, sealer), BEGIN_WRITE)
        repo.check_canary(sealer, canary)
        # Older versions kept proxy URLs and custom header values in plain text.
        run_transaction(conn, lambda c: seal_plain_values(c, sealer), BEGIN_WRITE)
        return sealer

    # -- generic access --------------------------------------------------------

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in the writer thread in one ``BEGIN IMMEDIATE`` transaction;
        return once it has committed.  ``fn`` may be re-run if another process
        holds the database too long, so it must only touch the database.  A
        configuration change should call ``repositories.bump_revision``."""
        if self._writer is None:
            raise ConfigError("the store is not open")
        return await self._writer.submit(fn, BEGIN_WRITE)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in the reader thread inside one read transaction."""
        if self._reader is None:
            raise ConfigError("the store is not open")
        return await self._reader.submit(fn, BEGIN_READ)

    async def write_sealed(self, fn: Callable[[sqlite3.Connection, Sealer], T]) -> T:
        """``write`` for work that seals or unseals values."""
        sealer = self._require_sealer()
        return await self.write(lambda conn: fn(conn, sealer))

    async def read_sealed(self, fn: Callable[[sqlite3.Connection, Sealer], T]) -> T:
        """``read`` for work that unseals values."""
        sealer = self._require_sealer()
        return await self.read(lambda conn: fn(conn, sealer))

    def seal(self, plaintext: str, aad: str) -> str:
        """Encrypt ``plaintext`` for storage, bound to ``aad`` ("table|row id|column")."""
        return self._require_sealer().seal(plaintext, aad)

    def unseal(self, stored: str, aad: str) -> str:
        """Decrypt a sealed value; SecretKeyError if the key or ``aad`` is wrong."""
        return self._require_sealer().unseal(stored, aad)

    def _require_sealer(self) -> Sealer:
        if self._sealer is None:
            raise ConfigError("the store is not open")
        return self._sealer

    # -- configuration ---------------------------------------------------------

    async def revision(self) -> int:
        """The configuration revision: bumped by every committed config change."""
        return await self.read(repo.read_revision)

    async def snapshot(self) -> ConfigSnapshot:
        sealer = self._require_sealer()
        return await self.read(lambda conn: repo.read_snapshot(conn, sealer))

    async def upsert_provider(
        self, name: str, format: str, base_url: str, models: Sequence[str] | None = None
    ) -> ProviderRecord:
        """Insert a provider, or update format/base_url (and models when given)."""
        if models is not None and not isinstance(models, str):  # str: rejected by the check
            models = tuple(models)  # a copy: the caller may change its list meanwhile
        sealer = self._require_sealer()
        return await self.write(
            lambda conn: repo.upsert_provider(conn, sealer, name, format, base_url, models)
        )

    async def add_account(
        self,
        provider_id: int,
        api_key: str,
        *,
        priority: int | None = None,
        enabled: bool = True,
        label: str | None = None,
    ) -> AccountRecord:
        """Add an account (priority None: after the provider's last account)."""
        sealer = self._require_sealer()
        return await self.write(
            lambda conn: repo.add_account(
                conn, sealer, provider_id, api_key, priority=priority, enabled=enabled, label=label
            )
        )

    async def add_provider_account(
        self,
        name: str,
        api_key: str,
        *,
        provider: tuple[str, str, Sequence[str] | None] | None = None,
        provider_extra: Mapping[str, Any] | None = None,
        priority: int | None = None,
        account_extra: Mapping[str, Any] | None = None,
        new_provider: bool = False,
    ) -> tuple[ProviderRecord, AccountRecord]:
        """One transaction: create or change provider ``name`` (``provider`` is
        (format, base_url, models); None leaves an existing one as it is),
        merge ``provider_extra`` into its options, and add an account with
        its own options. A crash leaves all of it or none of it.
        ``new_provider``: refused (Conflict) when the provider exists."""
        sealer = self._require_sealer()
        models = provider[2] if provider is not None else None
        if models is not None and not isinstance(models, str):
            models = tuple(models)
        p_extra = None if provider_extra is None else dict(provider_extra)
        a_extra = None if account_extra is None else dict(account_extra)

        def work(conn: sqlite3.Connection) -> tuple[ProviderRecord, AccountRecord]:
            if new_provider and repo.read_provider(conn, sealer, name) is not None:
                raise Conflict(f"provider {name!r} exists already")
            if provider is not None:
                repo.upsert_provider(conn, sealer, name, provider[0], provider[1], models)
            if p_extra:
                options.update_provider(
                    conn, sealer, name, base_url=None, models=None, extra=p_extra
                )
            record = repo.read_provider(conn, sealer, name)
            if record is None:
                raise NotFound(f"unknown provider {name!r}")
            account = repo.add_account(
                conn, sealer, record.id, api_key, priority=priority, enabled=True, label=None
            )
            if a_extra:
                account = options.update_account(
                    conn, sealer, account.id, priority=None, enabled=None, extra=a_extra
                )
            return record, account

        return await self.write(work)

    async def set_provider_enabled(self, name: str, enabled: bool) -> None:
        await self.write(lambda conn: repo.set_provider_enabled(conn, name, enabled))

    async def set_account_enabled(self, account_id: int, enabled: bool) -> None:
        await self.write(lambda conn: repo.set_account_enabled(conn, account_id, enabled))

    async def delete_provider(self, name: str) -> bool:
        """Delete a provider and its accounts; False if there was none."""
        return await self.write(lambda conn: repo.delete_provider(conn, name))

    async def delete_account(self, account_id: int) -> bool:
        """Delete one account; False if there was none."""
        return await self.write(lambda conn: repo.delete_account(conn, account_id))

    async def create_client_key(
        self, name: str | None = None, scope: Mapping[str, Any] | None = None
    ) -> tuple[ClientKeyRecord, str]:
        """A new client key (``scope``: see ``key_scope``): its record and the
        plaintext, which is not stored."""
        given = None if scope is None else dict(scope)
        return await self.write(lambda conn: repo.create_client_key(conn, name, given))

    async def update_client_key(
        self, key_id: int, changes: Mapping[str, Any]
    ) -> tuple[ClientKeyRecord, ClientKeyRecord]:
        """Change a key's name and scope fields (None removes a limit); the
        key before and after. NotFound for an unknown key, BadRequest for a
        revoked one or a bad value."""
        given = dict(changes)
        return await self.write(lambda conn: repo.update_client_key(conn, key_id, given))

    async def revoke_client_key(self, key_id: int) -> bool:
        """Revoke a key; False if it does not exist or was already revoked."""
        return await self.write(lambda conn: repo.revoke_client_key(conn, key_id))

    async def set_setting(self, key: str, value: Any) -> None:
        """Store a setting (plain JSON; None clears it).  What a value must be
        is checked above the store (``omniroute.config``)."""
        sealer = self._require_sealer()
        await self.write(lambda conn: repo.set_setting(conn, sealer, key, value))

    async def merge_setting(
        self, key: str, patch: Mapping[str, Any], check: Callable[[Any], Any]
    ) -> Any:
        """Merge ``patch`` into the object setting ``key`` (None removes a field;
        nothing left removes the setting); ``check`` judges the merged value.
        Returns the new value."""
        patch = dict(patch)
        return await self.write(lambda conn: options.merge_setting(conn, key, patch, check))

    async def delete_setting(self, key: str) -> bool:
        return await self.write(lambda conn: options.delete_setting(conn, key))

    async def change_settings(
        self,
        values: Mapping[str, Any],
        fields: Mapping[str, Mapping[str, Any]],
        check: Callable[[str, Any], Any],
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Several settings at once, all or nothing (see
        ``options.change_settings``); returns their (before, after)."""
        sealer = self._require_sealer()
        whole = dict(values)
        merged = {key: dict(patch) for key, patch in fields.items()}
        return await self.write(
            lambda conn: options.change_settings(conn, sealer, whole, merged, check)
        )

    async def update_provider(
        self,
        name: str,
        *,
        base_url: str | None = None,
        models: Sequence[str] | None = None,
        extra: Mapping[str, Any] | None = None,
        enabled: bool | None = None,
    ) -> ProviderRecord:
        """Change some of a provider's fields.  ``extra`` is merged into the
        stored one; a None value there removes that key."""
        if isinstance(models, str):
            raise BadRequest("models must be a list of model ids, not one string")
        model_list = None if models is None else tuple(models)  # a copy, as above
        patch = None if extra is None else dict(extra)
        sealer = self._require_sealer()
        return await self.write(
            lambda conn: options.update_provider(
                conn,
                sealer,
                name,
                base_url=base_url,
                models=model_list,
                extra=patch,
                enabled=enabled,
            )
        )

    async def update_account(
        self,
        account_id: int,
        *,
        priority: int | None = None,
        enabled: bool | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> AccountRecord:
        """Change some of an account's fields (``extra`` merged as above)."""
        sealer = self._require_sealer()
        patch = None if extra is None else dict(extra)
        return await self.write(
            lambda conn: options.update_account(
                conn, sealer, account_id, priority=priority, enabled=enabled, extra=patch
            )
        )

    async def list_client_keys(self) -> tuple[ClientKeyRecord, ...]:
        return await self.read(repo.read_client_keys)

    # -- combos and aliases ----------------------------------------------------

    async def upsert_combo(
        self,
        name: str,
        targets: Sequence[ComboTargetRecord],
        *,
        strategy: str = "fill-first",
        system_prompt: str | None = None,
        enabled: bool = True,
        check: ComboCheck,
    ) -> ComboRecord:
        """Create or replace a combo.  ``check`` sees the configuration read in
        the same transaction and the combo as it would be written, and
        refuses (BadRequest) what must not be saved."""
        sealer = self._require_sealer()
        targets = tuple(targets)
        return await self.write(
            lambda conn: routing.upsert_combo(
                conn,
                name,
                targets,
                strategy=strategy,
                system_prompt=system_prompt,
                enabled=enabled,
                snapshot=lambda c: repo.read_snapshot(c, sealer),
                check=check,
            )
        )

    async def delete_combo(self, name: str) -> bool:
        """Delete a combo; False if there was none.  Refused while another
        combo or an alias routes to it."""
        return await self.write(lambda conn: routing.delete_combo(conn, name))

    async def set_combo_enabled(self, name: str, enabled: bool) -> None:
        await self.write(lambda conn: routing.set_combo_enabled(conn, name, enabled))

    async def add_alias(self, pattern: str, target: str, *, replace: bool = True) -> AliasRecord:
        """Add an alias after the others; an existing pattern keeps its place
        (and is refused with Conflict unless ``replace``)."""
        return await self.write(
            lambda conn: routing.add_alias(conn, pattern, target, replace=replace)
        )

    async def remove_alias(self, pattern: str) -> bool:
        return await self.write(lambda conn: routing.remove_alias(conn, pattern))

    # -- export and import -----------------------------------------------------

    async def read_config(self) -> transfer.ConfigData:
        """The whole configuration as plain values, secrets opened."""
        sealer = self._require_sealer()
        return await self.read(lambda conn: transfer.read_config(conn, sealer))

    async def replace_config(
        self,
        config: transfer.ConfigData,
        combo_check: ComboCheck,
        after: Callable[[sqlite3.Connection], object] | None = None,
    ) -> int:
        """Make the configuration exactly ``config`` in one transaction
        (``after`` runs last inside it: an audit row); the new revision."""
        sealer = self._require_sealer()

        def work(conn: sqlite3.Connection) -> int:
            transfer.replace_config(conn, sealer, config, combo_check)
            if after is not None:
                after(conn)
            return repo.read_revision(conn)

        return await self.write(work)

    # -- backups ---------------------------------------------------------------

    async def create_backup(self, kind: str = backups.MANUAL) -> backups.BackupInfo:
        """A copy of the database in ``backup_dir``: it holds every write
        acknowledged before this call (queued request-log rows go first)."""
        self._require_sealer()
        await self.flush_logs()
        return await asyncio.to_thread(backups.copy_database, self.db_path, self.backup_dir, kind)

    async def list_backups(self) -> list[backups.BackupInfo]:
        """Every backup, newest first."""
        return await asyncio.to_thread(backups.list_backups, self.backup_dir)

    async def prune_backups(self, kind: str, keep: int) -> list[str]:
        """Delete the oldest backups of ``kind`` beyond ``keep``; their names."""
        return await asyncio.to_thread(backups.prune, self.backup_dir, kind, keep)

    async def restore_backup(self, name: str) -> backups.RestoreResult:
        """Replace the database's contents with backup ``name`` in one
        transaction, after a pre-restore backup of what it replaces
        (``backups`` explains what is kept and why)."""
        sealer = self._require_sealer()
        if self._writer is None:
            raise ConfigError("the store is not open")

        def job(conn: sqlite3.Connection) -> backups.RestoreResult:
            source = backups.backup_path(self.backup_dir, name)
            self._logs.flush(conn)  # queued log rows belong to the state replaced
            return backups.restore(
                conn,
                sealer,
                db_path=self.db_path,
                source=source,
                directory=self.backup_dir,
                migrations=self._migrations,
            )

        # One job of the writer: writes queued before it are done, the ones
        # queued after it run on the restored state.
        return await self._writer.submit(job, None)

    # -- runtime state ---------------------------------------------------------

    async def load_breaker_state(self) -> dict[str, Any]:
        """Circuit-breaker state saved by ``save_breaker_state`` ({} if none)."""
        saved = await self.read(lambda conn: repo.read_meta_json(conn, _BREAKER_STATE_KEY))
        return saved if isinstance(saved, dict) else {}

    async def save_breaker_state(self, state: Mapping[str, Any]) -> None:
        """Persist circuit-breaker state (JSON).  Runtime state, not configuration:
        the config revision does not change."""
        try:
            plain_copy = json.loads(json.dumps(dict(state), allow_nan=False))
        except (TypeError, ValueError):
            raise BadRequest("breaker state must be JSON-serialisable") from None
        await self.write(lambda conn: repo.write_meta_json(conn, _BREAKER_STATE_KEY, plain_copy))

    # -- request log -----------------------------------------------------------

    def log_request(self, row: RequestLogRow) -> None:
        """Queue a row for the next batch.  Never blocks, never raises; rows
        beyond ``log_queue_max`` (or after close) are dropped and counted."""
        self._logs.add(row)

    async def flush_logs(self) -> None:
        """Write queued log rows now."""
        if self._writer is None:
            return
        await self._writer.submit(self._logs.flush, None)

    async def recent_requests(self, limit: int = 100) -> list[RequestLogRow]:
        """The newest ``limit`` logged requests, newest first."""
        return await self.read(lambda conn: recent_requests(conn, limit))

    async def find_requests(self, wanted: RequestFilter) -> list[LoggedRequest]:
        """Logged requests matching ``wanted``, newest first."""
        return await self.read(lambda conn: find_requests(conn, wanted))

    async def request_pages(
        self, wanted: RequestFilter, max_pages: int
    ) -> AsyncIterator[list[LoggedRequest]]:
        """``wanted``'s rows a page (``wanted.limit`` rows) at a time, newest
        first, for at most ``max_pages`` pages: for reading a long stretch of
        the log back without holding it all or one long read."""
        before = wanted.before
        for _ in range(max_pages):
            found = await self.find_requests(dataclasses.replace(wanted, before=before))
            yield found
            if len(found) < wanted.limit:
                return
            before = found[-1].id

    async def find_request(self, row_id: int) -> LoggedRequest | None:
        return await self.read(lambda conn: find_request(conn, row_id))

    async def usage(
        self, group: str, series: str | None, since: float, until: float
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Request log totals grouped by ``group`` (and ``series``) in [since, until)."""
        return await self.read(lambda conn: usage(conn, group, series, since, until))

    async def spending(self, since: float, until: float) -> list[SpentRow]:
        """Logged cost per UTC day, provider, client key and combo step."""
        return await self.read(lambda conn: spending(conn, since, until))

    @property
    def dropped_log_rows(self) -> int:
        return self._logs.dropped

    @property
    def queued_log_rows(self) -> int:
        """Rows waiting in memory for the writer."""
        return len(self._logs)

    def limit_log_rows(self, max_rows: int | None) -> None:
        """Keep at most the newest ``max_rows`` rows (None: no row limit)."""
        self._logs.max_rows = max_rows


async def _stop(worker: Worker | None) -> None:
    if worker is None:
        return
    try:
        await worker.stop()
    finally:
        worker.join(_JOIN_TIMEOUT)

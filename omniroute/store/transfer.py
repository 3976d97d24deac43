"""The whole configuration as plain values, read in one transaction, and
written back in one: the store's half of export and import.

``read_config`` gives the configuration with its secrets opened;
``replace_config`` makes the stored configuration exactly a given one. What
a file may contain and how it is checked is decided above the store
(``omniroute.config.transfer``); here the rows are only kept whole.

Replacing keeps the identity of what stays: a provider with the same name
keeps its row, an account of it with the same API key keeps its id, a
client key with the same hash keeps its id, so request-log rows and usage
stay attached to them. Everything not in the new configuration is deleted;
combos, aliases and settings are written afresh.
"""

from __future__ import annotations

import hmac
import json
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest
from . import repositories as repo
from . import routing_tables as routing
from .crypto import Sealer
from .records import ComboTargetRecord
from .sealed_options import seal_extra


@dataclass(frozen=True, slots=True)
class AccountData:
    api_key: str = field(repr=False)
    label: str | None = None
    priority: int = 0
    enabled: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class ProviderData:
    name: str
    format: str
    base_url: str
    models: tuple[str, ...] = ()
    enabled: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)
    accounts: tuple[AccountData, ...] = ()


@dataclass(frozen=True, slots=True)
class ComboData:
    name: str
    targets: tuple[ComboTargetRecord, ...]
    strategy: str = "fill-first"
    enabled: bool = True
    system_prompt: str | None = None


@dataclass(frozen=True, slots=True)
class ClientKeyData:
    key_hash: str
    prefix: str
    name: str | None = None
    created_at: float = 0.0
    revoked_at: float | None = None
    last_used_at: float | None = None
    scope: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConfigData:
    providers: tuple[ProviderData, ...] = ()
    combos: tuple[ComboData, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()  # (pattern, target) in the order tried
    client_keys: tuple[ClientKeyData, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict, repr=False)


def read_config(conn: sqlite3.Connection, sealer: Sealer) -> ConfigData:
    """Everything configured, secrets opened (call inside one read transaction)."""
    snap = repo.read_snapshot(conn, sealer)
    providers = tuple(
        ProviderData(
            name=p.name,
            format=p.format,
            base_url=p.base_url,
            models=p.models,
            enabled=p.enabled,
            extra=dict(p.extra),
            accounts=tuple(
                AccountData(a.api_key, a.label, a.priority, a.enabled, dict(a.extra))
                for a in snap.accounts_for(p.id)
            ),
        )
        for p in snap.providers
    )
    combos = tuple(
        ComboData(c.name, c.targets, c.strategy, c.enabled, c.system_prompt) for c in snap.combos
    )
    return ConfigData(
        providers=providers,
        combos=combos,
        aliases=tuple((a.pattern, a.target) for a in snap.aliases),
        client_keys=_read_keys(conn),
        settings=dict(snap.settings),
    )


def _read_keys(conn: sqlite3.Connection) -> tuple[ClientKeyData, ...]:
    rows = conn.execute(
        "SELECT key_hash, prefix, name, created_at, revoked_at, last_used_at, scope "
        "FROM client_keys ORDER BY id"
    )
    keys = []
    for key_hash, prefix, name, created, revoked, used, scope in rows:
        parsed = json.loads(scope) if scope else {}
        keys.append(
            ClientKeyData(
                str(key_hash),
                str(prefix),
                None if name is None else str(name),
                float(created),
                None if revoked is None else float(revoked),
                None if used is None else float(used),
                parsed if isinstance(parsed, dict) else {},
            )
        )
    return tuple(keys)


def replace_config(
    conn: sqlite3.Connection,
    sealer: Sealer,
    config: ConfigData,
    combo_check: routing.ComboCheck,
) -> None:
    """Make the stored configuration exactly ``config`` (inside the caller's
    write transaction: a failure anywhere leaves all of it as it was)."""
    _replace_providers(conn, sealer, config.providers)
    _replace_keys(conn, config.client_keys)
    conn.execute("DELETE FROM aliases")
    conn.execute("DELETE FROM combos")
    conn.execute("DELETE FROM settings")
    for key, value in config.settings.items():
        repo.set_setting(conn, sealer, key, value)
    # Combos naming other combos are written after them, so each one's check
    # sees the combos it routes to.
    for combo in _dependencies_first(config.combos):
        routing.upsert_combo(
            conn,
            combo.name,
            combo.targets,
            strategy=combo.strategy,
            system_prompt=combo.system_prompt,
            enabled=combo.enabled,
            snapshot=lambda c: repo.read_snapshot(c, sealer),
            check=combo_check,
        )
    for pattern, target in config.aliases:
        routing.add_alias(conn, pattern, target)
    repo.bump_revision(conn)


def _replace_providers(
    conn: sqlite3.Connection, sealer: Sealer, providers: tuple[ProviderData, ...]
) -> None:
    wanted = {p.name for p in providers}
    for (name,) in conn.execute("SELECT name FROM providers").fetchall():
        if name not in wanted:
            repo.delete_provider(conn, str(name))  # its accounts go with it
    for provider in providers:
        record = repo.upsert_provider(
            conn, sealer, provider.name, provider.format, provider.base_url, provider.models
        )
        conn.execute(
            "UPDATE providers SET enabled = ?, extra = ?, updated_at = ? WHERE id = ?",
            (
                int(provider.enabled),
                _json(seal_extra(sealer, "providers", record.id, provider.extra)),
                time.time(),
                record.id,
            ),
        )
        _replace_accounts(conn, sealer, record.id, provider.accounts)


def _replace_accounts(
    conn: sqlite3.Connection, sealer: Sealer, provider_id: int, accounts: tuple[AccountData, ...]
) -> None:
    current = {
        a.id: a.api_key
        for a in repo._accounts(conn, sealer, "WHERE provider_id = ?", (provider_id,))
    }
    kept: list[tuple[int, AccountData]] = []
    new: list[AccountData] = []
    for account in accounts:
        same = next(
            (i for i, key in current.items() if hmac.compare_digest(key, account.api_key)), None
        )
        if same is None:
            new.append(account)
        else:
            kept.append((same, account))
            del current[same]
    for gone in current:
        conn.execute("DELETE FROM accounts WHERE id = ?", (gone,))
    for account_id, account in kept:
        _write_account(conn, sealer, account_id, account)
    for account in new:
        record = repo.add_account(
            conn,
            sealer,
            provider_id,
            account.api_key,
            priority=account.priority,
            enabled=account.enabled,
            label=account.label,
        )
        _write_account(conn, sealer, record.id, account)


def _write_account(
    conn: sqlite3.Connection, sealer: Sealer, account_id: int, account: AccountData
) -> None:
    conn.execute(
        "UPDATE accounts SET label = ?, priority = ?, enabled = ?, extra = ? WHERE id = ?",
        (
            account.label,
            account.priority,
            int(account.enabled),
            _json(seal_extra(sealer, "accounts", account_id, account.extra)),
            account_id,
        ),
    )


def _replace_keys(conn: sqlite3.Connection, keys: tuple[ClientKeyData, ...]) -> None:
    wanted = {k.key_hash for k in keys}
    for (key_hash,) in conn.execute("SELECT key_hash FROM client_keys").fetchall():
        if key_hash not in wanted:
            conn.execute("DELETE FROM client_keys WHERE key_hash = ?", (key_hash,))
    for key in keys:
        values = (
            key.name,
            key.prefix,
            key.created_at,
            key.revoked_at,
            key.last_used_at,
            _json(key.scope),
        )
        updated = conn.execute(
            "UPDATE client_keys SET name = ?, prefix = ?, created_at = ?, revoked_at = ?, "
            "last_used_at = ?, scope = ? WHERE key_hash = ?",
            (*values, key.key_hash),
        )
        if updated.rowcount == 0:
            conn.execute(
                "INSERT INTO client_keys (name, prefix, created_at, revoked_at, last_used_at, "
                "scope, key_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*values, key.key_hash),
            )


def _dependencies_first(combos: tuple[ComboData, ...]) -> list[ComboData]:
    by_name = {c.name: c for c in combos}
    ordered: list[ComboData] = []
    done: set[str] = set()

    def visit(combo: ComboData, path: tuple[str, ...]) -> None:
        if combo.name in done:
            return
        if combo.name in path:
            raise BadRequest(f"combos route to each other in a circle: {' -> '.join(path)}")
        for target in combo.targets:
            inner = by_name.get(target.ref)
            if inner is not None:
                visit(inner, (*path, combo.name))
        done.add(combo.name)
        ordered.append(combo)

    for combo in combos:
        visit(combo, ())
    return ordered


def _json(value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise BadRequest("a value cannot be stored as JSON") from None

"""Configuration tables: plain functions over a connection, run in a worker thread.

Every function here runs inside a transaction opened by the caller (the
store's writer or reader).  Every function that changes configuration calls
``bump_revision`` in that same transaction, so a running server that polls the
revision sees each committed change exactly when it becomes visible.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import time
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from ..errors import BadRequest, ConfigError, Conflict, NotFound, SecretKeyError
from .crypto import WRONG_KEY_MESSAGE, Sealer
from .key_scope import KeyScope, check_scope
from .records import (
    AccountRecord,
    AliasRecord,
    ClientKeyRecord,
    ComboRecord,
    ComboTargetRecord,
    ConfigSnapshot,
    ProviderRecord,
)
from .sealed_options import open_extra, open_setting, seal_setting

CLIENT_KEY_PREFIX = "sk-omni-"
CLIENT_KEY_DISPLAY_CHARS = 12
CANARY_KEY = "secret_canary"
_CANARY_AAD = "meta|secret_canary|value"
_CANARY_TEXT = "omniroute secret key check"
# Provider names become the first part of model ids ("name/model"): no slash.
_PROVIDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SETTING_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def account_aad(account_id: int) -> str:
    return f"accounts|{account_id}|api_key"


def hash_client_key(plaintext: str) -> str:
    """The stored form of a client key: its SHA-256 digest in hex."""
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


# -- revision and meta ---------------------------------------------------------


def read_revision(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'config_revision'").fetchone()
    return int(row[0]) if row else 0


def bump_revision(conn: sqlite3.Connection) -> int:
    conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'config_revision'")
    return read_revision(conn)


def read_meta_json(conn: sqlite3.Connection, key: str) -> Any:
    """A JSON value kept in ``meta``; None when absent or unreadable."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    if row is None:
        return None
    try:
        return json.loads(row[0])
    except (TypeError, ValueError):
        return None


def write_meta_json(conn: sqlite3.Connection, key: str, value: Any) -> None:
    """Keep runtime state (not configuration: no revision bump) in ``meta``."""
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, json.dumps(value, allow_nan=False)),
    )


def read_canary(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (CANARY_KEY,)).fetchone()
    return str(row[0]) if row else None


def has_encrypted_data(conn: sqlite3.Connection) -> bool:
    if read_canary(conn) is not None:
        return True
    return conn.execute("SELECT 1 FROM accounts LIMIT 1").fetchone() is not None


def store_canary(conn: sqlite3.Connection, sealer: Sealer) -> str:
    """Record a value sealed with this key, unless another process did first."""
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
        (CANARY_KEY, sealer.seal(_CANARY_TEXT, _CANARY_AAD)),
    )
    stored = read_canary(conn)
    assert stored is not None
    return stored


def check_canary(sealer: Sealer, stored: str) -> None:
    """Raise SecretKeyError (with the one clear message) if the key is not the
    one the database was written with."""
    try:
        ok = sealer.unseal(stored, _CANARY_AAD) == _CANARY_TEXT
    except SecretKeyError:
        ok = False
    if not ok:
        raise SecretKeyError(WRONG_KEY_MESSAGE)


# -- providers and accounts ----------------------------------------------------


def upsert_provider(
    conn: sqlite3.Connection,
    sealer: Sealer,
    name: str,
    format: str,
    base_url: str,
    models: Sequence[str] | None,
) -> ProviderRecord:
    _check_provider(name, format, base_url)
    models_json = None if models is None else json.dumps(_check_models(models))
    now = time.time()
    conn.execute(
        """INSERT INTO providers (name, format, base_url, models, created_at, updated_at)
           VALUES (?, ?, ?, coalesce(?, '[]'), ?, ?)
           ON CONFLICT (name) DO UPDATE SET
               format = excluded.format,
               base_url = excluded.base_url,
               models = coalesce(?, providers.models),
               updated_at = excluded.updated_at""",
        (name, format, base_url, models_json, now, now, models_json),
    )
    bump_revision(conn)
    row = conn.execute(f"{_PROVIDER_SELECT} WHERE name = ?", (name,)).fetchone()
    return _provider(row, sealer)


def read_provider(conn: sqlite3.Connection, sealer: Sealer, name: str) -> ProviderRecord | None:
    row = conn.execute(f"{_PROVIDER_SELECT} WHERE name = ?", (name,)).fetchone()
    return None if row is None else _provider(row, sealer)


def _check_provider(name: str, format: str, base_url: str) -> None:
    if not isinstance(name, str) or not _PROVIDER_NAME.fullmatch(name):
        raise BadRequest(
            "provider name must be 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if not isinstance(format, str) or not format.strip():
        raise BadRequest(f"provider {name!r}: format must not be empty")
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise BadRequest(f"provider {name!r}: base_url must start with http:// or https://")


def _check_models(models: Sequence[str]) -> list[str]:
    if isinstance(models, str):
        raise BadRequest("models must be a list of model ids, not one string")
    cleaned: list[str] = []
    for model in models:
        if not isinstance(model, str) or not model.strip():
            raise BadRequest("model ids must be non-empty strings")
        if model not in cleaned:
            cleaned.append(model)
    return cleaned


def add_account(
    conn: sqlite3.Connection,
    sealer: Sealer,
    provider_id: int,
    api_key: str,
    *,
    priority: int | None,
    enabled: bool,
    label: str | None,
) -> AccountRecord:
    if not isinstance(api_key, str) or not api_key.strip():
        raise BadRequest("the API key must not be empty")
    api_key = api_key.strip()
    if conn.execute("SELECT 1 FROM providers WHERE id = ?", (provider_id,)).fetchone() is None:
        raise NotFound(f"unknown provider id {provider_id}")
    for existing in _accounts(conn, sealer, "WHERE provider_id = ?", (provider_id,)):
        if hmac.compare_digest(existing.api_key.encode(), api_key.encode()):
            raise Conflict(f"provider id {provider_id} already has an account with this key")
    if priority is None:
        row = conn.execute(
            "SELECT coalesce(max(priority) + 1, 0) FROM accounts WHERE provider_id = ?",
            (provider_id,),
        ).fetchone()
        priority = int(row[0])
    # The row id is part of the encryption's associated data, so the row is
    # inserted first and the sealed key written once the id is known (same
    # transaction: nobody ever sees the placeholder).
    cursor = conn.execute(
        """INSERT INTO accounts (provider_id, label, api_key, priority, enabled, created_at)
           VALUES (?, ?, '', ?, ?, ?)""",
        (provider_id, label, int(priority), int(bool(enabled)), time.time()),
    )
    account_id = cursor.lastrowid
    assert account_id is not None
    conn.execute(
        "UPDATE accounts SET api_key = ? WHERE id = ?",
        (sealer.seal(api_key, account_aad(account_id)), account_id),
    )
    bump_revision(conn)
    (record,) = _accounts(conn, sealer, "WHERE id = ?", (account_id,))
    return record


def set_provider_enabled(conn: sqlite3.Connection, name: str, enabled: bool) -> None:
    cursor = conn.execute(
        "UPDATE providers SET enabled = ?, updated_at = ? WHERE name = ?",
        (int(bool(enabled)), time.time(), name),
    )
    if cursor.rowcount == 0:
        raise NotFound(f"unknown provider {name!r}")
    bump_revision(conn)


def set_account_enabled(conn: sqlite3.Connection, account_id: int, enabled: bool) -> None:
    cursor = conn.execute(
        "UPDATE accounts SET enabled = ? WHERE id = ?", (int(bool(enabled)), account_id)
    )
    if cursor.rowcount == 0:
        raise NotFound(f"unknown account id {account_id}")
    bump_revision(conn)


def delete_account(conn: sqlite3.Connection, account_id: int) -> bool:
    cursor = conn.execute("DELETE FROM accounts WHERE id = ?", (account_id,))
    if cursor.rowcount == 0:
        return False
    bump_revision(conn)
    return True


def delete_provider(conn: sqlite3.Connection, name: str) -> bool:
    # accounts go with it: ON DELETE CASCADE (foreign_keys is ON).
    cursor = conn.execute("DELETE FROM providers WHERE name = ?", (name,))
    if cursor.rowcount == 0:
        return False
    bump_revision(conn)
    return True


# -- client keys ---------------------------------------------------------------


def create_client_key(
    conn: sqlite3.Connection, name: str | None, scope: Mapping[str, Any] | None = None
) -> tuple[ClientKeyRecord, str]:
    _check_key_name(name)
    stored = _stored_scope(conn, scope or {})
    plaintext = CLIENT_KEY_PREFIX + secrets.token_urlsafe(32)
    cursor = conn.execute(
        "INSERT INTO client_keys (name, key_hash, prefix, created_at, scope) "
        "VALUES (?, ?, ?, ?, ?)",
        (
            name,
            hash_client_key(plaintext),
            plaintext[:CLIENT_KEY_DISPLAY_CHARS],
            time.time(),
            json.dumps(stored),
        ),
    )
    bump_revision(conn)
    record = read_client_key(conn, int(cursor.lastrowid or 0))
    assert record is not None
    return record, plaintext


def update_client_key(
    conn: sqlite3.Connection, key_id: int, changes: Mapping[str, Any]
) -> tuple[ClientKeyRecord, ClientKeyRecord]:
    """Change a key's ``name`` and scope fields (merged into its scope; None
    removes a limit). Returns the key before and after."""
    before = read_client_key(conn, key_id)
    if before is None:
        raise NotFound(f"no client key with id {key_id}")
    if before.revoked:
        raise BadRequest(f"client key {key_id} is revoked; create a new one instead")
    name = changes.get("name", before.name)
    _check_key_name(name)
    scope = before.scope.to_json()
    scope.update({k: v for k, v in changes.items() if k != "name"})
    conn.execute(
        "UPDATE client_keys SET name = ?, scope = ? WHERE id = ?",
        (name, json.dumps(_stored_scope(conn, scope)), key_id),
    )
    bump_revision(conn)
    after = read_client_key(conn, key_id)
    assert after is not None
    return before, after


def read_client_key(conn: sqlite3.Connection, key_id: int) -> ClientKeyRecord | None:
    row = conn.execute(f"{_KEY_SELECT} WHERE id = ?", (key_id,)).fetchone()
    return None if row is None else _client_key(row)


def _check_key_name(name: Any) -> None:
    if name is not None and (not isinstance(name, str) or len(name) > 200):
        raise BadRequest("'name' must be text of at most 200 characters")


def _stored_scope(conn: sqlite3.Connection, scope: Mapping[str, Any]) -> dict[str, Any]:
    """The scope checked, with provider names as configured: a key limited
    to a provider that does not exist could use nothing."""
    checked = check_scope(scope)
    if "providers" in checked:
        known = {str(n).casefold(): str(n) for (n,) in conn.execute("SELECT name FROM providers")}
        unknown = [p for p in checked["providers"] if p.casefold() not in known]
        if unknown:
            raise BadRequest(f"'providers': unknown provider(s) {', '.join(map(repr, unknown))}")
        checked["providers"] = list(
            dict.fromkeys(known[p.casefold()] for p in checked["providers"])
        )
    return checked


def revoke_client_key(conn: sqlite3.Connection, key_id: int) -> bool:
    cursor = conn.execute(
        "UPDATE client_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        (time.time(), key_id),
    )
    if cursor.rowcount == 0:
        return False
    bump_revision(conn)
    return True


# -- settings ------------------------------------------------------------------


def set_setting(conn: sqlite3.Connection, sealer: Sealer, key: str, value: Any) -> None:
    if not isinstance(key, str) or not _SETTING_KEY.fullmatch(key):
        raise BadRequest("a setting key must be 1-128 letters, digits, '.', '_', ':' or '-'")
    try:
        encoded = json.dumps(seal_setting(sealer, key, value), allow_nan=False)
    except (TypeError, ValueError):
        raise BadRequest(f"setting {key!r}: the value cannot be stored as JSON") from None
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, encoded),
    )
    bump_revision(conn)


# -- snapshot ------------------------------------------------------------------


def read_snapshot(conn: sqlite3.Connection, sealer: Sealer) -> ConfigSnapshot:
    """All configuration as of one moment (call inside one read transaction)."""
    providers = tuple(
        _provider(row, sealer) for row in conn.execute(f"{_PROVIDER_SELECT} ORDER BY id")
    )
    accounts = _accounts(conn, sealer, "ORDER BY provider_id, priority, id", ())
    keys = read_client_keys(conn)
    settings = {
        str(key): open_setting(sealer, str(key), _json(value, f"setting {key!r}"))
        for key, value in conn.execute("SELECT key, value FROM settings ORDER BY key")
    }
    return ConfigSnapshot(
        revision=read_revision(conn),
        providers=providers,
        accounts=accounts,
        client_keys=keys,
        settings=MappingProxyType(settings),
        combos=read_combos(conn),
        aliases=read_aliases(conn),
    )


def read_client_keys(conn: sqlite3.Connection) -> tuple[ClientKeyRecord, ...]:
    return tuple(_client_key(row) for row in conn.execute(f"{_KEY_SELECT} ORDER BY id"))


def read_combos(conn: sqlite3.Connection, name: str | None = None) -> tuple[ComboRecord, ...]:
    """Every combo by name (or just ``name``'s)."""
    tail, params = ("WHERE name = ?", (name,)) if name is not None else ("ORDER BY name", ())
    return tuple(_combo(row) for row in conn.execute(f"{_COMBO_SELECT} {tail}", params))


def read_aliases(conn: sqlite3.Connection) -> tuple[AliasRecord, ...]:
    rows = conn.execute("SELECT pattern, target, position FROM aliases ORDER BY position, pattern")
    return tuple(AliasRecord(str(p), str(t), int(pos)) for p, t, pos in rows)


_PROVIDER_SELECT = (
    "SELECT id, name, format, base_url, models, enabled, extra, created_at FROM providers"
)
_ACCOUNT_SELECT = (
    "SELECT id, provider_id, label, api_key, priority, enabled, extra, created_at FROM accounts"
)
_COMBO_SELECT = "SELECT id, name, strategy, enabled, system_prompt, targets, created_at FROM combos"
_KEY_SELECT = (
    "SELECT id, name, key_hash, prefix, created_at, revoked_at, last_used_at, scope, "
    "requests, input_tokens, output_tokens FROM client_keys"
)


def _provider(row: Sequence[Any], sealer: Sealer) -> ProviderRecord:
    id_, name, format_, base_url, models, enabled, extra, created_at = row
    model_list = _json(models, f"provider {name!r} models")
    if not isinstance(model_list, list):
        raise ConfigError(f"provider {name!r}: stored models are not a list")
    return ProviderRecord(
        id=int(id_),
        name=str(name),
        format=str(format_),
        base_url=str(base_url),
        models=tuple(str(m) for m in model_list),
        enabled=bool(enabled),
        extra=open_extra(
            sealer, "providers", int(id_), _mapping(extra, f"provider {name!r} extra")
        ),
        created_at=float(created_at),
    )


def _accounts(
    conn: sqlite3.Connection, sealer: Sealer, tail: str, params: tuple[Any, ...]
) -> tuple[AccountRecord, ...]:
    records = []
    for row in conn.execute(f"{_ACCOUNT_SELECT} {tail}", params):
        id_, provider_id, label, sealed, priority, enabled, extra, created_at = row
        records.append(
            AccountRecord(
                id=int(id_),
                provider_id=int(provider_id),
                label=None if label is None else str(label),
                api_key=sealer.unseal(str(sealed), account_aad(int(id_))),
                priority=int(priority),
                enabled=bool(enabled),
                extra=open_extra(
                    sealer, "accounts", int(id_), _mapping(extra, f"account {id_} extra")
                ),
                created_at=float(created_at),
            )
        )
    return tuple(records)


def _combo(row: Sequence[Any]) -> ComboRecord:
    id_, name, strategy, enabled, system_prompt, targets, created_at = row
    raw = _json(targets, f"combo {name!r} targets")
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise ConfigError(f"combo {name!r}: stored targets are not a list of objects")
    return ComboRecord(
        id=int(id_),
        name=str(name),
        strategy=str(strategy),
        enabled=bool(enabled),
        system_prompt=None if system_prompt is None else str(system_prompt),
        targets=tuple(
            ComboTargetRecord(
                str(t.get("ref", "")), int(t.get("weight", 1)), bool(t.get("enabled", True))
            )
            for t in raw
        ),
        created_at=float(created_at),
    )


def _client_key(row: Sequence[Any]) -> ClientKeyRecord:
    id_, name, key_hash, prefix, created_at, revoked_at, last_used_at, scope = row[:8]
    requests, input_tokens, output_tokens = row[8:]
    return ClientKeyRecord(
        id=int(id_),
        name=None if name is None else str(name),
        key_hash=str(key_hash),
        prefix=str(prefix),
        created_at=float(created_at),
        revoked=revoked_at is not None,
        last_used_at=None if last_used_at is None else float(last_used_at),
        scope=KeyScope.read(_mapping(scope, f"client key {id_} scope"), f"client key {id_}"),
        requests=int(requests),
        input_tokens=int(input_tokens),
        output_tokens=int(output_tokens),
    )


def _json(text: Any, what: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        raise ConfigError(f"{what}: stored value is not valid JSON") from None


def _mapping(text: Any, what: str) -> Mapping[str, Any]:
    value = _json(text, what)
    if not isinstance(value, dict):
        raise ConfigError(f"{what}: stored value is not a JSON object")
    return MappingProxyType(value)

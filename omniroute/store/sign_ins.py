"""Signed-in accounts' grants: the tokens a sign-in gave, sealed at rest.

Each grant belongs to one account of kind ``oauth``. A refresh writes the new
tokens in one transaction that commits before the new access token is used:
the issuer rotates refresh tokens and refuses a used one, so the newest one
must survive a crash the moment after it arrived.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from omniroute.errors import NotFound
from omniroute.store import options
from omniroute.store import repositories as repo
from omniroute.store.crypto import Sealer

OK = "ok"
EXPIRED = "expired"  # the last refresh was refused; one more try is allowed
NEEDS_LOGIN = "needs_login"  # refused again and again: only a new sign-in helps

HOST_ID_KEY = "oauth_host_id"


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str = field(repr=False)
    expires_at: float
    refresh_token: str | None = field(default=None, repr=False)
    id_token: str | None = field(default=None, repr=False)
    scopes: str = ""


@dataclass(frozen=True, slots=True)
class Grant:
    account_id: int
    provider: str  # which sign-in (a catalog provider id)
    subject: str
    client_id: str
    email: str | None
    tokens: Tokens
    status: str
    failures: int
    last_error: str | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class SignedIn:
    account_id: int
    created: bool  # a new account; False: an existing one signed in again


def _aad(account_id: int, column: str) -> str:
    return f"oauth_grants|{account_id}|{column}"


def _seal(sealer: Sealer, account_id: int, column: str, value: str | None) -> str | None:
    return None if value is None else sealer.seal(value, _aad(account_id, column))


def _unseal(sealer: Sealer, account_id: int, column: str, value: Any) -> str | None:
    return None if not value else sealer.unseal(str(value), _aad(account_id, column))


_SELECT = (
    "SELECT account_id, provider, subject, client_id, email, access_token, refresh_token, "
    "id_token, scopes, expires_at, status, failures, last_error, updated_at FROM oauth_grants"
)


def _grant(row: Sequence[Any], sealer: Sealer) -> Grant:
    account_id = int(row[0])
    return Grant(
        account_id=account_id,
        provider=str(row[1]),
        subject=str(row[2]),
        client_id=str(row[3]),
        email=row[4],
        tokens=Tokens(
            access_token=_unseal(sealer, account_id, "access_token", row[5]) or "",
            refresh_token=_unseal(sealer, account_id, "refresh_token", row[6]),
            id_token=_unseal(sealer, account_id, "id_token", row[7]),
            scopes=str(row[8]),
            expires_at=float(row[9]),
        ),
        status=str(row[10]),
        failures=int(row[11]),
        last_error=row[12],
        updated_at=float(row[13]),
    )


def read_grants(conn: sqlite3.Connection, sealer: Sealer) -> list[Grant]:
    rows = conn.execute(_SELECT + " ORDER BY account_id").fetchall()
    return [_grant(row, sealer) for row in rows]


def read_grant(conn: sqlite3.Connection, sealer: Sealer, account_id: int) -> Grant | None:
    row = conn.execute(_SELECT + " WHERE account_id = ?", (account_id,)).fetchone()
    return None if row is None else _grant(row, sealer)


def registered_client(conn: sqlite3.Connection, provider: str) -> str | None:
    """The client id the issuer gave this host on an earlier sign-in (the
    newest), to sign in with again instead of registering anew."""
    row = conn.execute(
        "SELECT client_id FROM oauth_grants WHERE provider = ? ORDER BY updated_at DESC LIMIT 1",
        (provider,),
    ).fetchone()
    return None if row is None else str(row[0])


def host_id(conn: sqlite3.Connection) -> str:
    """This installation's stable host identifier, made on first use."""
    found = repo.read_meta_json(conn, HOST_ID_KEY)
    if isinstance(found, str) and found:
        return found
    made = f"urn:uuid:{uuid.uuid4()}"
    repo.write_meta_json(conn, HOST_ID_KEY, made)
    return made


@dataclass(frozen=True, slots=True)
class ProviderShape:
    """What a sign-in's provider row is made of, when it does not exist yet."""

    name: str
    format: str
    base_url: str
    models: tuple[str, ...] = ()


def save_sign_in(
    conn: sqlite3.Connection,
    sealer: Sealer,
    *,
    provider: ProviderShape,
    kind: str,
    subject: str,
    client_id: str,
    email: str | None,
    tokens: Tokens,
    label: str | None,
) -> SignedIn:
    """Keep a completed sign-in: the same person signing in again (same
    issued client and subject) updates their account and turns it back on;
    anyone else gets a new account of the provider (created if missing)."""
    now = time.time()
    row = conn.execute(
        "SELECT account_id FROM oauth_grants WHERE provider = ? AND client_id = ? AND subject = ?",
        (kind, client_id, subject),
    ).fetchone()
    if row is not None:
        account_id = int(row[0])
        _write_tokens(conn, sealer, account_id, tokens, now)
        conn.execute("UPDATE oauth_grants SET email = ? WHERE account_id = ?", (email, account_id))
        options.update_account(conn, sealer, account_id, priority=None, enabled=True, extra=None)
        if label:
            conn.execute("UPDATE accounts SET label = ? WHERE id = ?", (label, account_id))
        repo.bump_revision(conn)
        return SignedIn(account_id, created=False)
    record = repo.read_provider(conn, sealer, provider.name)
    if record is None:
        record = repo.upsert_provider(
            conn, sealer, provider.name, provider.format, provider.base_url, provider.models
        )
    if record.extra.get("catalog") != kind:
        # Linked to its catalog entry, which says how to talk to it.
        options.update_provider(
            conn, sealer, provider.name, base_url=None, models=None, extra={"catalog": kind}
        )
    # The stored "key" of a signed-in account stands for who signed in: the
    # account table wants one, and two sign-ins of one person must not be
    # two accounts. The real credential is the grant's token.
    stand_in = "signed-in:" + hashlib.sha256(f"{client_id}|{subject}".encode()).hexdigest()[:24]
    account = repo.add_account(
        conn, sealer, record.id, stand_in, priority=None, enabled=True, label=label or email
    )
    options.update_account(
        conn, sealer, account.id, priority=None, enabled=None, extra={"kind": "oauth"}
    )
    conn.execute(
        """INSERT INTO oauth_grants (account_id, provider, subject, client_id, email,
               access_token, expires_at, updated_at) VALUES (?, ?, ?, ?, ?, '', 0, ?)""",
        (account.id, kind, subject, client_id, email, now),
    )
    _write_tokens(conn, sealer, account.id, tokens, now)
    return SignedIn(account.id, created=True)


def _write_tokens(
    conn: sqlite3.Connection, sealer: Sealer, account_id: int, tokens: Tokens, now: float
) -> None:
    conn.execute(
        """UPDATE oauth_grants SET access_token = ?, refresh_token = ?, id_token = ?,
               scopes = ?, expires_at = ?, status = 'ok', failures = 0, last_error = NULL,
               updated_at = ? WHERE account_id = ?""",
        (
            _seal(sealer, account_id, "access_token", tokens.access_token),
            _seal(sealer, account_id, "refresh_token", tokens.refresh_token),
            _seal(sealer, account_id, "id_token", tokens.id_token),
            tokens.scopes,
            tokens.expires_at,
            now,
            account_id,
        ),
    )


def store_refreshed(
    conn: sqlite3.Connection, sealer: Sealer, account_id: int, tokens: Tokens
) -> None:
    """A refresh's tokens. A refresh that returns no new refresh token (or ID
    token) keeps the current one."""
    current = read_grant(conn, sealer, account_id)
    if current is None:
        raise NotFound(f"account {account_id} is not signed in")
    kept = Tokens(
        access_token=tokens.access_token,
        expires_at=tokens.expires_at,
        refresh_token=tokens.refresh_token or current.tokens.refresh_token,
        id_token=tokens.id_token or current.tokens.id_token,
        scopes=tokens.scopes or current.tokens.scopes,
    )
    _write_tokens(conn, sealer, account_id, kept, time.time())


def mark(
    conn: sqlite3.Connection, account_id: int, status: str, failures: int, error: str | None
) -> None:
    conn.execute(
        "UPDATE oauth_grants SET status = ?, failures = ?, last_error = ?, updated_at = ? "
        "WHERE account_id = ?",
        (status, failures, error, time.time(), account_id),
    )


def forget_tokens(conn: sqlite3.Connection, account_id: int) -> None:
    """After a sign-out: the tokens go, the account and its registration stay
    (signing in again reuses them); it needs a sign-in before use."""
    conn.execute(
        """UPDATE oauth_grants SET access_token = '', refresh_token = NULL, id_token = NULL,
               expires_at = 0, status = 'needs_login', last_error = 'signed out',
               updated_at = ? WHERE account_id = ?""",
        (time.time(), account_id),
    )
    repo.bump_revision(conn)


def grant_summary(grant: Grant) -> dict[str, Any]:
    """What may be shown of a grant: never a token."""
    return {
        "account_id": grant.account_id,
        "provider": grant.provider,
        "email": grant.email,
        "status": grant.status,
        "expires_at": grant.tokens.expires_at,
        "scopes": grant.tokens.scopes.split(),
        "failures": grant.failures,
        "last_error": grant.last_error,
    }

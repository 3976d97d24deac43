"""Persistent state: one SQLite database (WAL, one writer thread), numbered
migrations, secrets sealed with AES-256-GCM, batched request log."""

from __future__ import annotations

from .migrations import MIGRATIONS, Migration, MigrationResult
from .records import (
    AccountRecord,
    ClientKeyRecord,
    ConfigSnapshot,
    ProviderRecord,
    RequestLogRow,
)
from .repositories import CLIENT_KEY_PREFIX, account_aad, bump_revision, hash_client_key
from .store import Store

__all__ = [
    "CLIENT_KEY_PREFIX",
    "MIGRATIONS",
    "AccountRecord",
    "ClientKeyRecord",
    "ConfigSnapshot",
    "Migration",
    "MigrationResult",
    "ProviderRecord",
    "RequestLogRow",
    "Store",
    "account_aad",
    "bump_revision",
    "hash_client_key",
]

"""Persistent state: one SQLite database (WAL, one writer thread), numbered
migrations, secrets sealed with AES-256-GCM, batched request log."""

from __future__ import annotations

from .migrations import MIGRATIONS, Migration, MigrationResult
from .proxies import DIRECT, PROXY_SCHEMES, check_proxy, mask_proxy
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
from .repositories import CLIENT_KEY_PREFIX, account_aad, bump_revision, hash_client_key
from .store import Store

__all__ = [
    "CLIENT_KEY_PREFIX",
    "DIRECT",
    "MIGRATIONS",
    "PROXY_SCHEMES",
    "AccountRecord",
    "AliasRecord",
    "ClientKeyRecord",
    "ComboRecord",
    "ComboTargetRecord",
    "ConfigSnapshot",
    "Migration",
    "MigrationResult",
    "ProviderRecord",
    "RequestLogRow",
    "Store",
    "account_aad",
    "bump_revision",
    "check_proxy",
    "hash_client_key",
    "mask_proxy",
]

"""The kinds of provider account, read from the account's options.

``key``           the account's stored API key (the default).
``oauth``         a signed-in subscription: the access token of its grant.
``pass-through``  no credential of its own: each request brings the client's
                  own, which is forwarded for that request only and never
                  stored. The account row still exists (it is what routing,
                  cooldowns and the request log name), with a stand-in in
                  its key column.

The gateway's request path picks the credential (``gateway.credentials``);
the configuration and its listings only need to know which kind an account is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omniroute.store.records import AccountRecord

KIND_KEY = "key"
KIND_OAUTH = "oauth"
KIND_PASS_THROUGH = "pass-through"  # noqa: S105 (a kind, not a password)
ACCOUNT_KINDS = (KIND_KEY, KIND_OAUTH, KIND_PASS_THROUGH)

# What a pass-through account keeps in its key column, which may not be
# empty. Shorter than the shortest secret the error scrubber cuts out, so
# that ordinary text is never masked because of it; it is never sent.
PASS_THROUGH_STAND_IN = "client"  # noqa: S105 (not a secret)


def account_kind(account: AccountRecord) -> str:
    return kind_of(account.extra)


def kind_of(extra: Mapping[str, Any]) -> str:
    """The kind an account's options name (``key`` unless they name another)."""
    kind = extra.get("kind")
    return kind if isinstance(kind, str) and kind in ACCOUNT_KINDS else KIND_KEY


def is_pass_through(account: AccountRecord) -> bool:
    return account_kind(account) == KIND_PASS_THROUGH

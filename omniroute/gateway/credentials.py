"""What an attempt authenticates with upstream, by the kind of its account.

Three kinds of account:

``key``           the account's stored API key (the default).
``oauth``         a signed-in subscription: the access token of its grant,
                  refreshed when it is about to expire (``providers.oauth``).
``pass-through``  the client's own credential for that upstream, forwarded for
                  that one request with the client's own headers and never
                  stored. The client then names its gateway key in
                  ``X-OmniRoute-Key``, so ``Authorization`` (or ``x-api-key``,
                  ``x-goog-api-key``) is free to carry its upstream credential.

A pass-through account is shared by everyone who brings a credential, so what
an upstream says about one credential (a spent quota) is kept under that
credential's own key (``rest_key``), not the account's.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from omniroute.providers.accounts import (
    ACCOUNT_KINDS,
    KIND_KEY,
    KIND_OAUTH,
    KIND_PASS_THROUGH,
    account_kind,
)
from omniroute.store.records import AccountRecord

__all__ = [
    "ACCOUNT_KINDS",
    "GATEWAY_KEY_HEADER",
    "KIND_KEY",
    "KIND_OAUTH",
    "KIND_PASS_THROUGH",
    "Credential",
    "Credentials",
    "TokenSource",
    "account_kind",
    "client_credential",
    "rest_owner",
]

GATEWAY_KEY_HEADER = "x-omniroute-key"

# Client headers a pass-through call does not repeat upstream: the connection's
# own, what the gateway sets itself, the credentials (sent separately), and
# anything that names the gateway or the client's network.
_NOT_FORWARDED = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "accept",
        "accept-encoding",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "cookie",
        "forwarded",
        "proxy-authorization",
        "proxy-connection",
        "authorization",
        "x-api-key",
        "x-goog-api-key",
        "idempotency-key",
        "x-session-id",
        "x-real-ip",
    }
)
_NOT_FORWARDED_PREFIXES = ("x-omniroute-", "x-forwarded-")


@dataclass(frozen=True, slots=True)
class Credential:
    secret: str = field(repr=False)
    # How it is sent: bearer, x-api-key, x-goog-api-key; None: the provider's way.
    scheme: str | None = None
    # Client headers sent along (pass-through only).
    headers: Mapping[str, str] = field(default_factory=dict)
    # Where what the upstream says about this credential is kept (cooldowns,
    # quotas): the account, or the one client credential of a pass-through.
    rest_key: str | None = None


def client_credential(headers: Mapping[str, str]) -> Credential | None:
    """The client's own upstream credential: only when its gateway key came
    in ``X-OmniRoute-Key``, so the usual headers are not the gateway's key."""
    gateway_key = headers.get(GATEWAY_KEY_HEADER, "").strip()
    if not gateway_key:
        return None
    auth = headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    found: tuple[str, str] | None = None
    if scheme.lower() == "bearer" and token.strip():
        found = token.strip(), "bearer"
    else:
        for name in ("x-api-key", "x-goog-api-key"):
            value = headers.get(name, "").strip()
            if value:
                found = value, name
                break
    # A client that sends the gateway's key in both places brings no
    # credential of its own, and that key must never go upstream.
    if found is None or found[0] == gateway_key:
        return None
    return _passed(found[0], found[1], headers)


def _passed(secret: str, scheme: str, headers: Mapping[str, str]) -> Credential:
    forwarded = {
        name: value
        for name, value in headers.items()
        if name not in _NOT_FORWARDED and not name.startswith(_NOT_FORWARDED_PREFIXES)
    }
    # A digest, never the credential: the key its cooldowns and quota live under.
    digest = hashlib.sha256(secret.encode()).hexdigest()[:16]
    return Credential(secret, scheme, forwarded, rest_key=digest)


class TokenSource(Protocol):
    """Access tokens of signed-in accounts (``providers.oauth.tokens``)."""

    def unavailable(self, account_id: int) -> str | None:
        """Why the account cannot be used now (it needs a new sign-in), or None."""
        ...

    async def access_token(self, account_id: int) -> str:
        """A token valid for a while yet, refreshed first when it is not;
        raises ``UpstreamError`` when no token can be had."""
        ...

    def stale(self, account_id: int) -> bool:
        """The upstream refused the token: refresh it on next use (False
        when a refresh would not help)."""
        ...


def rest_owner(account: AccountRecord, passed: Credential | None) -> str | None:
    """Whose rests an account's failures are: the client credential's on a
    pass-through account, else the account's own (None)."""
    if passed is not None and account_kind(account) == KIND_PASS_THROUGH:
        return passed.rest_key
    return None


class Credentials:
    """Picks each attempt's credential."""

    def __init__(self, tokens: TokenSource | None = None) -> None:
        self.tokens = tokens

    def unavailable(self, account: AccountRecord, passed: Credential | None) -> str | None:
        """Why this account cannot serve this request, or None."""
        kind = account_kind(account)
        if kind == KIND_PASS_THROUGH:
            if passed is None:
                return "pass-through account: the request brings no credential of its own"
            return None
        if kind == KIND_OAUTH:
            if self.tokens is None:
                return "signed-in account: sign-ins are not available"
            return self.tokens.unavailable(account.id)
        return None

    def rejected(self, account: AccountRecord) -> bool:
        """The upstream refused this account's credential (401). True when
        that is cured by refreshing a signed-in account's token, so the
        account need not rest."""
        if account_kind(account) != KIND_OAUTH or self.tokens is None:
            return False
        return self.tokens.stale(account.id)

    async def resolve(
        self, account: AccountRecord, passed: Credential | None, *, same_format: bool = True
    ) -> Credential:
        """``same_format``: the upstream speaks the client's own API. Then the
        client's credential goes in the header it came in (an Anthropic
        subscription token must stay a bearer); a translated call sends it
        the way the provider expects (a Gemini key from a client that puts
        every key in ``x-api-key``)."""
        kind = account_kind(account)
        if kind == KIND_PASS_THROUGH:
            if passed is None:  # ``unavailable`` keeps the pipeline from asking
                raise LookupError("no client credential")
            return passed if same_format else dataclasses.replace(passed, scheme=None)
        if kind == KIND_OAUTH and self.tokens is not None:
            return Credential(await self.tokens.access_token(account.id), "bearer")
        return Credential(account.api_key)

"""Client keys: who may use the client API."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from omniroute.config.options import Options
from omniroute.errors import Unauthorized
from omniroute.gateway.credentials import GATEWAY_KEY_HEADER
from omniroute.gateway.peers import local_caller
from omniroute.http.message import Request
from omniroute.store import hash_client_key
from omniroute.store.records import ClientKeyRecord, ConfigSnapshot


def presented_key(request: Request) -> str | None:
    """The key a client sent, in whichever header its SDK uses. A client whose
    usual headers carry its own upstream credential (for a pass-through
    account) sends the gateway's key in ``X-OmniRoute-Key`` instead."""
    own = request.headers.get(GATEWAY_KEY_HEADER)
    if own:
        return own.strip()
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    for header in ("x-api-key", "x-goog-api-key"):
        value = request.headers.get(header)
        if value:
            return value.strip()
    return request.query.get("key") or None


def authenticate(
    request: Request,
    snapshot: ConfigSnapshot,
    *,
    require_on_loopback: bool,
    options: Options,
) -> ClientKeyRecord | None:
    """The caller's key record; None only for a key-less local caller (a
    program on this machine, not a request relayed by a proxy) when the
    setting allows it. Raises Unauthorized otherwise."""
    key = presented_key(request)
    if key is None:
        if not require_on_loopback and local_caller(request, options):
            return None
        raise Unauthorized(
            "Missing API key. Create one with `omniroute key create` and send it as "
            "'Authorization: Bearer <key>'."
        )
    # Lookup by SHA-256: the stored hash is the index, so no plaintext
    # comparison takes place and timing reveals nothing about the key.
    record = snapshot.key_by_hash(hash_client_key(key))
    if record is None or record.revoked:
        raise Unauthorized("Invalid API key.")
    expires_at = record.scope.expires_at
    if expires_at is not None and record.scope.expired(time.time()):
        when = datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        raise Unauthorized(f"This API key expired on {when}.")
    return record

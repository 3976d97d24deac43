"""Client keys: who may use the client API."""

from __future__ import annotations

import ipaddress

from omniroute.errors import Unauthorized
from omniroute.http.message import Request
from omniroute.store import hash_client_key
from omniroute.store.records import ClientKeyRecord, ConfigSnapshot


def presented_key(request: Request) -> str | None:
    """The key a client sent, in whichever header its SDK uses."""
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


def is_loopback(request: Request) -> bool:
    if request.client is None:
        return False
    try:
        return ipaddress.ip_address(request.client[0]).is_loopback
    except ValueError:
        return False


def authenticate(
    request: Request, snapshot: ConfigSnapshot, *, require_on_loopback: bool
) -> ClientKeyRecord | None:
    """The caller's key record; None only for a key-less loopback caller when
    the setting allows it. Raises Unauthorized otherwise."""
    key = presented_key(request)
    if key is None:
        if not require_on_loopback and is_loopback(request):
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
    return record

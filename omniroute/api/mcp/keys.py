"""The admin key an MCP client may send to ``/mcp`` as ``Authorization:
Bearer`` instead of logging in (a desktop app or an agent cannot keep a
session cookie and its CSRF token). There is one at a time:
``omniroute admin mcp-key`` makes a new one, printed once (only its hash is
kept, like a session token's), replacing the one before; ``--revoke`` ends it.
It opens ``/mcp`` only, never ``/api``.
"""

from __future__ import annotations

import hmac
import secrets
import time

from omniroute.api.admin.sessions import token_hash
from omniroute.config.audit import Actor, Auditor
from omniroute.errors import Unauthorized
from omniroute.http.message import Request
from omniroute.store import Store
from omniroute.store.admin import AdminRows

PREFIX = "omr-mcp-"
_SHOWN = 12  # characters of a key kept in clear, to tell keys apart


async def create_key(store: Store, actor: Actor) -> str:
    """A new key (to be shown once), replacing the one before."""
    key = PREFIX + secrets.token_urlsafe(32)
    rows = AdminRows(store)
    replaced = await rows.mcp_key() is not None
    await rows.set_mcp_key(token_hash(key), key[:_SHOWN], time.time())
    await Auditor(store, actor).record("mcp_key.create", key[:_SHOWN], {"replaced": replaced})
    return key


async def revoke_key(store: Store, actor: Actor) -> bool:
    """False when there was none."""
    revoked = await AdminRows(store).remove_mcp_key()
    if revoked:
        await Auditor(store, actor).record("mcp_key.revoke", None)
    return revoked


async def presented_key(request: Request, rows: AdminRows) -> str | None:
    """The prefix of the MCP admin key the request carries, None when it
    carries no Bearer credential; Unauthorized for a wrong or revoked one."""
    given = request.headers.get("authorization")
    if not given:
        return None
    scheme, _, token = given.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Send the MCP admin key as 'Authorization: Bearer KEY'.")
    stored = await rows.mcp_key()
    digest = token_hash(token).encode()
    if stored is None or not hmac.compare_digest(digest, stored[0].encode()):
        raise Unauthorized(
            "Wrong or revoked MCP admin key; `omniroute admin mcp-key` makes a new one."
        )
    return stored[1]

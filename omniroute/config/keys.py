"""Client keys: creating, changing and revoking them with their scope. The
``omniroute key`` commands and ``/api/keys`` both call this one place, and
every change leaves an audit row (never the key itself: only its prefix).

Fields a caller gives (CLI flags, or the JSON of ``/api/keys``):

    name            a label
    models          model names or patterns the key may ask for:
                    ``openai/*``, ``gpt-4o``, a combo's or an alias's name
    providers       provider names its requests may be routed to
    expires         how long from now: ``90m``, ``12h``, ``30d``, ``2w``
                    (``never``: no expiry)
    expires_at      or the moment itself, in unix seconds
    rpm             model calls per minute
    max_concurrent  model calls in progress at once

When a key is changed, null (or an empty list) removes that limit; fields
left out stay as they are. See ``omniroute.store.key_scope`` for the stored
form and ``omniroute.gateway.scope`` for how a request is judged.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from omniroute.errors import BadRequest, NotFound
from omniroute.store import ClientKeyRecord, Store
from omniroute.store.admin import AdminRows

FIELDS = ("name", "models", "providers", "expires", "expires_at", "rpm", "max_concurrent")
NEVER = frozenset({"never", "none", "off"})

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_MAX_DURATION = 100 * 365 * 86_400.0


def parse_duration(text: str) -> float:
    """Seconds in ``90m``, ``12h``, ``30d``, ``2w`` (or ``45s``)."""
    found = _DURATION.fullmatch(text.strip().lower())
    seconds = float(found[1]) * _UNITS[found[2]] if found else 0.0
    if not 0 < seconds <= _MAX_DURATION:
        raise BadRequest(
            f"'expires': {text[:40]!r} is not a duration such as 90m, 12h, 30d or 2w (or 'never')"
        )
    return seconds


def key_changes(fields: Mapping[str, Any], now: float) -> dict[str, Any]:
    """What ``fields`` ask of a key, as the store takes it: ``expires`` made
    into ``expires_at``. BadRequest names an unknown or badly typed field;
    the values themselves are checked where they are written."""
    if not isinstance(fields, Mapping):
        raise BadRequest("a key's fields must be an object")
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(map(repr, unknown))}")
    changes = {k: v for k, v in fields.items() if k != "expires"}
    if "expires" in fields:
        if "expires_at" in fields:
            raise BadRequest("give 'expires' or 'expires_at', not both")
        expires = fields["expires"]
        if expires is not None and not isinstance(expires, str):
            raise BadRequest("'expires' must be a duration such as 30d, or 'never'")
        if expires is None or expires.strip().lower() in NEVER:
            changes["expires_at"] = None
        else:
            changes["expires_at"] = now + parse_duration(expires)
    return changes


class KeyEditor:
    __slots__ = ("_store", "_rows")

    def __init__(self, store: Store) -> None:
        self._store = store
        self._rows = AdminRows(store)

    async def list(self) -> tuple[ClientKeyRecord, ...]:
        """Every key with its usage as last written (the request log is
        written about once a second)."""
        return await self._store.list_client_keys()

    async def create(
        self, fields: Mapping[str, Any], *, actor: str, address: str | None
    ) -> tuple[ClientKeyRecord, str]:
        """A new key and its plaintext, which is shown this once and not stored."""
        now = time.time()
        changes = key_changes(fields, now)
        name = changes.pop("name", None)
        record, plaintext = await self._store.create_client_key(name, changes)
        await self._rows.audit(
            now, actor, "key.create", _target(record), _described(record), address
        )
        return record, plaintext

    async def update(
        self, key_id: int, fields: Mapping[str, Any], *, actor: str, address: str | None
    ) -> ClientKeyRecord:
        now = time.time()
        before, after = await self._store.update_client_key(key_id, key_changes(fields, now))
        detail = {"before": _described(before), "after": _described(after)}
        await self._rows.audit(now, actor, "key.update", _target(after), detail, address)
        return after

    async def revoke(self, key_id: int, *, actor: str, address: str | None) -> ClientKeyRecord:
        if not await self._store.revoke_client_key(key_id):
            raise NotFound(f"no active client key with id {key_id}")
        record = next(k for k in await self._store.list_client_keys() if k.id == key_id)
        await self._rows.audit(
            time.time(), actor, "key.revoke", _target(record), _described(record), address
        )
        return record


def key_state(record: ClientKeyRecord, now: float) -> str:
    if record.revoked:
        return "revoked"
    return "expired" if record.scope.expired(now) else "active"


def key_view(record: ClientKeyRecord, now: float) -> dict[str, Any]:
    """A key as the management API shows it: never the key itself."""
    scope = record.scope
    return {
        "id": record.id,
        "name": record.name,
        "prefix": record.prefix,
        "state": key_state(record, now),
        "created_at": record.created_at,
        "expires_at": scope.expires_at,
        "models": list(scope.models),
        "providers": list(scope.providers),
        "rpm": scope.rpm,
        "max_concurrent": scope.max_concurrent,
        "usage": {
            "requests": record.requests,
            "input_tokens": record.input_tokens,
            "output_tokens": record.output_tokens,
            "last_used_at": record.last_used_at,
        },
    }


def _target(record: ClientKeyRecord) -> str:
    return f"key {record.id}"


def _described(record: ClientKeyRecord) -> dict[str, Any]:
    """What an audit row keeps of a key: its label, prefix and scope."""
    return {"name": record.name, "prefix": record.prefix, **record.scope.to_json()}

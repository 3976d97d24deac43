"""The audit log of management actions: who did what to which thing, when,
and what it was before and after, with every secret masked.

Who is an ``Actor``: ``session`` (the dashboard or anything logged in, with
its address), ``cli`` (the local command line, directly or through the
per-start admin token), ``import`` (a configuration file being applied),
``system`` (the server itself). The ``ConfigEditor`` writes a row after each
change commits, so a change from any of them is audited the same way.
Rows older than the ``audit_retention_days`` setting go as new ones come.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from omniroute.config.redact import redact
from omniroute.store import Store
from omniroute.store.admin import AdminRows, AuditRecord


class ActorFields(TypedDict):
    actor: str
    address: str | None


@dataclass(frozen=True, slots=True)
class Actor:
    name: str  # session | cli | import | system
    address: str | None = None

    def as_kwargs(self) -> ActorFields:
        """For the functions that take ``actor=`` and ``address=``."""
        return ActorFields(actor=self.name, address=self.address)


CLI = Actor("cli")


class Auditor:
    """Writes audit rows for one actor."""

    __slots__ = ("actor", "_rows")

    def __init__(self, store: Store, actor: Actor) -> None:
        self.actor = actor
        self._rows = AdminRows(store)

    async def record(
        self, action: str, target: str | None, detail: Mapping[str, Any] | None = None
    ) -> None:
        await self._rows.audit(
            time.time(),
            self.actor.name,
            action,
            target,
            redact(dict(detail or {})),
            self.actor.address,
        )


def difference(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """``{"before": …, "after": …}`` holding only the fields that changed."""
    changed = [k for k in {**before, **after} if before.get(k) != after.get(k)]
    return {
        "before": {k: before.get(k) for k in changed},
        "after": {k: after.get(k) for k in changed},
    }


def audit_json(record: AuditRecord) -> dict[str, Any]:
    """One row as the management API and ``omniroute audit --json`` give it."""
    return {
        "id": record.id,
        "ts": record.ts,
        "actor": record.actor,
        "address": record.address,
        "action": record.action,
        "target": record.target,
        "detail": dict(record.detail),
    }

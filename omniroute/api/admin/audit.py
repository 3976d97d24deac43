"""``GET /api/audit?limit=&before=``: the audit log, newest first.

``before`` pages back: give the ``next_before`` of the previous answer
(null when there is nothing older).
"""

from __future__ import annotations

from omniroute.api.admin.access import ADMIN_TOKEN, Guards
from omniroute.api.admin.params import whole
from omniroute.config.audit import audit_json
from omniroute.http.message import Request, Response
from omniroute.http.routing import Router
from omniroute.store import Store
from omniroute.store.admin import AdminRows

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class AuditRoutes:
    __slots__ = ("_rows",)

    def __init__(self, store: Store) -> None:
        self._rows = AdminRows(store)

    def install(self, router: Router, guards: Guards) -> None:
        router.add("GET", "/api/audit", guards.token_or_session(self.entries), label=ADMIN_TOKEN)

    async def entries(self, request: Request) -> Response:
        limit = whole(request, "limit", 1, MAX_LIMIT) or DEFAULT_LIMIT
        before = whole(request, "before", 1, 2**62)
        rows = await self._rows.audit_log(limit, before)
        more = len(rows) == limit and rows[-1].id > 1
        return Response.json(
            {"entries": [audit_json(r) for r in rows], "next_before": rows[-1].id if more else None}
        )

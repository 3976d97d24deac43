"""``GET /api/usage``: the request log summed up, grouped by one dimension.

    group  = provider | model | key | account | day
    series = a second dimension (not the group), e.g. group=day&series=provider
             for a chart of requests per day stacked by provider
    since / until = unix seconds; since may also be 24h, 7d, 30d (default 7d)

Errors are requests answered with a status of 400 or more. ``cost`` is the
sum of the rows' costs in USD (each priced when it was logged); null when no
row in the group has a known price. A day is a UTC date (YYYY-MM-DD); a key row
carries ``key_id`` and the key's name, an account row ``account_id`` and
``provider#id``.
"""

from __future__ import annotations

import time

from omniroute.api.admin.access import ADMIN_TOKEN, Guards
from omniroute.api.admin.params import period
from omniroute.errors import BadRequest
from omniroute.http.message import Request, Response
from omniroute.http.routing import Router
from omniroute.store import Store
from omniroute.store.usage_hourly import USAGE_DIMENSIONS

DEFAULT_PERIOD = 7 * 86_400


class UsageRoutes:
    __slots__ = ("_store",)

    def __init__(self, store: Store) -> None:
        self._store = store

    def install(self, router: Router, guards: Guards) -> None:
        router.add("GET", "/api/usage", guards.token_or_session(self.usage), label=ADMIN_TOKEN)

    async def usage(self, request: Request) -> Response:
        group = _dimension(request, "group") or "provider"
        series = _dimension(request, "series")
        if series == group:
            raise BadRequest("'series' must differ from 'group'")
        now = time.time()
        since, until = period(request, now - DEFAULT_PERIOD, now)
        rows, totals = await self._store.usage(group, series, since, until)
        return Response.json(
            {
                "group": group,
                "series": series,
                "since": since,
                "until": until,
                "rows": rows,
                "totals": totals,
            }
        )


def _dimension(request: Request, name: str) -> str | None:
    text = request.query.get(name)
    if not text:
        return None
    if text not in USAGE_DIMENSIONS:
        raise BadRequest(f"'{name}' must be one of {', '.join(USAGE_DIMENSIONS)}")
    return text

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
from typing import Any

from omniroute.api.admin.access import ADMIN_TOKEN, Guards
from omniroute.api.admin.params import period_of
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
        query = request.query
        return Response.json(
            await usage_summary(
                self._store,
                group=query.get("group"),
                series=query.get("series"),
                since=query.get("since"),
                until=query.get("until"),
            )
        )


async def usage_summary(
    store: Store,
    *,
    group: str | None = None,
    series: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """The answer of ``GET /api/usage`` for its parameters as text (absent
    or empty: the default); BadRequest naming a wrong one."""
    grouped = _dimension("group", group) or "provider"
    stacked = _dimension("series", series)
    if stacked == grouped:
        raise BadRequest("'series' must differ from 'group'")
    now = time.time()
    start, end = period_of(since, until, now - DEFAULT_PERIOD, now)
    rows, totals = await store.usage(grouped, stacked, start, end)
    return {
        "group": grouped,
        "series": stacked,
        "since": start,
        "until": end,
        "rows": rows,
        "totals": totals,
    }


def _dimension(name: str, text: str | None) -> str | None:
    if not text:
        return None
    if text not in USAGE_DIMENSIONS:
        raise BadRequest(f"'{name}' must be one of {', '.join(USAGE_DIMENSIONS)}")
    return text

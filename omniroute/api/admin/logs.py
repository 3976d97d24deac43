"""``/api/logs/requests``: the request log, newest first, filtered.

GET /api/logs/requests?limit=&before=&status=&model=&provider=&key=&since=&until=
    status: 2xx, 4xx, 5xx (any class) or an exact code; model: as requested
    or as resolved; key: a client key id; since/until: unix seconds (since
    may also be 24h, 7d, 30d).  ``before`` pages back: give the
    ``next_before`` of the previous answer (null when there is nothing older).
GET /api/logs/requests/{id}   one row; with ``capture`` (its redacted request
                              and response bodies) while the debug capture
                              (request-log.capture-bodies) holds them
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from omniroute.api.admin.access import ADMIN_TOKEN, Guards
from omniroute.api.admin.manage import path_id
from omniroute.api.admin.params import period, whole
from omniroute.errors import BadRequest, NotFound
from omniroute.gateway.capture import BodyCapture
from omniroute.http.message import Request, Response
from omniroute.http.routing import Router
from omniroute.store import Store
from omniroute.store.request_log import LoggedRequest, RequestFilter

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_STATUS = re.compile(r"([1-5])xx|([1-5]\d\d)")
_TEXT_MAX = 500  # a model or provider name longer than this matches nothing anyway


class LogRoutes:
    __slots__ = ("_store", "_capture")

    def __init__(self, store: Store, capture: BodyCapture | None = None) -> None:
        self._store = store
        self._capture = capture

    def install(self, router: Router, guards: Guards) -> None:
        read = guards.token_or_session
        router.add("GET", "/api/logs/requests", read(self.requests), label=ADMIN_TOKEN)
        router.add("GET", "/api/logs/requests/{id}", read(self.one), label=ADMIN_TOKEN)

    async def requests(self, request: Request) -> Response:
        wanted = request_filter(request)
        # One row more than asked tells whether an older page exists.
        found = await self._store.find_requests(dataclasses.replace(wanted, limit=wanted.limit + 1))
        page = found[: wanted.limit]
        more = len(found) > wanted.limit
        return Response.json(
            {
                "requests": [logged_json(r) for r in page],
                "next_before": page[-1].id if more else None,
            }
        )

    async def one(self, request: Request) -> Response:
        row_id = path_id(request)
        found = await self._store.find_request(row_id)
        if found is None:
            raise NotFound(f"no logged request with id {row_id}")
        shown = logged_json(found)
        captured = self._capture.get(found.row.request_id) if self._capture else None
        if captured is not None:
            shown["capture"] = captured
        return Response.json(shown)


def request_filter(request: Request) -> RequestFilter:
    since, until = period(request, 0.0, float("inf"))
    return RequestFilter(
        limit=whole(request, "limit", 1, MAX_LIMIT) or DEFAULT_LIMIT,
        before=whole(request, "before", 1, 2**62),
        status=status_range(request.query.get("status")),
        model=_text(request, "model"),
        provider=_text(request, "provider"),
        key_id=whole(request, "key", 1, 2**62),
        since=since,
        until=until,
    )


def status_range(text: str | None) -> tuple[int, int]:
    """2xx, 4xx... or one code as an inclusive range; nothing: any."""
    if not text:
        return (0, 999)
    found = _STATUS.fullmatch(text)
    if found is None:
        raise BadRequest("'status' must be 2xx, 4xx, 5xx (any class 1xx-5xx) or a status code")
    if found[1]:
        low = int(found[1]) * 100
        return (low, low + 99)
    return (int(found[2]), int(found[2]))


def _text(request: Request, name: str) -> str | None:
    text = request.query.get(name)
    if text and len(text) > _TEXT_MAX:
        raise BadRequest(f"'{name}' is longer than {_TEXT_MAX} characters")
    return text or None


def logged_json(found: LoggedRequest) -> dict[str, Any]:
    return {"id": found.id, **dataclasses.asdict(found.row), "key_name": found.key_name}

"""``POST /api/translate``: the translator playground. A request body in one
wire format, read into the gateway's own form and written out in another,
exactly as a request crossing formats would be:

    {"from": "openai", "to": "anthropic", "body": {…}}  ->  {"body": {…}}

Formats: openai, openai-responses, anthropic, gemini (a Gemini body names
no model: its model goes in the URL).
"""

from __future__ import annotations

from typing import Any

from omniroute.api.admin.access import ADMIN_SESSION, Guards
from omniroute.api.admin.manage import body_of
from omniroute.api.bodies import field
from omniroute.errors import BadRequest
from omniroute.formats.wire import WIRE_FORMATS, wire_format
from omniroute.http.message import Request, Response
from omniroute.http.routing import Router


class TranslateRoutes:
    __slots__ = ()

    def install(self, router: Router, guards: Guards) -> None:
        router.add("POST", "/api/translate", guards.session(self.translate), label=ADMIN_SESSION)

    async def translate(self, request: Request) -> Response:
        given = body_of(request, ("from", "to", "body"))
        source, target = _format(given, "from"), _format(given, "to")
        body: dict[str, Any] = field(given, "body", dict)
        try:
            parsed = wire_format(source).parse_request(body)
        except BadRequest as exc:
            raise BadRequest(f"'body' is not a valid {source} request: {exc.message}") from None
        return Response.json({"body": wire_format(target).render_request(parsed)})


def _format(body: dict[str, Any], name: str) -> str:
    value = field(body, name, str)
    if value not in WIRE_FORMATS:
        raise BadRequest(f"'{name}' must be one of: {', '.join(WIRE_FORMATS)}")
    return str(value)

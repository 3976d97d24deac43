"""Errors told to a client in its own API dialect: the OpenAI error object,
Anthropic's ``{"type": "error", ...}`` or Gemini's ``{"error": {code,
message, status}}``, with the right status and ``Retry-After`` when known."""

from __future__ import annotations

import math

from omniroute.errors import MethodNotAllowed, OmniError
from omniroute.formats import ir
from omniroute.formats.wire import wire_format
from omniroute.http.message import Response

MANAGEMENT = "management"  # the management API's own shape: {"error": {"message", "kind"}}


def dialect_for_path(path: str) -> str:
    """The dialect a caller expects for errors, from the endpoint it called."""
    if path.startswith("/api/") or path == "/mcp":
        return MANAGEMENT
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith("/v1beta/") or (path.startswith("/v1/models/") and ":" in path):
        return "gemini"
    return "openai"


def error_response(dialect: str, err: OmniError) -> Response:
    if dialect == MANAGEMENT:
        body: dict[str, object] = {"error": {"message": err.message, "kind": err.kind}}
    else:
        info = ir.ErrorInfo(err.status, err.kind, err.message, err.retry_after)
        body = wire_format(dialect).render_error(info)
    headers: list[tuple[str, str]] = []
    if err.retry_after is not None:
        # Rounded up: a client that waits exactly this long must not be early.
        headers.append(("retry-after", str(max(0, math.ceil(err.retry_after)))))
    if isinstance(err, MethodNotAllowed) and err.allow:
        headers.append(("allow", ", ".join(err.allow)))
    return Response.json(body, status=err.status, headers=headers)

"""HTTP/1.1 server: h11 behind a sans-IO protocol on asyncio transports. Knows no LLMs."""

from __future__ import annotations

from omniroute.http.message import (
    ErrorFactory,
    Handler,
    Headers,
    Request,
    Response,
    StreamResponse,
    default_error_factory,
    escape_for_log,
)
from omniroute.http.routing import Router
from omniroute.http.server import Server
from omniroute.http.static import StaticFiles

__all__ = [
    "ErrorFactory",
    "Handler",
    "Headers",
    "Request",
    "Response",
    "Server",
    "StaticFiles",
    "StreamResponse",
    "Router",
    "default_error_factory",
    "escape_for_log",
]

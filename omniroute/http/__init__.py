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
from omniroute.http.sse import SSEDecoder, SSEEvent, encode_sse
from omniroute.http.static import StaticFiles

__all__ = [
    "ErrorFactory",
    "Handler",
    "Headers",
    "Request",
    "Response",
    "SSEDecoder",
    "SSEEvent",
    "Server",
    "StaticFiles",
    "StreamResponse",
    "Router",
    "default_error_factory",
    "encode_sse",
    "escape_for_log",
]

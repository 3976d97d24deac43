"""Response heads as bytes, and error answers built by the error factory.

The server writes response heads itself rather than through h11's writer:
h11 rebuilds and re-validates every header of every response (two regular
expressions each), which for the gateway cost more than parsing the request.
Here a head is assembled in one pass and checked in one pass
(``wire_headers.check_block``): the same rules, names are RFC 9110 tokens
and values hold no control characters but tab. Framing headers
(Content-Length, Transfer-Encoding, Connection) are the server's alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from http import HTTPStatus
from types import MappingProxyType

from omniroute import errors
from omniroute.http.message import (
    ErrorFactory,
    Request,
    Response,
    default_error_factory,
    escape_for_log,
)
from omniroute.http.wire_headers import check_block

__all__ = [
    "DateCache",
    "InvalidResponse",
    "build_head",
    "describe",
    "error_response",
    "http_date",
]

_log = logging.getLogger("omniroute.http")

# Framing belongs to the server, never to a handler.
_OWN_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
_STATUS_LINES: Mapping[int, bytes] = MappingProxyType(
    {s.value: b"HTTP/1.1 %d %s\r\n" % (s.value, s.phrase.encode("ascii")) for s in HTTPStatus}
)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class InvalidResponse(ValueError):
    """A handler's response cannot be written as it is (bad status or header)."""


def http_date(seconds: float) -> bytes:
    """IMF-fixdate (RFC 9110 section 5.6.7), e.g. ``Sun, 06 Nov 1994 08:49:37 GMT``;
    English names whatever the locale."""
    t = time.gmtime(seconds)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    ).encode("ascii")


class DateCache:
    """The Date header line (RFC 9110 section 6.6.1), formatted once a second."""

    __slots__ = ("_line", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._line = b""

    def line(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._line = b"date: " + http_date(now) + b"\r\n"
        return self._line


def build_head(
    status: int,
    headers: list[tuple[str, str]],
    date: bytes,
    *,
    length: int | None,
    chunked: bool,
    close: bool,
) -> bytes:
    """A response head: status line, the handler's headers (less framing
    ones), ``date`` (a whole header line), then the framing headers.

    Raises InvalidResponse when the status or a header cannot be sent.
    """
    line = _STATUS_LINES.get(status)
    if line is None:
        # A final response has a three-digit status of at least 200 (RFC 9110
        # section 15); an unknown one goes out with an empty reason phrase.
        if not 200 <= status <= 999:
            raise InvalidResponse(f"status {status!r} cannot be sent")
        line = b"HTTP/1.1 %d \r\n" % status
    elif status < 200:
        raise InvalidResponse(f"status {status} is not a final response")
    lines = [f"{name}: {value}\r\n" for name, value in headers if name.lower() not in _OWN_HEADERS]
    try:
        block = "".join(lines).encode("latin-1")
    except UnicodeEncodeError:
        raise InvalidResponse("a header is not latin-1 text") from None
    if not check_block(block, len(lines)):
        raise InvalidResponse("a header name or value is not allowed")
    framing = b""
    if length is not None:
        framing = b"content-length: %d\r\n" % length
    elif chunked:
        framing = b"transfer-encoding: chunked\r\n"
    if close:
        framing += b"connection: close\r\n"
    return b"".join((line, block, date, framing, b"\r\n"))


def error_response(
    factory: ErrorFactory,
    status: int,
    message: str,
    request: Request | None,
    exc: Exception | None = None,
) -> Response:
    """The error factory's answer, with Allow (405) and Retry-After added
    from ``exc`` when the factory left them out."""
    try:
        response = factory(status, message, request)
    except Exception:
        _log.exception("error factory failed")
        response = default_error_factory(status, message, request)
    if isinstance(exc, errors.OmniError):
        names = {name.lower() for name, _ in response.headers}
        if isinstance(exc, errors.MethodNotAllowed) and exc.allow and "allow" not in names:
            response.headers.append(("allow", ", ".join(exc.allow)))
        if exc.retry_after is not None and "retry-after" not in names:
            response.headers.append(("retry-after", str(max(0, round(exc.retry_after)))))
    return response


def describe(request: Request) -> str:
    """Method and path of a request, safe for a log line (no query, no headers)."""
    return f"{escape_for_log(request.method, 20)} {escape_for_log(request.raw_path)}"

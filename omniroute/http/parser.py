"""h11 as the request parser, one request head at a time, and what a head
means to the server (:func:`read_head`).

The protocol hands h11 exactly one whole request head and reads the body
itself (Content-Length) or through an ``h11.Connection`` (chunked). For the
head it needs h11's parse (request line, header syntax, Host, Content-Length
and Transfer-Encoding rules) but not the connection state machine around it,
which cost as much as the parse and is thrown away with the connection. So
the head goes straight to h11's request reader; should a later h11 not have
it where 0.16 does, the same parse runs through the public API instead
(``tests/http/test_parser.py`` checks both agree).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

import h11

from omniroute.http.framing import Rejection, transfer_coding_status
from omniroute.http.message import Headers, Request

__all__ = [
    "KNOWN_METHODS",
    "RequestHead",
    "body_reader",
    "parse_head",
    "parse_head_public",
    "read_head",
]

# Methods are case-sensitive (RFC 9110 section 9.1); any other is answered
# 501 (section 15.6.2). CONNECT is known but refused with 400.
KNOWN_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_FRAMING_HEADERS: Final = frozenset({"content-length", "transfer-encoding", "connection"})
_H11_MESSAGES: Final[Mapping[int, str]] = MappingProxyType(
    {
        400: "malformed HTTP request",
        431: "request header fields too large",
        501: "unsupported transfer encoding",
    }
)


def parse_head_public(head: bytes) -> h11.Request:
    """Parse one whole request head with h11's public API; raises h11.ProtocolError."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=len(head) + 1)
    conn.receive_data(head)
    event = conn.next_event()
    if type(event) is not h11.Request or conn.trailing_data[0]:
        raise h11.RemoteProtocolError("malformed HTTP request")
    return event


def _direct_parser() -> Callable[[bytes], h11.Request] | None:
    try:
        from h11._readers import maybe_read_from_IDLE_client
        from h11._receivebuffer import ReceiveBuffer
    except ImportError:  # pragma: no cover - depends on the installed h11
        return None

    def parse(head: bytes) -> h11.Request:
        buffer = ReceiveBuffer()
        buffer += head
        event = maybe_read_from_IDLE_client(buffer)
        if event is None or buffer:
            raise h11.RemoteProtocolError("malformed HTTP request")
        return event

    return parse


parse_head: Callable[[bytes], h11.Request] = _direct_parser() or parse_head_public


def body_reader(head: bytes, limit: int) -> h11.Connection:
    """An h11 connection that has read ``head`` (already parsed once, so
    known good) and now reads its chunked body; ``limit`` bounds what it
    buffers (chunk lines, the trailer section)."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=limit)
    conn.receive_data(head)
    event = conn.next_event()
    if type(event) is not h11.Request:
        raise h11.RemoteProtocolError("malformed HTTP request")
    return conn


class RequestHead:
    """A parsed request head: the Request (body still empty) and its framing."""

    __slots__ = ("chunked", "expect_continue", "keep_alive", "length", "request")

    def __init__(
        self,
        request: Request,
        length: int,
        chunked: bool,
        keep_alive: bool,
        expect_continue: bool,
    ) -> None:
        self.request = request
        self.length = length  # Content-Length, 0 without one
        self.chunked = chunked
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue


def read_head(head: bytes, client: tuple[str, int] | None) -> RequestHead:
    """Parse one whole request head and check what h11 leaves to us;
    raises Rejection."""
    try:
        event = parse_head(head)
    except h11.ProtocolError as exc:
        status = exc.error_status_hint
        if status == 501:  # h11's answer to any Transfer-Encoding it refuses
            status = transfer_coding_status(head)
        raise Rejection(status, _H11_MESSAGES.get(status, "malformed HTTP request"))
    method = event.method.decode("ascii")  # h11 checked: a token
    target = event.target.decode("ascii")  # h11 checked: visible ASCII
    version = event.http_version
    items: list[tuple[str, str]] = []
    length: int | None = None
    chunked = False
    close = version < b"1.1"  # HTTP/1.0 has no keep-alive here (RFC 9112 section 9.3)
    expect_continue = False
    for raw_name, raw_value in event.headers.raw_items():
        name = raw_name.lower().decode("ascii")
        value = raw_value.decode("latin-1")  # obs-text is latin-1 (RFC 9110 section 5.5)
        items.append((name, value))
        if name in _FRAMING_HEADERS:
            if name == "content-length":
                length = int(raw_value)  # h11 checked: digits, one value
            elif name == "transfer-encoding":
                chunked = True  # h11 checked: exactly "chunked"
            elif _has_token(value, "close"):
                close = True
        elif name == "expect" and _has_token(value, "100-continue"):
            # RFC 9110 section 10.1.1; HTTP/1.0 clients do not wait for it.
            expect_continue = version >= b"1.1"
    request = Request(
        method,
        target,
        Headers.from_lowered(items),
        client=client,
        http_version=version.decode("ascii"),
    )
    if method == "CONNECT":
        raise Rejection(400, "CONNECT is not supported", request)
    if method not in KNOWN_METHODS:
        raise Rejection(501, "request method not implemented", request)
    # Only origin-form (RFC 9112 section 3.2.1) is served: absolute-form and
    # authority-form are for proxies, and accepting them invites confusion
    # about which host a request is for.
    if not target.startswith("/") and not (target == "*" and method == "OPTIONS"):
        raise Rejection(400, "request target must be an absolute path", request)
    # Both framings at once is the classic smuggling vector (RFC 9112 section
    # 6.1): refuse instead of guessing which one a proxy used.
    if chunked and length is not None:
        raise Rejection(400, "Transfer-Encoding and Content-Length together", request)
    return RequestHead(request, length or 0, chunked, not close, expect_continue)


def _has_token(value: str, token: str) -> bool:
    """Whether a comma-separated header value lists ``token`` (case-insensitive)."""
    return any(item.strip().lower() == token for item in value.split(","))

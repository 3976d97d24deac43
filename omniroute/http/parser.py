"""h11 as the request parser, one request head at a time.

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

from collections.abc import Callable

import h11

__all__ = ["body_reader", "parse_head", "parse_head_public"]


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

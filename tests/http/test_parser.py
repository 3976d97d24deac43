"""h11's request reader, called directly, must parse exactly as h11's public API does."""

from __future__ import annotations

import h11
import pytest

from omniroute.http.parser import body_reader, parse_head, parse_head_public

HEADS = [
    b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /a%20b?x=1 HTTP/1.0\r\n\r\n",
    b"POST /v1/chat HTTP/1.1\r\nHost: t\r\nContent-Length: 12\r\nX-A: caf\xe9\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 5\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: Chunked\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n\r\n",
    b"get /lower HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: t\r\nX-Empty:\r\nX-Spaces:   padded   \r\n\r\n",
    # refused by h11
    b"GET / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET  / HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: t\r\nBad Name: v\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n",
    b"\x16\x03\x01 hello\r\n\r\n",
    b"\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\n",  # more than one head
]


def _outcome(parse: object, head: bytes) -> object:
    assert callable(parse)
    try:
        event = parse(head)
    except h11.ProtocolError as exc:
        return ("refused", exc.error_status_hint)
    assert isinstance(event, h11.Request)
    return (event.method, event.target, event.http_version, list(event.headers.raw_items()))


@pytest.mark.parametrize("head", HEADS)
def test_direct_parse_matches_the_public_api(head: bytes) -> None:
    assert _outcome(parse_head, head) == _outcome(parse_head_public, head)


def test_the_direct_reader_is_in_use() -> None:
    # If h11 moved its reader, the public API takes over: slower, still correct.
    assert parse_head is not parse_head_public


def test_body_reader_reads_a_chunked_body() -> None:
    conn = body_reader(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n", 1024)
    conn.receive_data(b"3\r\nabc\r\n0\r\n\r\n")
    data = conn.next_event()
    assert isinstance(data, h11.Data) and data.data == b"abc"
    assert isinstance(conn.next_event(), h11.EndOfMessage)

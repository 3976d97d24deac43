"""The upstream response parser, from raw bytes (no sockets)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omniroute.upstream.http11 import (
    END,
    NEED_DATA,
    Head,
    ProtocolError,
    ResponseParser,
    request_head,
)

LIMIT = 64 * 1024


def parse(
    *pieces: bytes, eof: bool = False, head_request: bool = False
) -> tuple[ResponseParser, Head | None, bytes, bool]:
    """Feed the pieces one by one, draining events after each; returns the
    parser, the head, the body and whether END was seen."""
    parser = ResponseParser(max_head=LIMIT, head_request=head_request)
    head: Head | None = None
    body = bytearray()
    ended = False
    feeds = [*pieces, b""] if eof else list(pieces)
    for piece in feeds:
        parser.feed(piece)
        while not ended:
            event = parser.next_event()
            if event is NEED_DATA:
                break
            if event is END:
                ended = True
            elif isinstance(event, Head):
                head = event
            else:
                assert isinstance(event, bytes) and event
                body += event
    return parser, head, bytes(body), ended


def test_content_length_body_and_reuse() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhello"
    parser, head, body, ended = parse(raw)
    assert head == Head(200, "OK", [("content-type", "application/json"), ("content-length", "5")])
    assert (body, ended, parser.reusable) == (b"hello", True, True)


def test_chunked_body_with_extensions_and_trailers() -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: yes\r\n\r\n"
    )
    parser, _, body, ended = parse(raw)
    assert (body, ended, parser.reusable) == (b"hello world", True, True)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=30))
def test_any_split_gives_the_same_result(cuts: list[int]) -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nServer: x\r\n\r\n"
        b"a\r\n0123456789\r\n3\r\nabc\r\n0\r\n\r\n"
    )
    pieces, at = [], 0
    for cut in cuts:
        if at >= len(raw):
            break
        pieces.append(raw[at : at + cut])
        at += cut
    if at < len(raw):
        pieces.append(raw[at:])
    parser, head, body, ended = parse(*pieces)
    assert head is not None and head.status == 200
    assert (body, ended, parser.reusable) == (b"0123456789abc", True, True)


def test_close_delimited_body_ends_at_eof_and_is_not_reused() -> None:
    parser, _, body, ended = parse(b"HTTP/1.1 200 OK\r\n\r\nsome ", b"text", eof=True)
    assert (body, ended, parser.reusable) == (b"some text", True, False)


def test_interim_responses_are_skipped() -> None:
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    raw += b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
    _, head, body, ended = parse(raw)
    assert head is not None and head.status == 201 and (body, ended) == (b"", True)


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses(status: int) -> None:
    raw = b"HTTP/1.1 %d X\r\nContent-Length: 10\r\n\r\n" % status
    parser, _, body, ended = parse(raw)
    assert (body, ended, parser.reusable) == (b"", True, True)


def test_a_head_request_has_no_body() -> None:
    parser, _, body, ended = parse(
        b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", head_request=True
    )
    assert (body, ended, parser.reusable) == (b"", True, True)


@pytest.mark.parametrize(
    ("headers", "reusable"),
    [
        (b"Connection: close\r\n", False),
        (b"Connection: keep-alive, Close\r\n", False),
        (b"", True),
    ],
)
def test_connection_close_stops_reuse(headers: bytes, reusable: bool) -> None:
    raw = b"HTTP/1.1 200 OK\r\n" + headers + b"Content-Length: 2\r\n\r\nok"
    assert parse(raw)[0].reusable is reusable


def test_http_10_is_reused_only_when_asked() -> None:
    plain = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
    kept = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"
    assert parse(plain)[0].reusable is False
    assert parse(kept)[0].reusable is True


def test_bytes_beyond_the_response_stop_reuse() -> None:
    parser, _, body, ended = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 408")
    assert (body, ended, parser.reusable) == (b"ok", True, False)


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nName : value\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;a\rb\r\nabc\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    ],
)
def test_malformed_responses_are_refused_without_quoting_them(raw: bytes) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse(raw)
    assert raw.decode("latin-1") not in str(caught.value)


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        b"HTTP/1.1 200 OK\r\nContent-",
        b"",
    ],
)
def test_an_early_close_is_an_error(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse(raw, eof=True)


def test_a_head_larger_than_the_limit_is_refused_whole_or_in_pieces() -> None:
    big = b"HTTP/1.1 200 OK\r\nX: " + b"a" * LIMIT + b"\r\n\r\n"
    with pytest.raises(ProtocolError, match="too large"):
        parse(big)
    with pytest.raises(ProtocolError, match="too large"):
        parse(big[: LIMIT // 2], big[LIMIT // 2 : -4])


def test_request_head() -> None:
    head = request_head("POST", "/v1/x?y=1", [(b"Host", b"h"), (b"Content-Length", b"2")])
    assert head == b"POST /v1/x?y=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n"

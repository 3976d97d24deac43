"""The byte scanners that run before h11: request heads and chunked bodies."""

from __future__ import annotations

import pytest

from omniroute.http.framing import (
    MAX_CHUNK_LINE,
    ChunkScanner,
    HeadScanner,
    Rejection,
    transfer_coding_status,
)

HEAD = b"GET / HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n\r\n"


def test_head_found_whole_and_byte_by_byte() -> None:
    assert HeadScanner(1024).scan(HEAD + b"next") == len(HEAD)
    scanner = HeadScanner(1024)
    buffer = bytearray()
    for byte in HEAD[:-1]:
        buffer.append(byte)
        assert scanner.scan(buffer) == -1
    buffer.append(HEAD[-1])
    assert scanner.scan(buffer) == len(HEAD)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"GET / HTTP/1.1\nHost: t\r\n\r\n", "bare LF"),
        (b"GET / HTTP/1.1\r\nHost: t\n\n", "bare LF"),
        (b"GET / HTTP/1.1\r\nHost: t\r\n folded\r\n\r\n", "folding"),
        (b"GET / HTTP/1.1\r\nHost: t\r\n\tfolded\r\n\r\n", "folding"),
    ],
)
@pytest.mark.parametrize("trickle", [False, True])
def test_bad_line_ends_are_refused(data: bytes, reason: str, trickle: bool) -> None:
    scanner = HeadScanner(1024)
    with pytest.raises(Rejection) as refused:
        if trickle:
            for end in range(1, len(data) + 1):
                scanner.scan(data[:end])
        else:
            scanner.scan(data)
    assert refused.value.status == 400 and reason in refused.value.message


def test_head_limit_counts_the_blank_line() -> None:
    assert HeadScanner(len(HEAD)).scan(HEAD + b"body") == len(HEAD)
    with pytest.raises(Rejection) as refused:
        HeadScanner(len(HEAD) - 1).scan(HEAD)
    assert refused.value.status == 431
    scanner = HeadScanner(len(HEAD) - 1)
    assert scanner.scan(HEAD[:20]) == -1
    with pytest.raises(Rejection):
        scanner.scan(HEAD[:-1])  # cannot end within the limit any more


BODY = b"5;name=value\r\nhello\r\n10\r\n" + b"x" * 16 + b"\r\n0\r\nX-Trailer: t\r\n\r\n"


def test_chunk_scanner_finds_the_end_however_the_body_is_split() -> None:
    for cut in range(len(BODY) + 1):
        scanner = ChunkScanner(max_body=1024, max_trailer=1024)
        first = scanner.scan(BODY[:cut] if cut else b"")
        assert not scanner.done or cut == len(BODY)
        rest = BODY[first:] + b"GET / HTTP/1.1\r\n"
        taken = scanner.scan(rest)
        assert scanner.done, cut
        assert first + taken == len(BODY), cut


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"3d;a\rb\r\n", 400),  # bare CR in an extension
        (b"3\r\rabc", 400),  # bare CR in the size line
        (b"3\nabc", 400),  # bare LF
        (b"3 \r\nabc\r\n0\r\n\r\n", None),  # trailing whitespace, as h11 allows
        (b"\r\n", 400),  # no size
        (b"g\r\n", 400),
        (b"11111111111111111\r\n", 400),  # more than 16 hex digits
        (b"3\r\nabcd\r\n", 400),  # data longer than its size
        (b"0\r\nX: a\rb\r\n\r\n", 400),  # bare CR in a trailer
        (b"0\r\nX: a\r\n folded\r\n\r\n", 400),
        (b"65\r\n", 413),  # 101 bytes announced, 100 allowed
        (b"0\r\nX: " + b"t" * 200 + b"\r\n\r\n", 431),
        (b"1;" + b"e" * MAX_CHUNK_LINE + b"\r\n", 400),
        (b"1;" + b"e" * MAX_CHUNK_LINE, 400),  # too long before its end arrives
    ],
)
def test_chunk_scanner_refusals(body: bytes, status: int | None) -> None:
    scanner = ChunkScanner(max_body=100, max_trailer=128)
    if status is None:
        assert scanner.scan(body) == len(body) and scanner.done
        return
    with pytest.raises(Rejection) as refused:
        scanner.scan(body)
    assert refused.value.status == status


def test_chunk_scanner_waits_for_a_whole_line() -> None:
    scanner = ChunkScanner(max_body=100, max_trailer=128)
    assert scanner.scan(b"3;ext") == 0
    assert scanner.scan(b"3;ext\r") == 0
    assert scanner.scan(b"3;ext\r\nab") == 9
    assert scanner.scan(b"c\r") == 1  # the data; the CRLF after it is not complete
    assert scanner.scan(b"\r\n0\r\n\r\n") == 7 and scanner.done


@pytest.mark.parametrize(
    ("lines", "status"),
    [
        ([b"Transfer-Encoding: chunked, identity"], 400),
        ([b"Transfer-Encoding: identity"], 400),
        ([b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"], 400),
        ([b"Transfer-Encoding: chunked", b"transfer-encoding: identity"], 400),
        ([b"Transfer-Encoding: xchunked"], 400),
        ([b'Transfer-Encoding: "chunked"'], 400),
        ([b"Transfer-Encoding: gzip, chunked", b"Content-Length: 3"], 400),
        ([b"Transfer-Encoding: gzip, chunked"], 501),
        ([b"Transfer-Encoding: gzip", b"Transfer-Encoding: CHUNKED"], 501),
    ],
)
def test_transfer_coding_status(lines: list[bytes], status: int) -> None:
    head = b"\r\n".join([b"POST / HTTP/1.1", b"Host: t", *lines]) + b"\r\n\r\n"
    assert transfer_coding_status(head) == status

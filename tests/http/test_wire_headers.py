from __future__ import annotations

import h11
import pytest

from omniroute.http import wire_headers


def test_good_headers_pass() -> None:
    wire_headers.check([])
    wire_headers.check([(b"content-type", b"application/json"), (b"X-A_b.c~1", b"v\twith tab")])


@pytest.mark.parametrize(
    "headers",
    [
        [(b"bad name", b"v")],
        [(b"", b"v")],
        [(b"a\nb", b"v")],  # a line break must not pass as two names
        [(b"ok", b"v"), (b"x:y", b"v")],
        [(b"x", b"line\r\nInjected: 1")],
        [(b"x", b"nul\x00")],
        [(b"x", b"del\x7f")],
    ],
)
def test_bad_headers_are_refused(headers: list[tuple[bytes, bytes]]) -> None:
    with pytest.raises(h11.LocalProtocolError):
        wire_headers.check(headers)


def test_header_blocks() -> None:
    assert wire_headers.check_block(b"", 0)
    assert wire_headers.check_block(b"content-type: text/plain\r\nX-A_b.c~1: v\twith tab\r\n", 2)
    assert wire_headers.check_block(b"x-empty: \r\n", 1)
    for block, lines in [
        (b"x: a\r\nInjected: yes\r\n", 1),  # a CRLF inside a value
        (b"bad name: v\r\n", 1),
        (b": v\r\n", 1),
        (b"x:v\r\n", 1),
        (b"x: a\nb\r\n", 1),
        (b"x: a\rb\r\n", 1),
        (b"x: nul\x00\r\n", 1),
        (b"x: del\x7f\r\n", 1),
        (b"x: v\n", 1),
        (b"x: v", 1),
    ]:
        assert not wire_headers.check_block(block, lines), block


def test_http_date_matches_the_standard_library() -> None:
    from email.utils import formatdate

    from omniroute.http.answers import http_date

    for seconds in (0, 784111777, 1_700_000_000, 1_795_000_000):
        assert http_date(seconds) == formatdate(seconds, usegmt=True).encode("ascii")

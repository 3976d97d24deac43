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


def test_http_date_matches_the_standard_library() -> None:
    from email.utils import formatdate

    from omniroute.http.answers import http_date

    for seconds in (0, 784111777, 1_700_000_000, 1_795_000_000):
        assert http_date(seconds) == formatdate(seconds, usegmt=True).encode("ascii")

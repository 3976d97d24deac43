"""Cheap checks for header blocks we build ourselves.

h11 validates every header of every outgoing message with two regular
expressions per header; for the gateway, which writes a response and an
upstream request per call, that was the largest single cost after the
socket calls. Headers we build are checked here in one pass over the whole
block (same rules: names are RFC 9110 tokens, values hold no control
characters but tab): ``check`` for a message then handed to h11 as already
validated (the upstream client's requests), ``check_block`` for a head the
server writes itself (its responses).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import h11

_TOKEN_LIST = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:\n[!#$%&'*+\-.^_`|~0-9A-Za-z]+)*")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def check(headers: Sequence[tuple[bytes, bytes]]) -> None:
    """Raise h11.LocalProtocolError if a name or value is not allowed."""
    if not headers:
        return
    names = b"\n".join(name for name, _ in headers)
    if _TOKEN_LIST.fullmatch(names) is None or names.count(b"\n") != len(headers) - 1:
        raise h11.LocalProtocolError("Illegal header name")
    if _BAD_VALUE.search(b"\t".join(value for _, value in headers)) is not None:
        raise h11.LocalProtocolError("Illegal header value")


# One "name: value" line per header, each ending in CRLF; a value holds no
# CR or LF, so a CRLF inside a value shows up as one line too many.
_BLOCK = re.compile(rb"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+: [^\x00-\x08\x0a-\x1f\x7f]*\r\n)*")


def check_block(block: bytes, lines: int) -> bool:
    """Whether ``block`` is exactly ``lines`` valid header lines."""
    return _BLOCK.fullmatch(block) is not None and block.count(b"\n") == lines

"""Byte-level checks of request framing that h11 is more lenient about.

h11 parses every request; these scanners look at the same bytes first and
refuse what h11 would accept but a proxy in front of us might read
differently (request smuggling, RFC 9112 section 11.2). They also tell the
protocol exactly where a request head and a chunked body end, so h11 is only
ever handed the bytes of the message it is parsing.
"""

from __future__ import annotations

import re

from omniroute.http.message import Request

__all__ = ["MAX_CHUNK_LINE", "ChunkScanner", "HeadScanner", "Rejection", "transfer_coding_status"]

# In a request head only CRLF ends a line (RFC 9112 section 2.2), and a line
# starting with SP/HTAB is obsolete folding (section 5.2): both are refused.
_BAD_HEAD = re.compile(rb"(?<!\r)\n|\r\n[ \t]")
# chunk-size [ chunk-ext ] (RFC 9112 section 7.1), with the bare CR and LF
# that h11's lenient ``;.*`` lets through refused; trailing OWS is tolerated
# as h11 tolerates it, so both read the same size from the same line.
_CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})(?:;[^\r\n]*)?[ \t]*")
# A chunk-size line carries a size and optional extensions; nothing sane
# needs more.
MAX_CHUNK_LINE = 4096


class Rejection(Exception):
    """The request is refused with ``status``; the connection then closes.

    ``request`` is the refused request once its head was read (the error
    factory may shape its answer after it)."""

    def __init__(self, status: int, message: str, request: Request | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.request = request


class HeadScanner:
    """Finds the end of a request head in a growing buffer.

    Refuses bare LF and obsolete folding, and a head (terminator included)
    larger than ``limit`` bytes, whether it trickles in or arrives in one
    piece (h11 only limits incomplete heads). Scanning resumes where it
    stopped, so a head sent a byte at a time costs linear time.
    """

    __slots__ = ("_limit", "_scanned")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._scanned = 0

    def reset(self) -> None:
        self._scanned = 0

    def scan(self, buffer: bytes | bytearray) -> int:
        """Length of the head at the start of ``buffer`` (with its blank line),
        or -1 while it is incomplete; raises Rejection."""
        start = max(0, self._scanned - 3)  # a terminator may straddle two reads
        limit = self._limit
        end = buffer.find(b"\r\n\r\n", start, limit)
        stop = min(len(buffer), limit) if end < 0 else end + 4
        # Counting is much cheaper than the expression; it settles the usual
        # case, a whole head in one read. The look-behind sees bytes before
        # ``start``, so a CRLF split across two reads is not a bare LF.
        if (
            start
            or buffer.count(b"\n", 0, stop) != buffer.count(b"\r\n", 0, stop)
            or buffer.find(b"\r\n ", 0, stop) >= 0
            or buffer.find(b"\r\n\t", 0, stop) >= 0
        ):
            bad = _BAD_HEAD.search(buffer, start, stop)
            if bad is not None:
                reason = "bare LF line ending" if bad.group() == b"\n" else "obsolete line folding"
                raise Rejection(400, f"invalid request head: {reason}")
        if end >= 0:
            self._scanned = 0
            return stop
        if len(buffer) >= limit:
            raise Rejection(431, "request header fields too large")
        self._scanned = stop
        return -1


# ChunkScanner states
_SIZE = 0  # expecting a chunk-size line
_DATA = 1  # inside chunk data
_DATA_END = 2  # expecting the CRLF after chunk data
_TRAILER = 3  # inside the trailer section
_DONE = 4


class ChunkScanner:
    """Follows a chunked body (RFC 9112 section 7.1) through a buffer.

    Every line (chunk sizes, extensions, trailer fields) must end in CRLF and
    hold no other CR or LF; a bare CR in an extension is read differently by
    different parsers. The data size is checked against ``max_body`` as it
    arrives, and the trailer section against ``max_trailer``.
    """

    __slots__ = ("_left", "_max_body", "_max_trailer", "_size", "_state", "_trailer")

    def __init__(self, max_body: int, max_trailer: int) -> None:
        self._max_body = max_body
        self._max_trailer = max_trailer
        self._state = _SIZE
        self._left = 0  # data bytes left in the current chunk
        self._size = 0  # data bytes so far
        self._trailer = 0  # trailer bytes so far

    @property
    def done(self) -> bool:
        return self._state == _DONE

    def scan(self, buffer: bytes | bytearray) -> int:
        """How many bytes at the start of ``buffer`` belong to the body (all
        of it once ``done``); raises Rejection."""
        pos = 0
        end = len(buffer)
        while pos < end and self._state != _DONE:
            state = self._state
            if state == _DATA:
                step = min(self._left, end - pos)
                self._left -= step
                pos += step
                if not self._left:
                    self._state = _DATA_END
            elif state == _DATA_END:
                if end - pos < 2:
                    if buffer[pos] != 0x0D:  # "\r"
                        raise Rejection(400, "malformed chunk: data not followed by CRLF")
                    break
                if buffer[pos : pos + 2] != b"\r\n":
                    raise Rejection(400, "malformed chunk: data not followed by CRLF")
                pos += 2
                self._state = _SIZE
            else:
                line_end = self._line_end(buffer, pos, end)
                if line_end < 0:
                    break
                line = buffer[pos : line_end - 2]
                length = line_end - pos
                pos = line_end
                if state == _SIZE:
                    self._size_line(line)
                else:
                    self._trailer_line(line, length)
        return pos

    def _line_end(self, buffer: bytes | bytearray, pos: int, end: int) -> int:
        """Index just past the CRLF ending the line at ``pos``, or -1 if the
        line is incomplete."""
        newline = buffer.find(b"\n", pos, end)
        bound = MAX_CHUNK_LINE if self._state == _SIZE else self._max_trailer - self._trailer
        if newline < 0:
            if end - pos > bound:
                self._too_long()
            if buffer.find(b"\r", pos, end - 1) >= 0:  # a CR that is not the line's end
                raise Rejection(400, "malformed chunked body: bare CR")
            return -1
        if newline - pos + 1 > bound:
            self._too_long()
        if newline == pos or buffer[newline - 1] != 0x0D:
            raise Rejection(400, "malformed chunked body: bare LF")
        if buffer.find(b"\r", pos, newline - 1) >= 0:
            raise Rejection(400, "malformed chunked body: bare CR")
        return newline + 1

    def _too_long(self) -> None:
        if self._state == _SIZE:
            raise Rejection(400, "malformed chunk: size line too long")
        raise Rejection(431, "request trailer fields too large")

    def _size_line(self, line: bytes | bytearray) -> None:
        found = _CHUNK_LINE.fullmatch(line)
        if found is None:
            raise Rejection(400, "malformed chunk: bad size line")
        size = int(found.group(1), 16)
        self._size += size
        if self._size > self._max_body:
            raise Rejection(413, f"request body is larger than {self._max_body} bytes")
        if size:
            self._left = size
            self._state = _DATA
        else:
            self._state = _TRAILER

    def _trailer_line(self, line: bytes | bytearray, length: int) -> None:
        if not line:
            self._state = _DONE
            return
        if line[0] in b" \t":
            raise Rejection(400, "malformed chunked body: obsolete line folding")
        self._trailer += length


def transfer_coding_status(head: bytes) -> int:
    """The status for a request whose Transfer-Encoding h11 refused.

    RFC 9112 section 6.3: unless chunked is the final coding (applied once),
    the body length cannot be determined and the answer is 400 with close;
    Content-Length alongside it is also 400 (section 6.1). Only a coding we
    do not implement before a final chunked is 501 (section 6.1).
    """
    codings: list[bytes] = []
    has_length = False
    for line in head.split(b"\r\n")[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            continue
        name = name.strip().lower()
        if name == b"content-length":
            has_length = True
        elif name == b"transfer-encoding":
            codings += [c.strip().lower() for c in value.split(b",") if c.strip()]
    if has_length or not codings or codings[-1] != b"chunked" or codings.count(b"chunked") > 1:
        return 400
    return 501

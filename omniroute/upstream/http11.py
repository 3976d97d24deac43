"""The client side of HTTP/1.1 for upstream calls: request bytes out, response
events in (RFC 9112). Sans-IO: no sockets here.

The upstream path used h11 for this; measured on the gateway's own traffic
its event machinery cost more CPU per request than everything else the
client does, for a protocol subset this small: we send one request at a
time, never pipeline, never upgrade, and read one response. The server side
(what clients send us) stays on h11.

    parser = ResponseParser(max_head=64 * 1024)
    parser.feed(data)              # b"" means the server closed the connection
    event = parser.next_event()    # Head | bytes | END | NEED_DATA

``Head`` is a response head (1xx interim responses are skipped); ``bytes``
are body data (never empty); ``END`` ends the body. Malformed input raises
``ProtocolError``, whose text never quotes the bytes (they may echo secrets).
A parser serves one response; ``reusable`` says whether the connection may
carry another request afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["END", "NEED_DATA", "Head", "ProtocolError", "ResponseParser", "request_head"]


class ProtocolError(Exception):
    """The response is not HTTP/1.1 we can read."""


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NEED_DATA: Final = _Marker("NEED_DATA")
END: Final = _Marker("END")


@dataclass(frozen=True, slots=True)
class Head:
    status: int
    reason: str
    headers: list[tuple[str, str]]  # names lower-cased, values as latin-1 text


_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9]{2})(?: ([^\r\n]*))?")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?")
_MAX_CHUNK_LINE = 4096

# Where the parser is.
_HEAD, _LENGTH, _CHUNK_LINE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _CLOSE, _DONE = range(8)


class ResponseParser:
    __slots__ = (
        "_buffer",
        "_state",
        "_left",
        "_eof",
        "_max_head",
        "_head_request",
        "_keep_alive",
        "head",
    )

    def __init__(self, *, max_head: int, head_request: bool = False) -> None:
        self._buffer = bytearray()
        self._state = _HEAD
        self._left = 0  # body bytes still due (length framing) or of this chunk
        self._eof = False
        self._max_head = max_head
        self._head_request = head_request
        self._keep_alive = True
        self.head: Head | None = None

    @property
    def done(self) -> bool:
        return self._state == _DONE

    @property
    def reusable(self) -> bool:
        """The response ended cleanly, the server keeps the connection open,
        and nothing arrived beyond this response's end."""
        return self._state == _DONE and self._keep_alive and not self._buffer and not self._eof

    def feed(self, data: bytes) -> None:
        if data:
            self._buffer += data
        else:
            self._eof = True

    def next_event(self) -> Head | bytes | _Marker:
        state = self._state
        if state == _HEAD:
            return self._read_head()
        if state == _LENGTH:
            return self._take(self._left, _DONE)
        if state == _CLOSE:
            if self._buffer:
                data = bytes(self._buffer)
                self._buffer.clear()
                return data
            if self._eof:
                self._state = _DONE
                return END
            return NEED_DATA
        if state == _DONE:
            return END
        return self._read_chunked()

    # -- head

    def _read_head(self) -> Head | _Marker:
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > self._max_head:
                    raise ProtocolError("the response head is too large")
                if self._eof:
                    raise ProtocolError("the connection closed before a response head")
                return NEED_DATA
            if end > self._max_head:
                raise ProtocolError("the response head is too large")
            block = bytes(self._buffer[:end])
            del self._buffer[: end + 4]
            head, version = _parse_head(block)
            if 100 <= head.status < 200:
                if head.status == 101:
                    raise ProtocolError("the upstream switched protocols")
                continue  # interim response (100 Continue, 103 Early Hints)
            self.head = head
            self._frame(head, version)
            return head

    def _frame(self, head: Head, version: int) -> None:
        """How the body is delimited (RFC 9112 section 6.3)."""
        connection = _tokens(head.headers, "connection")
        self._keep_alive = "close" not in connection and (
            version == 1 or "keep-alive" in connection
        )
        if self._head_request or head.status in (204, 304):
            self._state = _DONE
            return
        coding = _tokens(head.headers, "transfer-encoding")
        if coding:
            if coding[-1] != "chunked":
                self._state = _CLOSE
                self._keep_alive = False
                return
            self._state = _CHUNK_LINE
            return
        lengths = {v.strip() for k, v in head.headers if k == "content-length"}
        if not lengths:
            self._state = _CLOSE
            self._keep_alive = False
            return
        if len(lengths) != 1:
            raise ProtocolError("the response has conflicting Content-Length values")
        (length,) = lengths
        if not length.isdigit() or len(length) > 18:
            raise ProtocolError("the response has an invalid Content-Length")
        self._left = int(length)
        self._state = _LENGTH if self._left else _DONE

    # -- body

    def _take(self, count: int, after: int) -> bytes | _Marker:
        """Up to ``count`` (> 0) buffered body bytes; the state becomes
        ``after`` once all of them have come."""
        buffer = self._buffer
        if not buffer:
            if self._eof:
                raise ProtocolError("the connection closed in the middle of the body")
            return NEED_DATA
        if len(buffer) <= count:
            data = bytes(buffer)
            buffer.clear()
        else:
            data = bytes(buffer[:count])
            del buffer[:count]
        self._left = count - len(data)
        if self._left == 0:
            self._state = after
        return data

    def _read_chunked(self) -> bytes | _Marker:
        while True:
            state = self._state
            if state == _CHUNK_DATA:
                return self._take(self._left, _CHUNK_END)
            line = self._line()
            if line is None:
                return NEED_DATA
            if state == _CHUNK_END:
                if line:
                    raise ProtocolError("a chunk is longer than its declared size")
                self._state = _CHUNK_LINE
            elif state == _CHUNK_LINE:
                found = _CHUNK_SIZE.fullmatch(line)
                if found is None:
                    raise ProtocolError("the response has a malformed chunk size")
                self._left = int(found.group(1), 16)
                self._state = _CHUNK_DATA if self._left else _TRAILERS
            else:  # trailers, up to the empty line
                if not line:
                    self._state = _DONE
                    return END

    def _line(self) -> bytes | None:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) > _MAX_CHUNK_LINE:
                raise ProtocolError("a chunk line is too long")
            if self._eof:
                raise ProtocolError("the connection closed in the middle of the body")
            return None
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        if b"\r" in line or b"\n" in line:
            raise ProtocolError("a chunk line has a stray line break")
        return line


def _parse_head(block: bytes) -> tuple[Head, int]:
    lines = block.split(b"\r\n")
    status = _STATUS_LINE.fullmatch(lines[0])
    if status is None:
        raise ProtocolError("the response has a malformed status line")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or _TOKEN.fullmatch(name) is None:
            raise ProtocolError("the response has a malformed header line")
        value = value.strip(b" \t")
        if _BAD_VALUE.search(value) is not None:
            raise ProtocolError("the response has a header value with control characters")
        headers.append((name.decode("ascii").lower(), value.decode("latin-1")))
    reason = (status.group(3) or b"").decode("latin-1")
    return Head(int(status.group(2)), reason, headers), int(status.group(1))


def _tokens(headers: Sequence[tuple[str, str]], name: str) -> list[str]:
    """The comma-separated tokens of every ``name`` header, lower-cased."""
    out: list[str] = []
    for key, value in headers:
        if key == name:
            out.extend(t.strip().lower() for t in value.split(",") if t.strip())
    return out


def request_head(method: str, target: str, headers: Sequence[tuple[bytes, bytes]]) -> bytes:
    """The request line and header block (already checked by the caller)."""
    lines = [f"{method} {target} HTTP/1.1".encode("ascii")]
    lines.extend(name + b": " + value for name, value in headers)
    lines.append(b"\r\n")
    return b"\r\n".join(lines)

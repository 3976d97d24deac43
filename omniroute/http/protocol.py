"""The HTTP/1.1 rules of one server connection, without any I/O (RFC 9112).

:class:`HTTPConnection` takes the bytes a client sends (``receive_data``,
``receive_eof``) and a clock value from the caller, and gives out events
(``next_event``): a complete :class:`Request` for the handler, an interim
``100 Continue``, a refusal to write before the connection closes, or
"close now". Answers go the other way as bytes (``respond``, and
``start_stream``/``frame``/``end_stream`` for streamed bodies). It knows
nothing of sockets, tasks or timers: the caller asks for ``deadline`` and
calls ``next_event`` once it has passed.

h11 parses every request head and every chunked body. Around it:

- the head is scanned first (:mod:`omniroute.http.framing`): bare LF,
  obsolete folding and oversized heads are refused, and h11 is handed
  exactly one head (:mod:`omniroute.http.parser`), so bytes a pipelining
  client sends ahead stay here, counted (``buffered``, bounded by
  ``over_pipeline_cap``), until their turn;
- responses are written here (:mod:`omniroute.http.answers`), not by h11,
  so no h11 connection lives from one request to the next. This object
  keeps h11's rule for the cycle: the next request is read only once the
  previous one was read whole and its response written whole (both sides
  done), and only if both sides allow keep-alive (RFC 9112 section 9.3);
- Content-Length bodies are taken from the buffer directly (h11 has checked
  the header); chunked bodies go through h11 after the chunk scanner.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import Enum
from typing import Final

import h11

from omniroute.http.answers import (
    DateCache,
    InvalidResponse,
    build_head,
    describe,
    error_response,
)
from omniroute.http.framing import MAX_CHUNK_LINE, ChunkScanner, HeadScanner, Rejection
from omniroute.http.message import (
    ErrorFactory,
    Request,
    Response,
    default_error_factory,
    escape_for_log,
)
from omniroute.http.parser import body_reader, read_head
from omniroute.settings import Settings

__all__ = [
    "CLOSE",
    "NEED_DATA",
    "Config",
    "Event",
    "HTTPConnection",
    "Interim",
    "Rejected",
    "RequestReceived",
    "Signal",
]

_log = logging.getLogger("omniroute.http")

# After an error answer the client may still be sending; reading (and
# dropping) for a moment before closing keeps the kernel from answering with
# a reset that could destroy our response in flight (RFC 9112 section 9.6).
LINGER_SECONDS: Final = 1.0
LINGER_BYTES: Final = 1024 * 1024
_NO_BODY_STATUSES: Final = frozenset({204, 304})
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_LAST_CHUNK: Final = b"0\r\n\r\n"
# A body with a Content-Length above this is read into one buffer of its
# size, so an upload is held once (pieces joined at the end would be twice).
_ONE_BUFFER: Final = 1024 * 1024

# Phases of a connection
_IDLE: Final = 0  # between requests, nothing buffered
_HEAD: Final = 1  # reading a request head
_BODY: Final = 2  # reading a request body
_BUSY: Final = 3  # the request is with the handler, or its answer is being sent
_LINGER: Final = 4  # an error answer is out; input is read and dropped
_CLOSED: Final = 5


class Config:
    """What every connection of one server shares: limits, timeouts, the
    error factory and the Date header cache."""

    __slots__ = (
        "body_timeout",
        "dates",
        "error_factory",
        "header_timeout",
        "keepalive_timeout",
        "body_limit",
        "max_body_bytes",
        "max_header_bytes",
        "pipeline_buffer_bytes",
    )

    def __init__(
        self,
        settings: Settings,
        error_factory: ErrorFactory,
        body_limit: Callable[[Request], int | None] | None = None,
    ) -> None:
        # A route's own body cap (an upload route's is larger); None: the general one.
        self.body_limit = body_limit
        self.header_timeout = settings.header_timeout
        self.body_timeout = settings.body_timeout
        self.keepalive_timeout = settings.keepalive_timeout
        self.max_header_bytes = settings.max_header_bytes
        self.max_body_bytes = settings.max_body_bytes
        self.pipeline_buffer_bytes = settings.pipeline_buffer_bytes
        self.error_factory = error_factory
        self.dates = DateCache()


class RequestReceived:
    """A whole request (body included), ready for the handler."""

    __slots__ = ("request",)

    def __init__(self, request: Request) -> None:
        self.request = request


class Interim:
    """``100 Continue`` to write; then ask for the next event."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class Rejected:
    """An error answer to write, after which the client's sending side is
    read and dropped (the write side may be shut down) until ``CLOSE``."""

    __slots__ = ("data", "status")

    def __init__(self, data: bytes, status: int) -> None:
        self.data = data
        self.status = status


class Signal(Enum):
    NEED_DATA = "need data"  # wait for bytes, EOF or the deadline
    CLOSE = "close"  # close the connection once written bytes are out


NEED_DATA: Final = Signal.NEED_DATA
CLOSE: Final = Signal.CLOSE
Event = RequestReceived | Interim | Rejected | Signal


class HTTPConnection:
    """One server-side HTTP/1.1 connection as a state machine."""

    __slots__ = (
        "_body_left",
        "_buffer",
        "_chunked_out",
        "_chunks",
        "_client",
        "_close_after",
        "_closing",
        "_config",
        "_deadline",
        "_expect_continue",
        "_filled",
        "_h11",
        "_head_only",
        "_http10",
        "_inbox",
        "_keep_alive",
        "_linger_left",
        "_parts",
        "_peer_gone",
        "_phase",
        "_request",
        "_scanner",
        "_started",
    )

    def __init__(self, config: Config, client: tuple[str, int] | None, now: float) -> None:
        self._config = config
        self._client = client
        self._phase = _IDLE
        self._inbox = bytearray()
        self._scanner = HeadScanner(config.max_header_bytes)
        # A new connection has header_timeout for its first request head;
        # one that never sends a byte is closed quietly then.
        self._deadline: float | None = now + config.header_timeout
        self._request: Request | None = None
        self._h11: h11.Connection | None = None  # while a chunked body is read
        self._chunks: ChunkScanner | None = None
        self._parts: list[bytes] = []
        self._buffer: bytearray | None = None
        self._filled = 0
        self._body_left = 0
        self._expect_continue = False
        self._keep_alive = True
        self._head_only = False
        self._http10 = False
        self._started = False
        self._chunked_out = False
        self._close_after = False
        self._closing = False
        self._peer_gone = False
        self._linger_left = 0

    # -- state for the caller --------------------------------------------------

    @property
    def deadline(self) -> float | None:
        """When ``next_event`` acts on the clock (408, idle close, end of
        linger); None while no read is awaited."""
        return self._deadline

    @property
    def buffered(self) -> int:
        """Bytes received and not yet parsed (pipelined requests)."""
        return len(self._inbox)

    @property
    def over_pipeline_cap(self) -> bool:
        """More unparsed bytes wait than ``pipeline_buffer_bytes``: while a
        request is answered, the caller stops reading until this clears."""
        return len(self._inbox) > self._config.pipeline_buffer_bytes

    @property
    def busy(self) -> bool:
        """A request is with the handler or being answered."""
        return self._phase == _BUSY

    @property
    def response_started(self) -> bool:
        """The head of the current answer has been given out."""
        return self._started

    @property
    def request(self) -> Request | None:
        """The request being read or answered."""
        return self._request

    # -- input -------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> None:
        phase = self._phase
        if phase == _LINGER:
            self._linger_left -= len(data)
            if self._linger_left <= 0:
                self._close()
            return
        if phase == _CLOSED or not data:
            return
        if self._buffer is not None and not self._inbox:
            # An upload's bytes go straight to its buffer, not through the inbox.
            take = min(self._body_left, len(data))
            with memoryview(data) as arrived:
                self._buffer[self._filled : self._filled + take] = arrived[:take]
            self._filled += take
            self._body_left -= take
            self._expect_continue = False
            if take == len(data):
                return
            data = data[take:]
        self._inbox += data
        if phase == _IDLE:
            self._start_head(now)

    def receive_eof(self) -> None:
        """The client closed its side, or the connection is gone."""
        self._peer_gone = True
        if self._phase != _BUSY:
            self._close()

    def start_closing(self) -> None:
        """The server is shutting down: no keep-alive, no linger, and an idle
        connection closes now."""
        self._closing = True
        if (self._phase == _IDLE and not self._inbox) or self._phase == _LINGER:
            self._close()

    def next_event(self, now: float) -> Event:
        phase = self._phase
        if phase == _IDLE and self._inbox:
            self._start_head(now)
            phase = _HEAD
        if phase in (_HEAD, _BODY):
            try:
                event = self._read_head(now) if phase == _HEAD else self._read_body()
            except Rejection as refused:
                if refused.request is not None:
                    self._request = refused.request
                return self._reject(refused.status, refused.message, now)
        elif phase == _CLOSED:
            return CLOSE
        else:
            event = NEED_DATA
        if event is NEED_DATA and self._deadline is not None and now >= self._deadline:
            return self._expired(now)
        return event

    # -- output --------------------------------------------------------------------

    def error_response(self, status: int, message: str, exc: Exception | None = None) -> Response:
        """The error factory's answer for the current request."""
        return error_response(self._config.error_factory, status, message, self._request, exc)

    def respond(self, response: Response, now: float) -> bytes:
        """The whole answer to the current request, as bytes to write.

        A response that cannot be written as it is becomes a 500.
        """
        close = self._must_close()
        try:
            data = self._whole(response, close)
        except InvalidResponse:
            _log.error("handler built an invalid response for %s", self._describe())
            data = self._fallback(500, "internal server error", close)
        self._finish(now, close)
        return data

    def body_allowed(self, status: int) -> bool:
        """Whether an answer with ``status`` to the current request has a body."""
        return not self._head_only and status not in _NO_BODY_STATUSES

    def start_stream(self, status: int, headers: list[tuple[str, str]]) -> bytes:
        """The head of a streamed answer; raises InvalidResponse.

        HTTP/1.1 clients get a chunked body, HTTP/1.0 clients a body
        delimited by closing the connection (RFC 9112 section 6.3).
        """
        has_body = self.body_allowed(status)
        close = self._must_close() or (self._http10 and has_body)
        # A HEAD answer carries the framing a GET would get (RFC 9110 section 9.3.2).
        chunked = not self._http10 and status not in _NO_BODY_STATUSES
        head = build_head(
            status, headers, self._config.dates.line(), length=None, chunked=chunked, close=close
        )
        self._started = True
        self._chunked_out = chunked and has_body
        self._close_after = close
        return head

    def frame(self, data: bytes) -> bytes:
        """One piece of a streamed body, framed; nothing for empty data (an
        empty chunk would end the body)."""
        if not data:
            return b""
        if self._chunked_out:
            return b"%x\r\n%b\r\n" % (len(data), data)
        return data

    def end_stream(self, now: float) -> bytes:
        """The end of a streamed body (the last chunk, RFC 9112 section 7.1)."""
        tail = _LAST_CHUNK if self._chunked_out else b""
        self._finish(now, self._close_after)
        return tail

    def abort(self) -> None:
        """Give up on the connection: the answer stops where it is, and the
        client sees the body cut short when the connection closes."""
        self._close()

    # -- reading -------------------------------------------------------------------

    def _start_head(self, now: float) -> None:
        # Slowloris guard: the whole head within header_timeout of its first byte.
        self._phase = _HEAD
        self._deadline = now + self._config.header_timeout

    def _read_head(self, now: float) -> Event:
        inbox = self._inbox
        end = self._scanner.scan(inbox)
        if end < 0:
            return NEED_DATA
        head = bytes(inbox[:end])
        del inbox[:end]
        parsed = read_head(head, self._client)
        request = self._request = parsed.request
        self._keep_alive = parsed.keep_alive
        self._expect_continue = parsed.expect_continue
        self._head_only = request.method == "HEAD"
        self._http10 = request.http_version < "1.1"
        limit = self._body_limit(request)
        if parsed.chunked:
            limits = self._config
            self._h11 = body_reader(head, limits.max_header_bytes + MAX_CHUNK_LINE)
            self._chunks = ChunkScanner(limit, limits.max_header_bytes)
        elif parsed.length:
            if parsed.length > limit:
                raise Rejection(413, f"request body is larger than {limit} bytes")
            self._body_left = parsed.length
            if parsed.length > _ONE_BUFFER:
                self._buffer = bytearray(parsed.length)
                self._filled = 0
        else:
            return self._complete()
        self._phase = _BODY
        self._deadline = now + self._config.body_timeout
        return self._read_body()

    def _body_limit(self, request: Request) -> int:
        """The request's body cap: its route's, checked before any of the
        body is read (a Content-Length over it is refused at once, a
        chunked body as soon as what arrived passes it)."""
        own = self._config.body_limit
        given = own(request) if own is not None else None
        return self._config.max_body_bytes if given is None else given

    def _read_body(self) -> Event:
        inbox = self._inbox
        if self._chunks is None:
            take = min(self._body_left, len(inbox))
            if take:
                self._expect_continue = False
                buffer = self._buffer
                if buffer is None:
                    self._parts.append(bytes(inbox[:take]))
                else:
                    with memoryview(inbox) as arrived:
                        buffer[self._filled : self._filled + take] = arrived[:take]
                    self._filled += take
                del inbox[:take]
                self._body_left -= take
            if self._body_left:
                return self._need_body()
            return self._complete()
        scanned = self._chunks.scan(inbox)
        if not scanned:
            return self._need_body()
        self._expect_continue = False
        conn = self._h11
        assert conn is not None
        conn.receive_data(bytes(inbox[:scanned]))
        del inbox[:scanned]
        parts = self._parts
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError:
                raise Rejection(400, "malformed chunked body")
            if type(event) is h11.Data:
                parts.append(bytes(event.data))
            elif type(event) is h11.EndOfMessage:
                return self._complete()
            elif event is h11.NEED_DATA and not self._chunks.done:
                return self._need_body()
            else:
                raise Rejection(400, "malformed chunked body")

    def _need_body(self) -> Event:
        if self._expect_continue:
            # RFC 9110 section 10.1.1: the client waits for this before
            # sending the body; not sent when the body was refused already.
            self._expect_continue = False
            return Interim(_CONTINUE)
        return NEED_DATA

    def _complete(self) -> Event:
        request = self._request
        assert request is not None
        parts = self._parts
        if self._buffer is not None:
            request.body = self._buffer
            self._buffer = None
        elif parts:
            request.body = parts[0] if len(parts) == 1 else b"".join(parts)
            self._parts = []
        self._phase = _BUSY
        self._deadline = None
        self._h11 = None
        self._chunks = None
        return RequestReceived(request)

    def _expired(self, now: float) -> Event:
        phase = self._phase
        if phase == _HEAD:
            return self._reject(408, "request head not received in time", now)
        if phase == _BODY:
            return self._reject(408, "request body not received in time", now)
        self._close()  # an idle keep-alive connection, or the end of a linger
        return CLOSE

    def _reject(self, status: int, message: str, now: float) -> Event:
        _log.debug("refused request from %s: %d %s", self._client, status, escape_for_log(message))
        self._head_only = self._request is not None and self._request.method == "HEAD"
        data = self._fallback(status, message, close=True)
        self._inbox = bytearray()
        self._request = None
        self._parts = []
        self._buffer = None
        self._h11 = None
        self._chunks = None
        if self._closing or self._peer_gone:
            self._close()
        else:
            self._phase = _LINGER
            self._deadline = now + LINGER_SECONDS
            self._linger_left = LINGER_BYTES
        return Rejected(data, status)

    # -- answering -----------------------------------------------------------------

    def _must_close(self) -> bool:
        return not self._keep_alive or self._closing or self._peer_gone

    def _whole(self, response: Response, close: bool) -> bytes:
        status = response.status
        body = response.body
        no_body = status in _NO_BODY_STATUSES
        head = build_head(
            status,
            response.headers,
            self._config.dates.line(),
            length=None if no_body else len(body),
            chunked=False,
            close=close,
        )
        if no_body or self._head_only or not body:
            return head
        return head + body

    def _fallback(self, status: int, message: str, close: bool) -> bytes:
        """An error answer from the error factory, or the default one if the
        factory's cannot be written."""
        try:
            return self._whole(self.error_response(status, message), close)
        except InvalidResponse:
            _log.error("the error factory built an invalid %d answer", status)
            return self._whole(default_error_factory(status, message, self._request), close)

    def _finish(self, now: float, close: bool) -> None:
        """The answer is out whole: read the next request, or close."""
        self._request = None
        self._head_only = False
        self._started = False
        self._chunked_out = False
        if close or self._closing or self._peer_gone:
            self._close()
            return
        self._phase = _IDLE
        self._deadline = now + self._config.keepalive_timeout

    def _close(self) -> None:
        self._phase = _CLOSED
        self._deadline = None
        self._inbox = bytearray()

    def _describe(self) -> str:
        return describe(self._request) if self._request is not None else "a request"

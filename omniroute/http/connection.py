"""One client connection: the h11 request/response loop (RFC 9112).

A connection is one task. It reads with the StreamReader only when h11 needs
data, so bytes a pipelining client sends ahead stay in the reader's buffer
(whose size limit pauses the socket) until their turn. The client going away
is reported by the protocol callbacks (``peer_gone``), not by a watcher task:
while a handler runs or a stream is sent, that cancels this connection's task,
which interrupts the handler or the chunk producer where it waits.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import TYPE_CHECKING

import h11

from omniroute import errors
from omniroute.http import wire_headers
from omniroute.http.message import (
    Headers,
    Request,
    Response,
    StreamResponse,
    default_error_factory,
    escape_for_log,
)

if TYPE_CHECKING:
    from omniroute.http.server import ServerState

__all__ = ["Connection"]

_log = logging.getLogger("omniroute.http")

_READ_SIZE = 64 * 1024
# After an error answer the client may still be sending; reading (and
# dropping) for a moment before closing keeps the kernel from answering with
# a reset that could destroy our response in flight (RFC 9112 section 9.6).
_LINGER_SECONDS = 1.0
_LINGER_BYTES = 1024 * 1024
# Smaller responses go out as one write (one syscall); larger ones without a copy.
_JOIN_LIMIT = 16 * 1024
_NO_BODY_STATUSES = frozenset({204, 304})
# Framing belongs to the server, never to a handler.
_OWN_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
_REASONS: dict[int, bytes] = {s.value: s.phrase.encode("ascii") for s in HTTPStatus}
# In a request head only CRLF ends a line (RFC 9112 section 2.2), and a line
# starting with SP/HTAB is obsolete folding (section 5.2): both are refused,
# as proxies in front of us may read them differently.
_BAD_HEAD = re.compile(rb"(?<!\r)\n|\r\n[ \t]")
_H11_MESSAGES = {
    400: "malformed HTTP request",
    431: "request header fields too large",
    501: "unsupported transfer encoding",
}


class _Reject(Exception):
    """Answer with an error status and close the connection."""

    def __init__(self, status: int, message: str, request: Request | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.request = request


class _HeadScanner:
    """Checks a request head's raw bytes before h11 parses them.

    h11 accepts bare LF line ends and unfolds obsolete line folding; we refuse
    both. It also only limits a head that is still incomplete, so a too large
    head arriving in one piece is caught here.
    """

    __slots__ = ("_buffer", "_done", "_limit")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._buffer = bytearray()
        self._done = False

    def feed(self, data: bytes) -> None:
        if self._done:
            return
        view: bytes | bytearray
        if self._buffer:
            start = max(0, len(self._buffer) - 3)  # a terminator may straddle chunks
            self._buffer += data
            view = self._buffer
        else:
            start = 0
            view = data
        end = view.find(b"\r\n\r\n", start)
        stop = len(view) if end < 0 else end + 4
        bad = _BAD_HEAD.search(view, start, stop)
        if bad is not None:
            reason = "bare LF line ending" if bad.group() == b"\n" else "obsolete line folding"
            raise _Reject(400, f"invalid request head: {reason}")
        if stop > self._limit:
            raise _Reject(431, _H11_MESSAGES[431])
        if end >= 0:
            self._done = True
            self._buffer = bytearray()
        elif not self._buffer:
            self._buffer = bytearray(data)


class Connection:
    """Serves the requests of one accepted connection, one at a time."""

    __slots__ = (
        "_client",
        "_current",
        "_deadline",
        "_gone",
        "_h11",
        "_idle",
        "_loop",
        "_reader",
        "_reading",
        "_served",
        "_state",
        "_timed_out",
        "_writer",
        "task",
    )

    def __init__(
        self, state: ServerState, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._state = state
        self._reader = reader
        self._writer = writer
        self._h11 = h11.Connection(
            h11.SERVER, max_incomplete_event_size=state.settings.max_header_bytes
        )
        peer = writer.get_extra_info("peername")
        self._client = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None
        self._current: Request | None = None  # the request being handled or answered
        self._gone = False
        self._idle = True  # waiting for the first byte of a request
        self._served = 0
        self._reading = False  # suspended in _recv
        self._deadline = 0.0  # of that read, on the loop clock
        self._timed_out = False
        self._loop = asyncio.get_running_loop()
        state.connections.add(self)
        self.task = self._loop.create_task(self._run())

    # -- called from the protocol and the server ---------------------------------

    def peer_gone(self) -> None:
        """The client closed (EOF) or reset the connection."""
        if self._gone:
            return
        self._gone = True
        request = self._current
        if request is not None:
            request.disconnected.set()
            if not self.task.done():
                self.task.cancel()

    def expire(self, now: float) -> None:
        """Called periodically: interrupt a read whose deadline has passed.

        Only a task suspended in ``_recv`` is cancelled; there the
        cancellation is turned into a TimeoutError, so it cannot land
        anywhere else (the flag is checked synchronously, and a suspended
        coroutine resumes exactly at that await).
        """
        if self._reading and self._deadline <= now and not self._timed_out:
            self._timed_out = True
            self.task.cancel()

    def close_if_idle(self) -> None:
        """On shutdown: close now unless a request is under way."""
        if self._idle and self._current is None:
            self.task.cancel()
            self._writer.close()

    def abort(self) -> None:
        self._state.connections.discard(self)
        self._writer.transport.abort()

    # -- the loop -----------------------------------------------------------------

    async def _run(self) -> None:
        try:
            if not self._state.closing:
                await self._serve()
        except asyncio.CancelledError:
            pass  # the client left, or shutdown ran out of grace: just close
        except Exception:
            _log.exception("connection failed")
        finally:
            self._state.connections.discard(self)
            if self._gone:
                self._writer.transport.abort()
            else:
                self._writer.close()

    async def _serve(self) -> None:
        conn = self._h11
        while True:
            request = await self._receive_request()
            if request is None or not await self._respond(request):
                return
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()
            self._served += 1

    async def _receive_request(self) -> Request | None:
        try:
            head = await self._receive_head()
            if head is None:
                return None
            request = self._make_request(head)
            request.body = await self._receive_body(request)
            return request
        except _Reject as reject:
            await self._reject(reject.status, reject.message, reject.request)
            return None

    async def _receive_head(self) -> h11.Request | None:
        conn = self._h11
        settings = self._state.settings
        scanner = _HeadScanner(settings.max_header_bytes)
        # Bytes of the next request may already sit in h11's buffer (pipelining).
        leftover = conn.trailing_data[0] if self._served else b""
        if leftover:
            self._idle = False
            deadline = self._loop.time() + settings.header_timeout
            scanner.feed(leftover)
        else:
            self._idle = True
            wait = settings.keepalive_timeout if self._served else settings.header_timeout
            deadline = self._loop.time() + wait
        parse = bool(leftover)  # with an empty buffer h11 can only say NEED_DATA
        while True:
            if parse:
                try:
                    event = conn.next_event()
                except h11.RemoteProtocolError as exc:
                    raise _Reject(exc.error_status_hint, _h11_message(exc))
                if isinstance(event, h11.Request):
                    self._idle = False
                    return event
                if event is not h11.NEED_DATA:
                    return None  # ConnectionClosed: the client left between requests
            parse = True
            try:
                data = await self._recv(deadline)
            except TimeoutError:
                if self._idle:
                    return None  # idle keep-alive connection: close quietly
                raise _Reject(408, "request head not received in time")
            if data:
                if self._idle:
                    self._idle = False
                    # Slowloris guard: the whole head within header_timeout
                    # of its first byte.
                    deadline = self._loop.time() + settings.header_timeout
                scanner.feed(data)
            conn.receive_data(data)

    def _make_request(self, head: h11.Request) -> Request:
        method = head.method.decode("ascii")
        target = head.target.decode("ascii", "replace")
        request = Request(
            method,
            target,
            Headers.from_wire(head.headers),
            client=self._client,
            http_version=head.http_version.decode("ascii"),
        )
        if method == "CONNECT":
            raise _Reject(400, "CONNECT is not supported", request)
        # Only origin-form (RFC 9112 section 3.2.1) is served: absolute-form
        # and authority-form are for proxies, and accepting them invites
        # confusion about which host a request is for.
        if not target.startswith("/") and not (target == "*" and method == "OPTIONS"):
            raise _Reject(400, "request target must be an absolute path", request)
        # Both framings at once is the classic smuggling vector (RFC 9112
        # section 6.3): refuse instead of guessing which one a proxy used.
        headers = request.headers
        if "transfer-encoding" in headers and "content-length" in headers:
            raise _Reject(400, "Transfer-Encoding and Content-Length together", request)
        return request

    async def _receive_body(self, request: Request) -> bytes:
        conn = self._h11
        settings = self._state.settings
        limit = settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and int(declared) > limit:  # h11 checked it is digits
            raise _Reject(413, f"request body is larger than {limit} bytes", request)
        parts: list[bytes] = []
        size = 0
        deadline: float | None = None
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise _Reject(exc.error_status_hint, _h11_message(exc), request)
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > limit:
                    raise _Reject(413, f"request body is larger than {limit} bytes", request)
                parts.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                break
            elif event is h11.NEED_DATA:
                if deadline is None:
                    deadline = self._loop.time() + settings.body_timeout
                if conn.they_are_waiting_for_100_continue:
                    self._writer.write(
                        conn.send(h11.InformationalResponse(status_code=100, headers=[]))
                    )
                try:
                    data = await self._recv(deadline)
                except TimeoutError:
                    raise _Reject(408, "request body not received in time", request)
                conn.receive_data(data)
            else:
                raise _Reject(400, "request ended unexpectedly", request)
        if not parts:
            return b""
        return bytes(parts[0]) if len(parts) == 1 else b"".join(parts)

    async def _recv(self, deadline: float) -> bytes:
        """Read what is there (b"" at EOF); TimeoutError once ``deadline`` passes.

        The server's sweeper enforces the deadline (see ``expire``): one
        periodic check for all connections is much cheaper than arming and
        cancelling a timer for every read.
        """
        if deadline <= self._loop.time():
            raise TimeoutError
        self._deadline = deadline
        self._reading = True
        try:
            return await self._reader.read(_READ_SIZE)
        except asyncio.CancelledError:
            if not self._timed_out:
                raise
            self._timed_out = False
            self.task.uncancel()
            raise TimeoutError from None
        except ConnectionError:
            return b""  # a reset reads as end of input
        finally:
            self._reading = False

    # -- answering ----------------------------------------------------------------

    async def _respond(self, request: Request) -> bool:
        """Run the handler and send its response; True to keep the connection."""
        state = self._state
        state.active_requests += 1
        self._current = request
        try:
            if self._gone:  # left while we were still reading the request
                request.disconnected.set()
                return False
            response = await self._call_handler(request)
            if isinstance(response, StreamResponse):
                return await self._send_stream(request, response)
            return await self._send_response(request, response)
        except ConnectionError:
            self.peer_gone()
            return False
        except asyncio.CancelledError:
            if not self._gone and self._h11.our_state is h11.SEND_RESPONSE:
                self._write_error(503, "server is shutting down", request)
            raise
        finally:
            self._current = None
            state.active_requests -= 1

    async def _call_handler(self, request: Request) -> Response | StreamResponse:
        try:
            response = await self._state.handler(request)
        except errors.OmniError as exc:
            return self._error_response(exc.status, exc.message, request, exc)
        except Exception:
            _log.exception("handler failed for %s", _describe(request))
            return self._error_response(500, "internal server error", request)
        if not isinstance(response, Response | StreamResponse):
            _log.error("handler returned %s for %s", type(response).__name__, _describe(request))
            return self._error_response(500, "internal server error", request)
        return response

    async def _send_response(self, request: Request, response: Response) -> bool:
        conn = self._h11
        close = self._state.closing or self._gone
        try:
            event = self._head_for(response, close)
        except (h11.LocalProtocolError, UnicodeError):
            _log.error("handler built an invalid response for %s", _describe(request))
            response = self._error_response(500, "internal server error", request)
            event = self._head_for(response, close)
        pieces = _send(conn, event)
        if response.body and request.method != "HEAD" and response.status not in _NO_BODY_STATUSES:
            pieces += _send(conn, h11.Data(data=response.body))
        pieces += _send(conn, h11.EndOfMessage())
        await self._write(pieces)
        return conn.our_state is h11.DONE and not self._state.closing

    async def _send_stream(self, request: Request, response: StreamResponse) -> bool:
        conn = self._h11
        writer = self._writer
        chunks = response.chunks
        try:
            first = b""
            more = request.method != "HEAD" and response.status not in _NO_BODY_STATUSES
            if more:
                # The head goes out with the first chunk: one packet, and a
                # producer failing before any byte still gets a real 500.
                try:
                    first = await anext(chunks)
                except StopAsyncIteration:
                    more = False
                except errors.OmniError as exc:
                    error = self._error_response(exc.status, exc.message, request, exc)
                    return await self._send_response(request, error)
                except Exception:
                    _log.exception("stream failed before its first chunk: %s", _describe(request))
                    error = self._error_response(500, "internal server error", request)
                    return await self._send_response(request, error)
            close = self._state.closing or self._gone
            try:
                event = self._response_head(response.status, response.headers, None, close)
            except (h11.LocalProtocolError, UnicodeError):
                _log.error("handler built an invalid response for %s", _describe(request))
                error = self._error_response(500, "internal server error", request)
                return await self._send_response(request, error)
            pieces = _send(conn, event)
            if first:
                pieces += _send(conn, h11.Data(data=first))
            if more:
                await self._write(pieces)
                async for chunk in chunks:
                    if chunk:
                        writer.write(conn.send(h11.Data(data=chunk)))
                        await writer.drain()
                pieces = []
            pieces += _send(conn, h11.EndOfMessage())
            await self._write(pieces)
            return conn.our_state is h11.DONE and not self._state.closing
        except ConnectionError:
            self.peer_gone()
            return False
        except Exception:
            # Headers are out: the only honest signal left is to close without
            # the terminating chunk, so the client sees a truncated body.
            _log.exception("stream failed: %s", _describe(request))
            return False
        finally:
            await _aclose(chunks)

    def _head_for(self, response: Response, close: bool) -> h11.Response:
        return self._response_head(response.status, response.headers, len(response.body), close)

    def _response_head(
        self, status: int, headers: list[tuple[str, str]], length: int | None, close: bool
    ) -> h11.Response:
        raw = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in headers
            if name.lower() not in _OWN_HEADERS
        ]
        raw.append((b"date", self._state.date_header()))
        if length is not None and status not in _NO_BODY_STATUSES:
            raw.append((b"content-length", str(length).encode("ascii")))
        if close:
            raw.append((b"connection", b"close"))
        wire_headers.check(raw)
        return h11.Response(
            status_code=status,
            headers=raw,
            reason=_REASONS.get(status, b""),
            http_version=b"1.1",
            _parsed=True,  # checked just above, in one pass
        )

    def _error_response(
        self, status: int, message: str, request: Request | None, exc: Exception | None = None
    ) -> Response:
        try:
            response = self._state.error_factory(status, message, request)
        except Exception:
            _log.exception("error factory failed")
            response = default_error_factory(status, message, request)
        names = {name.lower() for name, _ in response.headers}
        if isinstance(exc, errors.MethodNotAllowed) and exc.allow and "allow" not in names:
            response.headers.append(("allow", ", ".join(exc.allow)))
        retry_after = exc.retry_after if isinstance(exc, errors.OmniError) else None
        if retry_after is not None and "retry-after" not in names:
            response.headers.append(("retry-after", str(max(0, round(retry_after)))))
        return response

    def _write_error(self, status: int, message: str, request: Request | None) -> None:
        """Write an error answer with Connection: close, if no answer started."""
        conn = self._h11
        if self._gone or conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        response = self._error_response(status, message, request)
        try:
            event = self._head_for(response, True)
            pieces = _send(conn, event)
            if response.body and (request is None or request.method != "HEAD"):
                pieces += _send(conn, h11.Data(data=response.body))
            pieces += _send(conn, h11.EndOfMessage())
        except (h11.LocalProtocolError, UnicodeError):
            _log.error("could not build the %d error answer", status)
            return
        self._writer.write(b"".join(pieces))

    async def _reject(self, status: int, message: str, request: Request | None) -> None:
        _log.debug("refused request from %s: %d %s", self._client, status, escape_for_log(message))
        self._write_error(status, message, request)
        if self._gone:
            return
        writer = self._writer
        linger = 0.0 if self._state.closing else _LINGER_SECONDS
        received = 0
        try:
            async with asyncio.timeout(linger):
                await writer.drain()
                if writer.can_write_eof():
                    writer.write_eof()
                while received < _LINGER_BYTES:
                    data = await self._reader.read(_READ_SIZE)
                    if not data:
                        break
                    received += len(data)
        except OSError:  # includes TimeoutError
            pass

    async def _write(self, pieces: list[bytes]) -> None:
        writer = self._writer
        if len(pieces) == 1:
            writer.write(pieces[0])
        elif sum(map(len, pieces)) <= _JOIN_LIMIT:
            writer.write(b"".join(pieces))
        else:
            for piece in pieces:
                writer.write(piece)
        await writer.drain()


def _send(conn: h11.Connection, event: h11.Event) -> list[bytes]:
    pieces = conn.send_with_data_passthrough(event)
    assert pieces is not None  # only ConnectionClosed yields None
    return pieces


async def _aclose(chunks: object) -> None:
    """Close a chunk iterator so its ``finally`` runs (and can stop its upstream)."""
    close: Callable[[], Awaitable[object]] | None = getattr(chunks, "aclose", None)
    if close is None:
        return
    try:
        await close()
    except Exception:
        _log.exception("closing a response stream failed")


def _h11_message(exc: h11.RemoteProtocolError) -> str:
    return _H11_MESSAGES.get(exc.error_status_hint, "malformed HTTP request")


def _describe(request: Request) -> str:
    return f"{escape_for_log(request.method, 20)} {escape_for_log(request.raw_path)}"

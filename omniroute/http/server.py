"""The listening server: sockets, tasks and timers around the sans-IO protocol.

Each accepted connection is a :class:`_Channel`, an ``asyncio.Protocol``
that feeds what the transport reads into its
:class:`~omniroute.http.protocol.HTTPConnection` and writes what that gives
back. The first complete request starts the connection's task, which runs
the handler and sends the answer; requests the client pipelined behind it
are answered by the same task, in order, and between requests it waits on a
future: measured, a new task per request (its creation, its registration in
asyncio's task set) cost more than the rest of the server loop. So requests
on one connection share the task's context variables (nothing sets any).
Reading and deadlines are callbacks.

- The client going away (EOF or reset) cancels that task, which interrupts
  the handler or the chunk producer where it waits; the producer is then
  closed (``aclose``) so its ``finally`` can release the upstream.
- Backpressure: a streamed body waits while the transport's buffer is above
  its high-water mark (``pause_writing``), and reading pauses while a
  request is handled and more than ``pipeline_buffer_bytes`` wait unparsed.
- Deadlines: one timer per connection, re-armed lazily. A later deadline
  leaves the armed timer alone (it fires, sees the new deadline and re-arms),
  so a busy keep-alive connection costs a timer about once per
  ``keepalive_timeout``, not once per request, and no deadline fires late.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable

from omniroute.http.answering import answer
from omniroute.http.message import (
    ErrorFactory,
    Handler,
    Request,
    StreamResponse,
    default_error_factory,
)
from omniroute.http.protocol import (
    CLOSE,
    NEED_DATA,
    Config,
    HTTPConnection,
    Interim,
    Rejected,
    RequestReceived,
)
from omniroute.settings import Settings

__all__ = ["Server"]

_log = logging.getLogger("omniroute.http")

_BACKLOG = 1024
# After shutdown's grace has run out and tasks were cancelled, how long their
# cleanup (a producer's ``finally``, a shutdown tail) may take before sockets
# are aborted.
_CANCEL_WAIT = 2.0


class _Shared:
    """What the connections of one server share."""

    __slots__ = (
        "active_requests",
        "channels",
        "closing",
        "config",
        "drained",
        "handler",
        "open_connections",
    )

    def __init__(
        self,
        handler: Handler,
        settings: Settings,
        error_factory: ErrorFactory,
        body_limit: Callable[[Request], int | None] | None,
    ) -> None:
        self.handler = handler
        self.config = Config(settings, error_factory, body_limit)
        self.closing = False
        self.active_requests = 0
        self.open_connections = 0
        self.channels: set[_Channel] = set()
        self.drained = asyncio.Event()  # set once closing and no channel is left

    def forget(self, channel: _Channel) -> None:
        self.channels.discard(channel)
        if self.closing and not self.channels:
            self.drained.set()


class _Channel(asyncio.Protocol):
    """One accepted connection."""

    __slots__ = (
        "_closed",
        "_drain_waiter",
        "_gone",
        "_http",
        "_handling",
        "_loop",
        "_lost",
        "_next",
        "_read_paused",
        "_request",
        "_shared",
        "_stopping",
        "_streaming",
        "_last_words",
        "_task",
        "_timer",
        "_timer_at",
        "_transport",
        "_write_paused",
    )

    def __init__(self, shared: _Shared, loop: asyncio.AbstractEventLoop) -> None:
        self._shared = shared
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._http: HTTPConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._handling = False  # the task is answering, not waiting for a request
        self._next: asyncio.Future[Request | None] | None = None  # the task waits on it
        self._request: Request | None = None  # the one with the handler
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._drain_waiter: asyncio.Future[None] | None = None
        self._write_paused = False
        self._read_paused = False
        self._gone = False  # the client left: nothing more is written
        self._lost = False  # connection_lost has run
        self._closed = False  # we closed the transport
        self._stopping = False  # shutdown's grace ran out
        self._streaming: StreamResponse | None = None  # the stream being sent
        self._last_words: bytes | None = None  # its on_shutdown(), asked at the stop

    # -- transport callbacks -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                # Small writes (SSE events) must leave at once, not wait for
                # Nagle's algorithm to gather them.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        peer = transport.get_extra_info("peername")
        client = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None
        self._http = HTTPConnection(self._shared.config, client, self._loop.time())
        self._shared.channels.add(self)
        self._arm()

    def data_received(self, data: bytes) -> None:
        http = self._http
        assert http is not None
        http.receive_data(data, self._loop.time())
        if not self._handling:
            self._advance()
        elif not self._read_paused and http.over_pipeline_cap:
            assert self._transport is not None
            self._transport.pause_reading()
            self._read_paused = True

    def eof_received(self) -> bool:
        assert self._http is not None
        self._http.receive_eof()
        if self._handling:
            self._client_gone()
        else:
            self._advance()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._shared.open_connections -= 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._wake_writer()
        if self._http is not None:
            self._http.receive_eof()
        if self._handling:
            self._client_gone()
        else:
            self._hand_over(None)
            if self._task is None:
                self._shared.forget(self)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_writer()

    # -- called by the server ----------------------------------------------------------

    def start_closing(self) -> None:
        """Shutdown begins: an idle connection closes now, others after their answer."""
        assert self._http is not None
        self._http.start_closing()
        if not self._handling and not self._lost:
            self._advance()

    def stop(self) -> None:
        """Shutdown's grace is over: interrupt the request under way, or close.
        A stream's last words are asked for before the interruption reaches
        its producer, so the producer knows why it ends."""
        self._stopping = True
        stream = self._streaming
        if stream is not None and stream.on_shutdown is not None and not self._gone:
            try:
                self._last_words = stream.on_shutdown()
            except Exception:
                _log.exception("on_shutdown failed")
                self._last_words = b""
        if self._handling:
            assert self._task is not None
            self._task.cancel()
        else:
            self._close()

    def abort(self) -> None:
        self._shared.forget(self)
        if self._transport is not None:
            self._transport.abort()

    # -- events ------------------------------------------------------------------------

    def _advance(self) -> Request | None:
        """Act on the protocol's events until it needs data. A request goes
        back to the answering task, to the waiting task, or to a new task."""
        http = self._http
        transport = self._transport
        assert http is not None and transport is not None
        now = self._loop.time()
        while True:
            event = http.next_event(now)
            if event is NEED_DATA:
                self._arm()
                if self._read_paused and not http.over_pipeline_cap:
                    self._read_paused = False
                    transport.resume_reading()
                return None
            if type(event) is RequestReceived:
                if self._handling:
                    return event.request
                self._handling = True
                if self._task is None:
                    self._task = self._loop.create_task(self._serve(event.request))
                else:
                    self._hand_over(event.request)
                return None
            if event is CLOSE:
                self._close()
                return None
            assert isinstance(event, Interim | Rejected)
            transport.write(event.data)
            if type(event) is Rejected and transport.can_write_eof():
                transport.write_eof()  # the answer is final; keep reading to linger

    def _arm(self) -> None:
        assert self._http is not None
        deadline = self._http.deadline
        if deadline is None or self._lost:
            return
        timer = self._timer
        if timer is not None:
            if self._timer_at <= deadline:
                return  # fires first, then re-arms for the later deadline
            timer.cancel()
        self._timer = self._loop.call_at(deadline, self._on_timer)
        self._timer_at = deadline

    def _on_timer(self) -> None:
        self._timer = None
        if not self._handling and not self._lost:
            self._advance()  # acts on the deadline if it has passed, else re-arms

    def _hand_over(self, request: Request | None) -> None:
        """Wake the waiting task with its next request (None: stop)."""
        waiter = self._next
        if waiter is not None and not waiter.done():
            waiter.set_result(request)

    def _client_gone(self) -> None:
        if self._gone:
            return
        self._gone = True
        if self._request is not None:
            self._request.disconnected.set()
        if self._task is not None:
            self._task.cancel()

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._handling:
            self._hand_over(None)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._transport.close()

    # -- for answering (answering.Link) ---------------------------------------------------

    @property
    def http(self) -> HTTPConnection:
        assert self._http is not None
        return self._http

    @property
    def gone(self) -> bool:
        return self._gone

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def last_words(self) -> bytes | None:
        return self._last_words

    def streaming(self, response: StreamResponse | None) -> None:
        self._streaming = response

    def now(self) -> float:
        return self._loop.time()

    def write(self, data: bytes) -> None:
        if data and not self._gone:
            assert self._transport is not None
            self._transport.write(data)

    async def drain(self) -> None:
        """Wait while the transport's buffer is above its high-water mark."""
        if not self._write_paused or self._lost:
            return
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._drain_waiter = waiter
        try:
            await waiter
        finally:
            self._drain_waiter = None

    def _wake_writer(self) -> None:
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- answering (inside the task) -------------------------------------------------------

    async def _serve(self, request: Request) -> None:
        """The connection's task: answer requests as they come, in order."""
        shared = self._shared
        current: Request | None = request
        try:
            while current is not None:
                shared.active_requests += 1
                self._request = current
                try:
                    await answer(self, shared.handler, current)
                finally:
                    self._request = None
                    shared.active_requests -= 1
                if self._gone:
                    return
                await self.drain()  # pipelined answers wait for the client to read
                if self._gone:
                    return
                current = self._advance()
                if current is None:
                    current = await self._wait_for_request()
        except asyncio.CancelledError:
            pass  # the client left, or shutdown ran out of grace: just close
        except Exception:
            _log.exception("connection failed")
            if self._http is not None:
                self._http.abort()
            self._gone = True
        finally:
            self._handling = False
            self._task = None
            self._settle()

    async def _wait_for_request(self) -> Request | None:
        """Between requests: the callbacks read; None once the connection ends."""
        self._handling = False
        if self._closed or self._lost:
            return None
        waiter: asyncio.Future[Request | None] = self._loop.create_future()
        self._next = waiter
        try:
            return await waiter
        finally:
            self._next = None

    def _settle(self) -> None:
        """After the task: close what has to close."""
        if self._lost:
            self._shared.forget(self)
        elif self._gone:
            assert self._transport is not None
            self._transport.abort()
        elif self._stopping:
            self._close()


class _Refuse(asyncio.Protocol):
    """Over max_connections (or shutting down): close at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class Server:
    """HTTP/1.1 server running one handler for every request."""

    __slots__ = ("_listener", "_max_connections", "_settings", "_shared")

    def __init__(
        self,
        handler: Handler,
        settings: Settings,
        *,
        error_factory: ErrorFactory | None = None,
        body_limit: Callable[[Request], int | None] | None = None,
    ) -> None:
        self._settings = settings
        self._shared = _Shared(
            handler, settings, error_factory or default_error_factory, body_limit
        )
        self._max_connections = settings.max_connections
        self._listener: asyncio.Server | None = None

    async def start(self, host: str | None = None, port: int | None = None) -> tuple[str, int]:
        """Listen (``port=0``: any free port); returns the bound (host, port)."""
        if self._listener is not None:
            raise RuntimeError("server already started")
        settings = self._settings
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(
            self._protocol_factory(loop),
            settings.host if host is None else host,
            settings.port if port is None else port,
            reuse_address=True,
            backlog=_BACKLOG,
        )
        address = self._listener.sockets[0].getsockname()
        return str(address[0]), int(address[1])

    async def shutdown(self, grace: float | None = None) -> None:
        """Stop accepting, close idle connections, give requests under way up
        to ``grace`` seconds, then end what is left; returns when all done."""
        shared = self._shared
        grace = self._settings.shutdown_grace if grace is None else grace
        shared.closing = True
        if self._listener is not None:
            self._listener.close()
        for channel in list(shared.channels):
            channel.start_closing()
        if not shared.channels:
            shared.drained.set()
        if not await _wait(shared.drained.wait(), grace):
            _log.warning("shutdown: ending %d unfinished connection(s)", len(shared.channels))
            for channel in list(shared.channels):
                channel.stop()
            await _wait(shared.drained.wait(), _CANCEL_WAIT)
        for channel in list(shared.channels):
            channel.abort()
        if self._listener is not None:
            await self._listener.wait_closed()

    @property
    def connection_count(self) -> int:
        return self._shared.open_connections

    @property
    def active_requests(self) -> int:
        return self._shared.active_requests

    def _protocol_factory(self, loop: asyncio.AbstractEventLoop) -> Callable[[], asyncio.Protocol]:
        shared = self._shared
        limit = self._max_connections

        def make() -> asyncio.Protocol:
            if shared.closing or shared.open_connections >= limit:
                return _Refuse()
            shared.open_connections += 1
            return _Channel(shared, loop)

        return make


async def _wait(waiting: Awaitable[object], timeout: float) -> bool:
    """Await ``waiting`` for at most ``timeout`` seconds; False if it timed out."""
    try:
        async with asyncio.timeout(max(0.0, timeout)):
            await waiting
    except TimeoutError:
        return False
    return True

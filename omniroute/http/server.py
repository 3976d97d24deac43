"""The listening server: accepts connections and shuts down gracefully."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

from omniroute.http.connection import Connection
from omniroute.http.message import ErrorFactory, Handler, default_error_factory
from omniroute.settings import Settings

__all__ = ["Server"]

_log = logging.getLogger("omniroute.http")

_BACKLOG = 1024
# After shutdown's grace has run out and tasks were cancelled, how long their
# cleanup (a producer's ``finally``) may take before sockets are aborted.
_CANCEL_WAIT = 2.0
# Deadlines are checked this often: a tenth of the shortest timeout, within bounds.
_MIN_TICK = 0.01
_MAX_TICK = 1.0


class ServerState:
    """What the connections of one server share."""

    __slots__ = (
        "_date",
        "_date_second",
        "active_requests",
        "closing",
        "connections",
        "error_factory",
        "handler",
        "open_connections",
        "settings",
    )

    def __init__(self, handler: Handler, settings: Settings, error_factory: ErrorFactory) -> None:
        self.handler = handler
        self.settings = settings
        self.error_factory = error_factory
        self.closing = False
        self.active_requests = 0
        self.open_connections = 0
        self.connections: set[Connection] = set()
        self._date_second = -1
        self._date = b""

    def date_header(self) -> bytes:
        """The Date header value (RFC 9110 section 6.6.1), formatted once a second."""
        now = int(time.time())
        if now != self._date_second:
            self._date_second = now
            self._date = http_date(now)
        return self._date


class _Protocol(asyncio.StreamReaderProtocol):
    """Streams for one connection, plus a prompt signal when the client leaves.

    The reader's limit makes asyncio pause the socket once more than
    ``pipeline_buffer_bytes`` unread bytes are buffered.
    """

    def __init__(self, state: ServerState) -> None:
        self._state = state
        self._connection: Connection | None = None
        reader = asyncio.StreamReader(limit=max(1, state.settings.pipeline_buffer_bytes // 2))
        super().__init__(reader, self._accepted)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                # Small writes (SSE events) must leave at once, not wait for
                # Nagle's algorithm to gather them.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        super().connection_made(transport)

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connection = Connection(self._state, reader, writer)

    def eof_received(self) -> bool:
        keep_open = bool(super().eof_received())
        if self._connection is not None:
            self._connection.peer_gone()
        return keep_open

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._state.open_connections -= 1
        connection = self._connection
        if connection is not None:
            connection.peer_gone()
            if connection.task.done():
                self._state.connections.discard(connection)


class _Refuse(asyncio.Protocol):
    """Over max_connections: close at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class Server:
    """HTTP/1.1 server running one handler for every request."""

    __slots__ = ("_listener", "_state", "_sweeper")

    def __init__(
        self, handler: Handler, settings: Settings, *, error_factory: ErrorFactory | None = None
    ) -> None:
        self._state = ServerState(handler, settings, error_factory or default_error_factory)
        self._listener: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self, host: str | None = None, port: int | None = None) -> tuple[str, int]:
        """Listen (``port=0``: any free port); returns the bound (host, port)."""
        if self._listener is not None:
            raise RuntimeError("server already started")
        settings = self._state.settings
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(
            self._make_protocol,
            settings.host if host is None else host,
            settings.port if port is None else port,
            reuse_address=True,
            backlog=_BACKLOG,
        )
        self._sweeper = loop.create_task(self._sweep())
        address = self._listener.sockets[0].getsockname()
        return str(address[0]), int(address[1])

    async def shutdown(self, grace: float | None = None) -> None:
        """Stop accepting, close idle connections, give requests under way up
        to ``grace`` seconds, then cancel what is left; returns when all done."""
        state = self._state
        grace = state.settings.shutdown_grace if grace is None else grace
        state.closing = True
        if self._listener is not None:
            self._listener.close()
        for connection in list(state.connections):
            connection.close_if_idle()
        pending = {connection.task for connection in state.connections}
        if pending and grace > 0:
            _, pending = await asyncio.wait(pending, timeout=grace)
        if pending:
            _log.warning("shutdown: cancelling %d unfinished connection(s)", len(pending))
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=_CANCEL_WAIT)
        for connection in list(state.connections):
            connection.abort()
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        if self._listener is not None:
            await self._listener.wait_closed()

    @property
    def connection_count(self) -> int:
        return self._state.open_connections

    @property
    def active_requests(self) -> int:
        return self._state.active_requests

    async def _sweep(self) -> None:
        """Enforce read deadlines (header, body, keep-alive) for all connections."""
        settings = self._state.settings
        shortest = min(settings.header_timeout, settings.body_timeout, settings.keepalive_timeout)
        tick = min(_MAX_TICK, max(_MIN_TICK, shortest / 10))
        loop = asyncio.get_running_loop()
        connections = self._state.connections
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            for connection in list(connections):
                connection.expire(now)

    def _make_protocol(self) -> asyncio.BaseProtocol:
        state = self._state
        if state.closing or state.open_connections >= state.settings.max_connections:
            return _Refuse()
        state.open_connections += 1
        return _Protocol(state)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(seconds: float) -> bytes:
    """IMF-fixdate (RFC 9110 section 5.6.7), e.g. ``Sun, 06 Nov 1994 08:49:37 GMT``;
    English names whatever the locale."""
    t = time.gmtime(seconds)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    ).encode("ascii")

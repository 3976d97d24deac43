"""Keep-alive connections to upstreams and the pool that holds them.

A connection is an asyncio transport and a small protocol object (``Wire``)
that buffers what arrives; each exchange on it reads its response with a
fresh ``http11.ResponseParser``. ``Wire`` is used rather
than asyncio's StreamReader so that an idle pooled connection can be judged
exactly: any byte or EOF that arrived while it sat idle means the server has
given up on it (servers may send a 408 before closing an idle connection), and
it must not carry the next request.

The pool keeps idle connections per key (scheme, host, port, proxy URL) and
hands the most recently used one out first, which is the one least likely to
have been closed by the server.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time

from omniroute.upstream.proxy import ProxyRoute

PoolKey = tuple[str, str, int, str]

# Reading pauses once this much is buffered and unread (flow control: a slow
# consumer must not make us hold an unbounded response in memory).
_READ_HIGH_WATER = 256 * 1024


class Wire(asyncio.Protocol):
    """The protocol side of one upstream connection: a byte buffer, EOF and
    loss flags, and flow control for both directions."""

    __slots__ = (
        "transport",
        "_loop",
        "_chunks",
        "_size",
        "_eof",
        "_lost",
        "_exc",
        "_read_waiter",
        "_read_paused",
        "_write_paused",
        "_drain_waiter",
    )

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self._chunks: list[bytes] = []
        self._size = 0
        self._eof = False
        self._lost = False
        self._exc: BaseException | None = None
        self._read_waiter: asyncio.Future[None] | None = None
        self._read_paused = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None

    # -- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        if self._size > _READ_HIGH_WATER and not self._read_paused and self.transport:
            self._read_paused = True
            self.transport.pause_reading()
        _wake(self._read_waiter)

    def eof_received(self) -> bool | None:
        self._eof = True
        _wake(self._read_waiter)
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._exc = exc
        _wake(self._read_waiter)
        _wake(self._drain_waiter)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        _wake(self._drain_waiter)

    # -- used by the client

    def ready(self) -> bool:
        """True when ``read`` would return without waiting."""
        return bool(self._chunks) or self._eof or self._lost

    async def read(self) -> bytes:
        """Everything buffered so far, waiting for at least one byte; ``b""``
        at a clean EOF; OSError after a reset."""
        if not self.ready():
            waiter = self._loop.create_future()
            self._read_waiter = waiter
            try:
                await waiter
            finally:
                self._read_waiter = None
        return self.read_nowait()

    def read_nowait(self) -> bytes:
        chunks = self._chunks
        if chunks:
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            chunks.clear()
            self._size = 0
            if self._read_paused and self.transport and not self._lost:
                self._read_paused = False
                self.transport.resume_reading()
            return data
        if self._exc is not None:
            raise ConnectionResetError("connection reset by peer") from self._exc
        return b""

    def write(self, data: bytes | memoryview) -> None:
        if self._lost or self.transport is None or self.transport.is_closing():
            raise ConnectionResetError("connection closed before the request was sent")
        self.transport.write(data)

    async def drain(self) -> None:
        """Wait until the transport's write buffer is below its high-water mark."""
        while self._write_paused and not self._lost:
            waiter = self._loop.create_future()
            self._drain_waiter = waiter
            try:
                await waiter
            finally:
                self._drain_waiter = None
        if self._lost:
            raise ConnectionResetError("connection lost while sending the request")

    def idle_usable(self) -> bool:
        """An idle connection can carry a new request only if nothing at all
        arrived on it since its last response ended."""
        t = self.transport
        return not (self._chunks or self._eof or self._lost or t is None or t.is_closing())

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection now: no flush, no TLS close_notify exchange."""
        if self.transport is not None:
            self.transport.abort()


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class Connection:
    """One upstream connection, owned either by the pool (idle) or by one
    request at a time."""

    __slots__ = ("wire", "key", "idle_since", "checked_out")

    def __init__(self, wire: Wire, key: PoolKey) -> None:
        self.wire = wire
        self.key = key
        self.idle_since = 0.0
        self.checked_out = True


async def open_connection(
    key: PoolKey,
    ssl_context: ssl.SSLContext | None,
    route: ProxyRoute | None,
    timeout: float,
) -> Connection:
    """Connect (directly or through ``route``) and finish TLS, with
    TCP_NODELAY so a small request leaves at once. Errors pass through for
    the caller to map."""
    _scheme, host, port, _proxy = key
    loop = asyncio.get_running_loop()
    hostname = host if ssl_context is not None else None
    if route is None:
        _transport, wire = await loop.create_connection(
            Wire, host, port, ssl=ssl_context, server_hostname=hostname
        )
    else:
        # A second past our own limit, so the caller's timer is the one that fires.
        sock = await route.connect(host, port, timeout + 1.0)
        try:
            # asyncio only sets this on sockets created with proto=IPPROTO_TCP,
            # and python-socks creates its socket with proto 0.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _transport, wire = await loop.create_connection(
                Wire, sock=sock, ssl=ssl_context, server_hostname=hostname
            )
        except BaseException:
            sock.close()
            raise
    return Connection(wire, key)


class Pool:
    """Idle keep-alive connections per key, handed out last-in first-out."""

    __slots__ = (
        "_idle",
        "_max_idle",
        "_ttl",
        "_timer",
        "_closed",
        "opened",
        "reused",
        "idle",
        "in_use",
    )

    def __init__(self, max_idle: int, idle_ttl: float) -> None:
        self._idle: dict[PoolKey, list[Connection]] = {}
        self._max_idle = max_idle
        self._ttl = idle_ttl
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False  # after close_all nothing is kept
        self.opened = 0
        self.reused = 0
        self.idle = 0
        self.in_use = 0

    def acquire(self, key: PoolKey) -> Connection | None:
        """The freshest usable idle connection for ``key``, checked out; or None."""
        stack = self._idle.get(key)
        if not stack:
            return None
        oldest_allowed = time.monotonic() - self._ttl
        while stack:
            conn = stack.pop()
            self.idle -= 1
            if conn.idle_since > oldest_allowed and conn.wire.idle_usable():
                if not stack:
                    del self._idle[key]
                conn.checked_out = True
                self.in_use += 1
                self.reused += 1
                return conn
            conn.wire.abort()
        del self._idle[key]
        return None

    def track_new(self, conn: Connection) -> None:
        self.opened += 1
        self.in_use += 1

    def release(self, conn: Connection) -> None:
        """Take back a connection whose exchange completed cleanly."""
        if not conn.checked_out:
            return
        conn.checked_out = False
        self.in_use -= 1
        stack = self._idle.setdefault(conn.key, [])
        if self._closed or len(stack) >= self._max_idle or not conn.wire.idle_usable():
            if not stack:
                del self._idle[conn.key]
            conn.wire.close()
            return
        conn.idle_since = time.monotonic()
        stack.append(conn)
        self.idle += 1
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._ttl, self._sweep)

    def discard(self, conn: Connection) -> None:
        """Close a checked-out connection that must not be reused."""
        conn.wire.abort()
        if conn.checked_out:
            conn.checked_out = False
            self.in_use -= 1

    def _sweep(self) -> None:
        """Close idle connections past their TTL; re-arm for the next expiry."""
        self._timer = None
        now = time.monotonic()
        oldest_allowed = now - self._ttl
        next_expiry: float | None = None
        for key in list(self._idle):
            stack = self._idle[key]
            # Stacks are ordered oldest first, so expired ones form a prefix.
            expired = 0
            while expired < len(stack) and stack[expired].idle_since <= oldest_allowed:
                stack[expired].wire.close()
                expired += 1
            if expired:
                del stack[:expired]
                self.idle -= expired
            if not stack:
                del self._idle[key]
                continue
            first = stack[0].idle_since + self._ttl
            next_expiry = first if next_expiry is None else min(next_expiry, first)
        if next_expiry is not None:
            # A small margin so the re-armed timer never fires just before expiry.
            delay = max(next_expiry - now, 0.0) + 0.01
            self._timer = asyncio.get_running_loop().call_later(delay, self._sweep)

    def close_all(self) -> None:
        """Close every idle connection; from now on, connections in use are
        closed when released instead of kept."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for stack in self._idle.values():
            for conn in stack:
                conn.wire.abort()
        self._idle.clear()
        self.idle = 0

    def stats(self) -> dict[str, int]:
        return {
            "opened": self.opened,
            "reused": self.reused,
            "idle": self.idle,
            "in_use": self.in_use,
        }

"""An upstream response whose head has arrived and whose body is read on demand.

The body is handed over as it arrives: each read returns everything the parser can
parse out of what the socket delivered, without waiting for more, so SSE
events from a model flow through one by one. Once the body ends cleanly the
connection goes straight back to the pool; on any error, timeout or
cancellation it is dropped at once (a dropped socket is how a client's
disconnect reaches the upstream).
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from omniroute.errors import UpstreamError, UpstreamProtocolError, UpstreamTimeout
from omniroute.upstream.http11 import END, NEED_DATA, Head, ProtocolError, ResponseParser
from omniroute.upstream.pool import Connection, Pool


class UpstreamResponse:
    __slots__ = (
        "status",
        "reason",
        "headers",
        "_parser",
        "_conn",
        "_pool",
        "_label",
        "_idle",
        "_deadline",
        "_total",
        "_max_bytes",
        "_done",
    )

    def __init__(
        self,
        head: Head,
        parser: ResponseParser,
        conn: Connection,
        pool: Pool,
        label: str,
        *,
        idle: float,
        deadline: float,
        total: float,
        max_bytes: int,
    ) -> None:
        self.status: int = head.status
        self.reason: str = head.reason
        self.headers: list[tuple[str, str]] = head.headers
        self._parser = parser
        self._conn: Connection | None = conn
        self._pool = pool
        self._label = label
        self._idle = idle
        self._deadline = deadline  # loop time when the whole exchange must be over
        self._total = total
        self._max_bytes = max_bytes
        self._done = False  # the body ended cleanly

    def __repr__(self) -> str:
        return f"<UpstreamResponse {self.status} from {self._label}>"

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    async def read(self) -> bytes:
        """The rest of the body, at most ``upstream_max_response_bytes``."""
        declared = self.header("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            self._abort()
            raise self._too_large()
        parts: list[bytes] = []
        size = 0
        while (chunk := await self._next_chunk()) is not None:
            size += len(chunk)
            if size > self._max_bytes:
                self._abort()
                raise self._too_large()
            parts.append(chunk)
        return b"".join(parts)

    def iter_raw(self) -> BodyIterator:
        """Body chunks as they arrive; may be resumed after an early ``break``."""
        return BodyIterator(self)

    async def aclose(self) -> None:
        """Release the connection: back to the pool if the body has fully
        arrived (even if unread), closed otherwise. Idempotent."""
        conn = self._conn
        if conn is None:
            return
        parser = self._parser
        try:
            # Consume what is already here without waiting: a short body that
            # arrived with the head still lets the connection be reused.
            while True:
                event = parser.next_event()
                if event is NEED_DATA:
                    if not conn.wire.ready():
                        break
                    parser.feed(conn.wire.read_nowait())
                elif event is END:
                    self._finish(conn)
                    return
        except (OSError, ProtocolError):
            pass
        self._abort()

    async def __aenter__(self) -> UpstreamResponse:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- internals

    async def _next_chunk(self) -> bytes | None:
        """Everything of the body that can be had with at most one wait; None
        at the end of the body."""
        conn = self._conn
        if conn is None:
            if self._done:
                return None
            raise UpstreamProtocolError(f"the response from {self._label} is already closed")
        parser, wire = self._parser, conn.wire
        parts: list[bytes] = []
        timer: asyncio.Timeout | None = None
        total_phase = False
        try:
            while True:
                event = parser.next_event()
                if event is NEED_DATA:
                    if parts:
                        break
                    now = asyncio.get_running_loop().time()
                    if now >= self._deadline:  # also when data never stops coming
                        raise self._timed_out(True)
                    if wire.ready():
                        parser.feed(wire.read_nowait())
                        continue
                    idle_end = now + self._idle
                    total_phase = idle_end >= self._deadline
                    timer = asyncio.timeout_at(min(idle_end, self._deadline))
                    async with timer:
                        parser.feed(await wire.read())
                elif event is END:
                    self._finish(conn)
                    break
                else:
                    assert isinstance(event, bytes)
                    parts.append(event)
        except TimeoutError as exc:
            self._abort()
            if timer is not None and timer.expired():
                raise self._timed_out(total_phase) from None
            raise self._broken(exc) from None
        except (OSError, ProtocolError) as exc:
            self._abort()
            raise self._broken(exc) from None
        except BaseException:
            self._abort()  # cancelled: close the socket so the upstream stops too
            raise
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _finish(self, conn: Connection) -> None:
        """The body ended: pool the connection if it can carry another request."""
        self._conn = None
        self._done = True
        # Bytes beyond the end of this response were never asked for (a
        # server may send a 408 before closing): such a connection is done.
        if self._parser.reusable and not conn.wire.ready():
            self._pool.release(conn)
        else:
            self._pool.discard(conn)

    def _abort(self) -> None:
        conn = self._conn
        if conn is not None:
            self._conn = None
            self._pool.discard(conn)

    def _timed_out(self, total_phase: bool) -> UpstreamTimeout:
        if total_phase:
            return UpstreamTimeout(
                f"the exchange with {self._label} took longer than {self._total:g} s",
                phase="total",
            )
        return UpstreamTimeout(
            f"{self._label} sent nothing for {self._idle:g} s in the middle of the body",
            phase="idle",
        )

    def _broken(self, exc: BaseException) -> UpstreamProtocolError:
        # Only the kind of failure is named, never the bytes.
        if isinstance(exc, OSError):
            what = "the connection was reset"
        else:
            what = "the connection closed or the body was malformed"
        return UpstreamProtocolError(f"reading the body from {self._label} failed: {what}")

    def _too_large(self) -> UpstreamError:
        return UpstreamProtocolError(
            f"the response from {self._label} is larger than {self._max_bytes} bytes"
        )


class BodyIterator:
    """``async for chunk in response.iter_raw()``. A plain object rather than
    an async generator, so that leaving the loop early needs no finalisation
    and the same iterator can be resumed."""

    __slots__ = ("_response",)

    def __init__(self, response: UpstreamResponse) -> None:
        self._response = response

    def __aiter__(self) -> BodyIterator:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self._response._next_chunk()
        if chunk is None:
            raise StopAsyncIteration
        return chunk

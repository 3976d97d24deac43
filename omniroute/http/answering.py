"""One request's way through the connection's task: run the handler, send
its answer whole or streamed, and end a stream at shutdown.

The connection (``server._Channel``) is reached through :class:`Link`: its
sans-IO protocol, a write, a wait for the write buffer to drain, and whether
the client left or shutdown's grace ran out. Both of those cancel the task;
what is sent then depends on how far the answer got.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from omniroute import errors
from omniroute.http.answers import InvalidResponse, describe
from omniroute.http.message import Handler, Request, Response, StreamResponse
from omniroute.http.protocol import HTTPConnection

__all__ = ["Link", "aclose", "answer"]

_log = logging.getLogger("omniroute.http")


class Link(Protocol):
    """What answering needs from the connection."""

    @property
    def http(self) -> HTTPConnection: ...

    @property
    def gone(self) -> bool:
        """The client left: nothing more is written."""

    @property
    def stopping(self) -> bool:
        """Shutdown's grace ran out while this answer was under way."""

    @property
    def last_words(self) -> bytes | None:
        """What the stream's ``on_shutdown`` gave when the stop came (None: not asked)."""

    def streaming(self, response: StreamResponse | None) -> None:
        """The stream being sent now (None once it is over)."""

    def now(self) -> float: ...

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None:
        """Wait while the transport's buffer is above its high-water mark."""


async def answer(link: Link, handler: Handler, request: Request) -> None:
    """Run ``handler`` for ``request`` and send what it returns."""
    http = link.http
    try:
        response = await _call(http, handler, request)
        if link.gone:
            if isinstance(response, StreamResponse):
                await aclose(response.chunks)
            return
        if isinstance(response, StreamResponse):
            await _stream(link, request, response)
        else:
            link.write(http.respond(response, link.now()))
    except asyncio.CancelledError:
        if link.stopping and not link.gone and http.busy and not http.response_started:
            error = http.error_response(503, "server is shutting down")
            link.write(http.respond(error, link.now()))
        raise


async def _call(
    http: HTTPConnection, handler: Handler, request: Request
) -> Response | StreamResponse:
    """The handler's answer; an exception becomes an error answer (the
    client never sees a traceback)."""
    try:
        response = await handler(request)
    except errors.OmniError as exc:
        return http.error_response(exc.status, exc.message, exc)
    except Exception:
        _log.exception("handler failed for %s", describe(request))
        return http.error_response(500, "internal server error")
    if not isinstance(response, Response | StreamResponse):
        _log.error("handler returned %s for %s", type(response).__name__, describe(request))
        return http.error_response(500, "internal server error")
    return response


async def _stream(link: Link, request: Request, response: StreamResponse) -> None:
    http = link.http
    chunks = response.chunks
    link.streaming(response)
    try:
        first = b""
        more = http.body_allowed(response.status)
        if more:
            # The head goes out with the first chunk: one packet, and a
            # producer failing before any byte still gets a real error answer.
            try:
                first = await anext(chunks)
            except StopAsyncIteration:
                more = False
            except errors.OmniError as exc:
                error = http.error_response(exc.status, exc.message, exc)
                link.write(http.respond(error, link.now()))
                return
            except Exception:
                _log.exception("stream failed before its first chunk: %s", describe(request))
                error = http.error_response(500, "internal server error")
                link.write(http.respond(error, link.now()))
                return
        try:
            head = http.start_stream(response.status, response.headers)
        except InvalidResponse:
            _log.error("handler built an invalid response for %s", describe(request))
            error = http.error_response(500, "internal server error")
            link.write(http.respond(error, link.now()))
            return
        if not more:
            link.write(head + http.end_stream(link.now()))
            return
        link.write(head + http.frame(first))
        await link.drain()
        async for chunk in chunks:
            if chunk:
                link.write(http.frame(chunk))
                await link.drain()
        link.write(http.end_stream(link.now()))
    except asyncio.CancelledError:
        if not await _shutdown_tail(link, response):
            raise
    except Exception:
        # Headers are out: the only honest signal left is to close without
        # the terminating chunk, so the client sees a truncated body.
        _log.exception("stream failed: %s", describe(request))
        http.abort()
    finally:
        link.streaming(None)
        await aclose(chunks)


async def _shutdown_tail(link: Link, response: StreamResponse) -> bool:
    """Shutdown's grace ran out mid-stream: close the producer and end the
    body cleanly with the response's own last words (``on_shutdown``, which
    the connection asked for before interrupting the producer).
    False when that does not apply (no ``on_shutdown``, the client left, or
    no byte was sent yet)."""
    http = link.http
    if response.on_shutdown is None or not link.stopping or link.gone:
        return False
    if not http.response_started:
        return False
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()  # this cancellation is handled here
    last = link.last_words or b""
    await aclose(response.chunks)
    link.write(http.frame(last) + http.end_stream(link.now()))
    return True


async def aclose(chunks: object) -> None:
    """Close a chunk iterator so its ``finally`` runs (and can stop its upstream)."""
    close: Callable[[], Awaitable[object]] | None = getattr(chunks, "aclose", None)
    if close is None:
        return
    try:
        await close()
    except Exception:
        _log.exception("closing a response stream failed")

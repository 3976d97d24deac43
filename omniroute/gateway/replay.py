"""Sharing one answer between identical requests.

A JSON answer is shared as bytes (each caller gets its own Response object).
A stream is recorded by a pump task that consumes it independently of any
one client; every caller replays the recording from the start and then
follows it live until it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from omniroute.http.message import Response, StreamResponse


class Shared:
    """An answer that several callers may each receive in full."""

    __slots__ = ("_response", "_chunks", "_done", "_changed", "_pump")

    def __init__(self, response: Response | StreamResponse) -> None:
        self._response = response
        self._chunks: list[bytes] = []
        self._done = True
        self._changed = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        if isinstance(response, StreamResponse):
            self._done = False
            self._pump = asyncio.get_running_loop().create_task(self._record(response.chunks))

    async def _record(self, chunks: AsyncIterator[bytes]) -> None:
        try:
            async for chunk in chunks:
                self._chunks.append(chunk)
                self._wake()
        finally:
            self._done = True
            self._wake()
            close = getattr(chunks, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _replay(self) -> AsyncIterator[bytes]:
        sent = 0
        while True:
            while sent < len(self._chunks):
                yield self._chunks[sent]
                sent += 1
            if self._done:
                return
            await self._changed.wait()

    def response(self) -> Response | StreamResponse:
        """A fresh response object for one caller."""
        src = self._response
        if isinstance(src, Response):
            return Response(src.status, src.body, list(src.headers))
        return StreamResponse(self._replay(), src.status, list(src.headers))

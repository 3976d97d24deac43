"""Streamed answers and shutdown over a loopback socket: producers,
disconnects, write backpressure, and the end of a stream at shutdown."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from omniroute import errors
from omniroute.http import Request, Response, StreamResponse
from tests.http.wire import RawResponse, Stuck, Wire, get, serving, streams, until

pytestmark = pytest.mark.anyio


async def test_stream_chunks_reach_the_client_one_by_one() -> None:
    got_first = asyncio.Event()
    produced: list[int] = []

    async def produce() -> AsyncIterator[bytes]:
        produced.append(1)
        yield b"data: one\n\n"
        await got_first.wait()  # only once the client has chunk 1
        produced.append(2)
        yield b"data: two\n\n"

    async with serving(streams(produce)) as (_, port):
        wire = await Wire.open(port)
        await wire.send(get("/stream"))
        head = await wire.head()
        assert head.status == 200
        assert head.header("transfer-encoding") == "chunked"
        assert head.header("content-type") == "text/event-stream"
        assert await wire.chunk() == b"data: one\n\n"
        assert produced == [1]
        got_first.set()
        assert await wire.chunk() == b"data: two\n\n"
        assert await wire.chunk() is None
        await wire.send(get("/stream"))  # keep-alive after a stream
        got_first.set()
        assert (await wire.response()).body == b"data: one\n\ndata: two\n\n"
        await wire.close()


async def test_head_of_a_stream_does_not_run_the_stream() -> None:
    iterated: list[bool] = []

    async def produce() -> AsyncIterator[bytes]:
        iterated.append(True)
        yield b"data"

    async with serving(streams(produce)) as (_, port):
        wire = await Wire.open(port)
        await wire.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n")
        head = await wire.response(method="HEAD")
        assert head.status == 200
        assert head.header("content-type") == "text/event-stream"
        assert iterated == []
        await wire.send(get("/"))
        assert (await wire.response()).body == b"data"
        await wire.close()


async def test_stream_to_http10_client_is_close_delimited() -> None:
    async def produce() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"

    async def handler(request: Request) -> StreamResponse:
        return StreamResponse(produce(), content_type="text/plain")

    async with serving(handler) as (_, port):
        wire = await Wire.open(port)
        await wire.send(b"GET / HTTP/1.0\r\n\r\n")
        response = await wire.response()
        assert response.header("transfer-encoding") is None
        assert response.header("content-length") is None
        assert response.body == b"ab"
        await wire.close()


async def _answer_when_the_producer_raises(error: Exception) -> RawResponse:
    """The answer to a stream whose producer raises ``error`` before its first chunk."""

    async def produce() -> AsyncIterator[bytes]:
        raise error
        yield b""  # pragma: no cover - makes this an async generator

    async with serving(streams(produce)) as (_, port):
        wire = await Wire.open(port)
        await wire.send(get("/"))
        response = await wire.response()
        await wire.close()
    return response


async def test_producer_error_before_first_chunk_is_a_500() -> None:
    response = await _answer_when_the_producer_raises(ValueError("upstream exploded"))
    assert response.status == 500
    assert b"exploded" not in response.body


async def test_producer_omni_error_before_first_chunk_keeps_its_status() -> None:
    error = errors.UpstreamTimeout("upstream too slow", phase="first_byte")
    response = await _answer_when_the_producer_raises(error)
    assert response.status == 504
    assert json.loads(response.body)["error"]["message"] == "upstream too slow"


async def test_producer_error_mid_stream_truncates_and_closes() -> None:
    async def produce() -> AsyncIterator[bytes]:
        yield b"partial"
        raise ValueError("upstream exploded")

    async with serving(streams(produce)) as (_, port):
        wire = await Wire.open(port)
        await wire.send(get("/"))
        await wire.head()
        assert await wire.chunk() == b"partial"
        rest = await wire.closed()
        assert b"0\r\n\r\n" not in rest  # no terminating chunk: the client sees truncation


# -- the client going away ---------------------------------------------------------------


async def test_client_disconnect_mid_stream_closes_the_producer() -> None:
    loop = asyncio.get_running_loop()
    finished = asyncio.Event()
    record: dict[str, float | bool] = {}

    async def produce(request: Request) -> AsyncIterator[bytes]:
        try:
            yield b"first"
            await asyncio.Event().wait()  # an upstream that never sends again
            yield b"never"
        finally:
            record["at"] = loop.time()
            record["disconnected"] = request.disconnected.is_set()
            finished.set()

    async def handler(request: Request) -> StreamResponse:
        return StreamResponse(produce(request))

    async with serving(handler) as (server, port):
        wire = await Wire.open(port)
        await wire.send(get("/"))
        await wire.head()
        assert await wire.chunk() == b"first"
        assert server.active_requests == 1
        closed_at = loop.time()
        await wire.close()
        async with asyncio.timeout(2):
            await finished.wait()
        assert record["at"] - closed_at < 0.25
        assert record["disconnected"] is True
        await until(lambda: server.active_requests == 0)
        assert server.active_requests == 0


async def test_client_disconnect_while_the_first_chunk_is_awaited() -> None:
    finished = asyncio.Event()

    async def produce() -> AsyncIterator[bytes]:
        try:
            await asyncio.Event().wait()
            yield b"never"
        finally:
            finished.set()

    async with serving(streams(produce)) as (_, port):
        wire = await Wire.open(port)
        await wire.send(get("/"))
        await asyncio.sleep(0.05)
        await wire.close()
        async with asyncio.timeout(0.25):
            await finished.wait()


async def test_a_stream_waits_while_the_client_does_not_read() -> None:
    produced = [0]
    closed = asyncio.Event()
    chunk = b"x" * 65536

    async def produce() -> AsyncIterator[bytes]:
        try:
            while produced[0] < 256 * 1024 * 1024:
                produced[0] += len(chunk)
                yield chunk
        finally:
            closed.set()

    async with serving(streams(produce)) as (_, port):
        wire = await Wire.open(port)
        await wire.send(get("/"))
        await wire.head()
        # Without backpressure the producer would run to 256 MiB at once;
        # with it, it stops once the socket buffers are full.
        last = -1
        for _ in range(100):
            await asyncio.sleep(0.05)
            if produced[0] == last:
                break
            last = produced[0]
        assert produced[0] < 64 * 1024 * 1024
        for _ in range(1000):  # reading lets it go on, once buffers have room again
            assert await wire.chunk() == chunk
            if produced[0] > last:
                break
        assert produced[0] > last
        wire.writer.transport.abort()
        async with asyncio.timeout(2):
            await closed.wait()


# -- shutdown ----------------------------------------------------------------------------


async def test_graceful_shutdown_finishes_in_flight_and_refuses_new() -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def handler(request: Request) -> Response:
        if request.path == "/slow":
            started.set()
            await release.wait()
        return Response(200, b"done")

    server_cm = serving(handler)
    server, port = await server_cm.__aenter__()
    try:
        busy = await Wire.open(port)
        idle = await Wire.open(port)
        await idle.send(get("/quick"))
        assert (await idle.response()).status == 200
        await busy.send(get("/slow"))
        async with asyncio.timeout(2):
            await started.wait()
        stopping = asyncio.create_task(server.shutdown(grace=5.0))
        assert await idle.closed(timeout=2.0) == b""  # idle keep-alive closed at once
        with pytest.raises(OSError):
            await Wire.open(port)
        assert not stopping.done()
        release.set()
        response = await busy.response()
        assert response.status == 200 and response.body == b"done"
        assert response.header("connection") == "close"
        async with asyncio.timeout(3):
            await stopping
        assert server.connection_count == 0
        assert server.active_requests == 0
        await busy.close()
    finally:
        await server_cm.__aexit__(None, None, None)


async def test_shutdown_cancels_requests_after_the_grace() -> None:
    handler = Stuck()
    async with serving(handler) as (server, port):
        wire = await Wire.open(port)
        await wire.send(get("/"))
        async with asyncio.timeout(2):
            await handler.started.wait()
        async with asyncio.timeout(3):
            await server.shutdown(grace=0.1)
        assert handler.cancelled.is_set()
        response = await wire.response()
        assert response.status == 503
        assert response.header("connection") == "close"
        await wire.close()


def _endless(log: list[str]) -> AsyncIterator[bytes]:
    async def produce() -> AsyncIterator[bytes]:
        try:
            yield b"data: one\n\n"
            await asyncio.Event().wait()  # an upstream still thinking
            yield b"never"
        finally:
            log.append("producer closed")

    return produce()


async def _stream_at_shutdown(response: StreamResponse) -> Wire:
    """Start ``response`` for a client, then shut the server down with a short
    grace; returns the client with the first chunk read."""

    async def handler(request: Request) -> StreamResponse:
        return response

    async with serving(handler) as (server, port):
        wire = await Wire.open(port)
        await wire.send(get("/"))
        head = await wire.head()
        assert head.header("transfer-encoding") == "chunked"
        assert await wire.chunk() == b"data: one\n\n"
        async with asyncio.timeout(4):
            await server.shutdown(grace=0.1)
        return wire


async def test_shutdown_ends_a_stream_with_its_own_last_words() -> None:
    log: list[str] = []

    def last_words() -> bytes:
        log.append("on_shutdown")
        return b'event: error\ndata: {"error": "server shutting down"}\n\n'

    wire = await _stream_at_shutdown(StreamResponse(_endless(log), on_shutdown=last_words))
    assert await wire.chunk() == b'event: error\ndata: {"error": "server shutting down"}\n\n'
    assert await wire.chunk() is None  # the body ends cleanly
    assert await wire.closed() == b""
    assert log == ["on_shutdown", "producer closed"]  # asked before the producer stops


async def test_shutdown_tail_may_be_empty() -> None:
    log: list[str] = []
    wire = await _stream_at_shutdown(StreamResponse(_endless(log), on_shutdown=lambda: b""))
    assert await wire.chunk() is None
    assert await wire.closed() == b""
    assert log == ["producer closed"]


async def test_shutdown_cuts_a_stream_without_last_words() -> None:
    log: list[str] = []
    wire = await _stream_at_shutdown(StreamResponse(_endless(log)))
    rest = await wire.closed()
    assert b"0\r\n\r\n" not in rest  # truncated, as the client should see it
    assert log == ["producer closed"]

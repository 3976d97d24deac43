"""Timeouts, broken connections and cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

from omniroute.errors import UpstreamConnectError, UpstreamProtocolError, UpstreamTimeout
from omniroute.upstream import Timeouts, UpstreamClient
from tests.upstream.servers import Handler, Peer, Server, closed_port, never_answer, settings

pytestmark = pytest.mark.anyio

SHORT = Timeouts(connect=0.3, first_byte=0.3, idle=0.3, total=10.0)


def _total_only(seconds: float) -> Timeouts:
    """Timeouts where only the total one can run out."""
    return Timeouts(connect=5, first_byte=5, idle=5, total=seconds)


@asynccontextmanager
async def _client() -> AsyncIterator[UpstreamClient]:
    """A client closed on the way out, whatever the test raised."""
    client = UpstreamClient(settings())
    try:
        yield client
    finally:
        await client.aclose()


def _sends_then_waits(data: bytes) -> Handler:
    """A server that reads the request, sends ``data`` and waits for the client to go."""

    async def handler(peer: Peer) -> None:
        await peer.read_request()
        peer.send(data)
        await peer.wait_eof()

    return handler


async def test_connect_timeout_covers_the_tls_handshake() -> None:
    # The kernel completes the TCP handshake but no TLS answer ever comes.
    async with Server(never_answer) as server, _client() as client:
        with anyio.fail_after(5), pytest.raises(UpstreamTimeout) as info:
            await client.send("GET", server.url("/v1?key=k", scheme="https"), [], timeouts=SHORT)
    assert info.value.phase == "connect"
    assert info.value.status == 504
    assert f"https://127.0.0.1:{server.port}/v1" in info.value.message
    assert "key=" not in info.value.message
    assert client.stats() == {"opened": 0, "reused": 0, "idle": 0, "in_use": 0}
    with anyio.fail_after(1):
        await server.peers[0].closed.wait()  # the half-open attempt was dropped


async def test_connect_timeout_covers_the_proxy_handshake() -> None:
    async with Server(never_answer) as silent_proxy, _client() as client:
        with anyio.fail_after(5), pytest.raises(UpstreamTimeout) as info:
            await client.send(
                "GET",
                "http://127.0.0.1:9/",
                [],
                proxy=f"socks5://u:pw-secret@127.0.0.1:{silent_proxy.port}",
                timeouts=SHORT,
            )
    assert info.value.phase == "connect"
    assert "pw-secret" not in str(info.value)
    assert f"socks5://127.0.0.1:{silent_proxy.port}" in info.value.message


async def test_first_byte_timeout_when_the_server_never_answers() -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        await peer.wait_eof()

    async with Server(handler) as server, _client() as client:
        with anyio.fail_after(5), pytest.raises(UpstreamTimeout) as info:
            await client.send("POST", server.url("/slow"), [], b"{}", timeouts=SHORT)
        assert info.value.phase == "first_byte"
        assert client.stats()["in_use"] == 0
        with anyio.fail_after(1):
            await server.peers[0].closed.wait()
    assert len(server.requests) == 1  # sent once, no retry after a timeout


async def test_idle_timeout_when_the_stream_stalls() -> None:
    handler = _sends_then_waits(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
    )
    async with Server(handler) as server, _client() as client:
        resp = await client.send("GET", server.url("/s?alt=sse"), [], timeouts=SHORT)
        chunks = resp.iter_raw()
        assert await chunks.__anext__() == b"hello"
        with anyio.fail_after(5), pytest.raises(UpstreamTimeout) as info:
            await chunks.__anext__()
        assert info.value.phase == "idle"
        assert "alt=sse" not in info.value.message
        assert client.stats()["in_use"] == 0
        with anyio.fail_after(1):
            await server.peers[0].closed.wait()


async def test_idle_timeout_applies_to_read() -> None:
    handler = _sends_then_waits(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    async with Server(handler) as server, _client() as client:
        resp = await client.send("GET", server.url(), [], timeouts=SHORT)
        with anyio.fail_after(5), pytest.raises(UpstreamTimeout) as info:
            await resp.read()
        assert info.value.phase == "idle"


async def test_total_timeout_while_the_stream_trickles() -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(200):  # ~10 s at most, far beyond the 0.5 s total
            peer.send(b"1\r\n.\r\n")
            await asyncio.sleep(0.05)

    async with Server(handler) as server, _client() as client:
        resp = await client.send("GET", server.url(), [], timeouts=_total_only(0.5))
        received = 0
        with anyio.fail_after(5), pytest.raises(UpstreamTimeout) as info:
            async for chunk in resp.iter_raw():
                received += len(chunk)
        assert info.value.phase == "total"
        assert received > 0


async def test_total_timeout_while_data_is_always_waiting() -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        # Far longer than the 0.3 s total, and never a pause the client would wait in.
        for _ in range(400):
            if peer.reader.at_eof():
                return
            peer.send(b"1\r\n.\r\n")
            await asyncio.sleep(0.005)

    async with Server(handler) as server, _client() as client:
        resp = await client.send("GET", server.url(), [], timeouts=_total_only(0.3))
        with anyio.fail_after(5), pytest.raises(UpstreamTimeout) as info:
            async for _ in resp.iter_raw():
                await asyncio.sleep(0.1)  # a slow consumer: bytes pile up meanwhile
        assert info.value.phase == "total"


async def test_total_timeout_before_the_head() -> None:
    async with Server(never_answer) as server, _client() as client:
        with anyio.fail_after(5), pytest.raises(UpstreamTimeout) as info:
            await client.send("GET", server.url(), [], timeouts=_total_only(0.3))
    assert info.value.phase == "total"


async def test_connection_refused() -> None:
    port = closed_port()
    async with _client() as client:
        with pytest.raises(UpstreamConnectError) as info:
            await client.send("POST", f"http://127.0.0.1:{port}/v1/x?key=abc", [], b"{}")
    assert info.value.status == 502
    assert f"http://127.0.0.1:{port}/v1/x" in info.value.message
    assert "abc" not in str(info.value)
    assert client.stats()["opened"] == 0


async def test_unresolvable_host() -> None:
    timeouts = Timeouts(connect=3, first_byte=3, idle=3, total=3)
    async with _client() as client:
        # A resolver that cannot be reached at all times out instead.
        with pytest.raises((UpstreamConnectError, UpstreamTimeout)) as info:
            await client.send("GET", "http://no-such-host.invalid/x", [], timeouts=timeouts)
    assert "http://no-such-host.invalid:80/x" in info.value.message
    if isinstance(info.value, UpstreamTimeout):
        assert info.value.phase == "connect"


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param(b"Content-Length: 100\r\n\r\n" + b"a" * 10, id="content-length"),
        pytest.param(b"Transfer-Encoding: chunked\r\n\r\n64\r\n" + b"a" * 10, id="chunked"),
    ],
)
@pytest.mark.parametrize("how", ["reset", "eof"])
async def test_connection_lost_mid_body_is_a_protocol_error(tail: bytes, how: str) -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        peer.send(b"HTTP/1.1 200 OK\r\n" + tail)
        await peer.writer.drain()
        await asyncio.sleep(0.05)
        if how == "reset":
            peer.reset()

    async with Server(handler) as server, _client() as client:
        resp = await client.send("GET", server.url("/b?key=q1"), [])
        with anyio.fail_after(5), pytest.raises(UpstreamProtocolError) as info:
            await resp.read()
        assert f"http://127.0.0.1:{server.port}/b" in info.value.message
        assert "q1" not in str(info.value)
        assert client.stats() == {"opened": 1, "reused": 0, "idle": 0, "in_use": 0}


async def test_malformed_head_is_a_protocol_error() -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        peer.send(b"SMTP ready\r\n\r\n")

    async with Server(handler) as server, _client() as client:
        with pytest.raises(UpstreamProtocolError):
            await client.send("GET", server.url(), [])


async def _cancel_and_expect_eof(server: Server, task: asyncio.Task[object]) -> None:
    task.cancel()
    with anyio.fail_after(0.25):
        await server.peers[0].closed.wait()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_cancel_while_waiting_for_the_head_closes_the_socket() -> None:
    got_request = asyncio.Event()

    async def handler(peer: Peer) -> None:
        await peer.read_request()
        got_request.set()
        await peer.wait_eof()

    async with Server(handler) as server, _client() as client:
        task = asyncio.create_task(client.send("POST", server.url(), [], b"{}"))
        with anyio.fail_after(5):
            await got_request.wait()
        await _cancel_and_expect_eof(server, task)  # type: ignore[arg-type]
        assert client.stats()["in_use"] == 0


@pytest.mark.parametrize("mode", ["iterate", "read"])
async def test_cancel_during_the_body_closes_the_socket(mode: str) -> None:
    handler = _sends_then_waits(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n"
    )
    async with Server(handler) as server:
        first = asyncio.Event()

        async def consume() -> None:
            resp = await client.send("GET", server.url(), [])
            if mode == "read":
                first.set()
                await resp.read()
            async for _ in resp.iter_raw():
                first.set()

        async with _client() as client:
            task = asyncio.create_task(consume())
            with anyio.fail_after(5):
                await first.wait()
            await asyncio.sleep(0.01)  # let the consumer block on the next read
            await _cancel_and_expect_eof(server, task)  # type: ignore[arg-type]
            assert client.stats() == {"opened": 1, "reused": 0, "idle": 0, "in_use": 0}

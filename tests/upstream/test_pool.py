"""Pool limits: idle cap per origin, idle TTL, and what counts as reusable."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from omniroute.upstream import UpstreamClient
from tests.upstream.servers import Peer, Server, serve_forever, settings

pytestmark = pytest.mark.anyio


async def test_idle_connections_are_capped_per_origin() -> None:
    arrived = 0
    all_here = asyncio.Event()

    async def handler(peer: Peer) -> None:
        nonlocal arrived
        await peer.read_request()
        arrived += 1
        if arrived == 3:
            all_here.set()
        await all_here.wait()  # hold answers so three connections are needed
        peer.respond(200, b"ok")
        await serve_forever(peer)

    async with Server(handler) as server:
        client = UpstreamClient(settings(upstream_pool_max_idle=1))

        async def one() -> bytes:
            return await (await client.send("GET", server.url(), [])).read()

        try:
            with anyio.fail_after(5):
                results = await asyncio.gather(one(), one(), one())
                assert results == [b"ok"] * 3
                assert client.stats() == {"opened": 3, "reused": 0, "idle": 1, "in_use": 0}
                # The two that did not fit were closed.
                while sum(p.closed.is_set() for p in server.peers) < 2:
                    await asyncio.sleep(0.01)
        finally:
            await client.aclose()


async def test_idle_connections_expire_after_the_ttl() -> None:
    async with Server(serve_forever) as server:
        client = UpstreamClient(settings(upstream_pool_idle_ttl=0.1))
        try:
            await (await client.send("GET", server.url(), [])).read()
            assert client.stats()["idle"] == 1
            with anyio.fail_after(2):
                await server.peers[0].closed.wait()  # closed by the pool's sweep, unprompted
            assert client.stats()["idle"] == 0
            await (await client.send("GET", server.url(), [])).read()
            assert client.stats()["opened"] == 2
        finally:
            await client.aclose()


@pytest.mark.parametrize("gap", [False, True], ids=["same-segment", "later"])
async def test_bytes_that_arrive_while_idle_retire_the_connection(gap: bool) -> None:
    async def handler(peer: Peer) -> None:
        request = await peer.read_request()
        assert request is not None
        peer.respond(200, b"fine")
        if peer.index == 0:
            if gap:
                await peer.writer.drain()
                await asyncio.sleep(0.02)
            # Some servers announce an idle timeout with an unsolicited 408.
            peer.respond(408, b"", (("Connection", "close"),), reason="Request Timeout")
            await peer.wait_eof()

    async with Server(handler) as server:
        client = UpstreamClient(settings())
        try:
            assert await (await client.send("GET", server.url(), [])).read() == b"fine"
            await asyncio.sleep(0.05)  # the 408 arrives while the connection is idle
            resp = await client.send("GET", server.url(), [])
            assert resp.status == 200
            assert await resp.read() == b"fine"
            assert client.stats()["opened"] == 2
        finally:
            await client.aclose()
    assert [r.conn for r in server.requests] == [0, 1]


async def test_origins_have_separate_pools() -> None:
    async with Server(serve_forever) as a, Server(serve_forever) as b:
        client = UpstreamClient(settings())
        try:
            for _ in range(2):
                for server in (a, b):
                    await (await client.send("GET", server.url(), [])).read()
            assert client.stats() == {"opened": 2, "reused": 2, "idle": 2, "in_use": 0}
        finally:
            await client.aclose()
    assert a.connections == b.connections == 1

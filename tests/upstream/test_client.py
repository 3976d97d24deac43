"""Request/response behaviour of the upstream client against loopback servers."""

from __future__ import annotations

import asyncio
import json

import anyio
import pytest

from omniroute.errors import UpstreamConnectError, UpstreamProtocolError
from omniroute.settings import Settings
from omniroute.upstream import Timeouts, UpstreamClient
from tests.upstream.servers import Peer, Server, serve_forever, settings

pytestmark = pytest.mark.anyio


def test_timeouts_from_settings() -> None:
    s = Settings().replace(
        upstream_connect_timeout=1.5,
        upstream_first_byte_timeout=2.5,
        upstream_idle_timeout=3.5,
        upstream_total_timeout=4.5,
    )
    assert Timeouts.from_settings(s) == Timeouts(connect=1.5, first_byte=2.5, idle=3.5, total=4.5)


async def test_json_round_trip_sends_what_was_asked() -> None:
    async def handler(peer: Peer) -> None:
        request = await peer.read_request()
        assert request is not None
        echo = {"method": request.method, "target": request.target, "body": request.body.decode()}
        peer.respond(
            201,
            json.dumps(echo).encode(),
            (("Content-Type", "application/json"), ("X-Request-Id", "abc")),
            reason="Created",
        )

    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Authorization", "Bearer sk-test"),
        ("X-Custom", "kept"),
        # Everything below is ours to set or hop-by-hop, so it must not be forwarded.
        ("Host", "evil.example"),
        ("Content-Length", "999"),
        ("Connection", "keep-alive, X-Private"),
        ("X-Private", "hop-by-hop via Connection"),
        ("Keep-Alive", "timeout=5"),
        ("Transfer-Encoding", "chunked"),
        ("TE", "trailers"),
        ("Upgrade", "h2c"),
        ("Proxy-Authorization", "Basic eDp5"),
        ("Proxy-Connection", "keep-alive"),
    ]
    async with Server(handler) as server:
        client = UpstreamClient(settings())
        try:
            resp = await client.send("POST", server.url("/v1/chat?alt=sse&x=1"), headers, body)
            async with resp:
                assert resp.status == 201
                assert resp.reason == "Created"
                assert resp.header("content-type") == "application/json"
                assert resp.header("X-REQUEST-ID") == "abc"
                assert resp.header("missing") is None
                assert all(name == name.lower() for name, _ in resp.headers)
                echo = json.loads(await resp.read())
        finally:
            await client.aclose()

    assert echo == {"method": "POST", "target": "/v1/chat?alt=sse&x=1", "body": body.decode()}
    [seen] = server.requests
    assert seen.body == body
    assert seen.header("host") == f"127.0.0.1:{server.port}"
    assert seen.header("content-length") == str(len(body))
    assert seen.header("authorization") == "Bearer sk-test"
    assert seen.header("x-custom") == "kept"
    assert seen.header("accept-encoding") == "identity"
    dropped = {
        "connection",
        "x-private",
        "keep-alive",
        "transfer-encoding",
        "te",
        "upgrade",
        "proxy-authorization",
        "proxy-connection",
    }
    assert not dropped & seen.header_names()
    assert [name for name, _ in seen.headers].count("Host") == 1


async def test_get_has_no_content_length_and_keeps_given_accept_encoding() -> None:
    async with Server(serve_forever) as server:
        client = UpstreamClient(settings())
        try:
            for method in ("GET", "POST"):
                resp = await client.send(method, server.url("/x"), [("Accept-Encoding", "gzip")])
                await resp.read()
        finally:
            await client.aclose()
    get, post = server.requests
    assert get.header("content-length") is None
    assert get.header("accept-encoding") == "gzip"
    assert post.header("content-length") == "0"  # POST always says how long its body is


async def test_keep_alive_reuses_one_connection() -> None:
    async with Server(serve_forever) as server:
        client = UpstreamClient(settings())
        try:
            for i in range(3):
                resp = await client.send("POST", server.url("/v1"), [], b"x" * i)
                assert json.loads(await resp.read()) == {"ok": True, "len": i}
            assert client.stats() == {"opened": 1, "reused": 2, "idle": 1, "in_use": 0}
        finally:
            await client.aclose()
    assert server.connections == 1
    assert [r.conn for r in server.requests] == [0, 0, 0]


async def test_in_use_counts_open_responses() -> None:
    async with Server(serve_forever) as server:
        client = UpstreamClient(settings())
        try:
            resp = await client.send("GET", server.url(), [])
            assert client.stats()["in_use"] == 1
            await resp.read()
            assert client.stats()["in_use"] == 0
            assert client.stats()["idle"] == 1
        finally:
            await client.aclose()


async def test_connection_closed_by_server_while_idle_is_not_reused() -> None:
    async def handler(peer: Peer) -> None:
        request = await peer.read_request()
        assert request is not None
        peer.respond(200, b"one")  # then close without saying so in advance

    async with Server(handler) as server:
        client = UpstreamClient(settings())
        try:
            assert await (await client.send("GET", server.url(), [])).read() == b"one"
            with anyio.fail_after(5):
                await server.peers[0].closed.wait()
                while client.stats()["idle"] and server.connections < 2:
                    assert await (await client.send("GET", server.url(), [])).read() == b"one"
        finally:
            await client.aclose()
    assert server.connections == 2
    assert len(server.requests) == 2


async def test_stale_pooled_connection_is_retried_on_a_fresh_one() -> None:
    async def handler(peer: Peer) -> None:
        first = await peer.read_request()
        assert first is not None
        if peer.index == 0:
            peer.respond(200, b"first")
            # The next request on this connection meets a close, as when a
            # server's keep-alive timer fires while the request is in flight.
            await peer.read_request()
            return
        peer.respond(200, b"fresh")

    async with Server(handler) as server:
        client = UpstreamClient(settings())
        try:
            assert await (await client.send("GET", server.url("/a"), [])).read() == b"first"
            assert await (await client.send("GET", server.url("/b"), [])).read() == b"fresh"
            assert client.stats() == {"opened": 2, "reused": 1, "idle": 1, "in_use": 0}
        finally:
            await client.aclose()
    assert [(r.target, r.conn) for r in server.requests] == [("/a", 0), ("/b", 0), ("/b", 1)]


async def test_fresh_connection_closed_before_response_is_an_error_not_a_retry() -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()

    async with Server(handler) as server:
        client = UpstreamClient(settings())
        try:
            with pytest.raises(UpstreamProtocolError) as info:
                await client.send("GET", server.url("/p?key=s3cret"), [])
        finally:
            await client.aclose()
    assert server.connections == 1
    assert f"http://127.0.0.1:{server.port}/p" in info.value.message
    assert "s3cret" not in str(info.value)


async def test_reused_connection_failing_after_response_bytes_is_not_retried() -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        peer.respond(200, b"ok")
        await peer.read_request()
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Le")  # half a head, then gone

    async with Server(handler) as server:
        client = UpstreamClient(settings())
        try:
            await (await client.send("GET", server.url(), [])).read()
            with pytest.raises(UpstreamProtocolError):
                await client.send("GET", server.url(), [])
        finally:
            await client.aclose()
    assert server.connections == 1


async def test_chunked_stream_arrives_chunk_by_chunk() -> None:
    go_on = asyncio.Event()
    second_sent = False

    async def handler(peer: Peer) -> None:
        nonlocal second_sent
        await peer.read_request()
        peer.send(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + _chunk(b"data: 1\n\n")
        )
        await go_on.wait()
        second_sent = True
        peer.send(_chunk(b"data: 2\n\n") + _chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
        await serve_forever(peer)

    async with Server(handler) as server:
        client = UpstreamClient(settings())
        try:
            with anyio.fail_after(5):
                resp = await client.send("POST", server.url("/stream"), [], b"{}")
                chunks = resp.iter_raw()
                first = await chunks.__anext__()
                assert first == b"data: 1\n\n"
                assert not second_sent  # it came before the server wrote more
                go_on.set()
                rest = [chunk async for chunk in chunks]
            assert b"".join(rest) == b"data: 2\n\ndata: [DONE]\n\n"
            # The finished stream's connection went back to the pool.
            assert client.stats()["idle"] == 1
            await (await client.send("GET", server.url(), [])).read()
        finally:
            await client.aclose()
    assert server.connections == 1


async def test_iteration_can_resume_after_break() -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunk(b"a"))
        await asyncio.sleep(0.05)
        peer.send(_chunk(b"b") + b"0\r\n\r\n")

    async with Server(handler) as server:
        client = UpstreamClient(settings())
        try:
            resp = await client.send("GET", server.url(), [])
            chunks = resp.iter_raw()
            seen = []
            async for chunk in chunks:
                seen.append(chunk)
                break
            async for chunk in chunks:
                seen.append(chunk)
            assert b"".join(seen) == b"ab"
            async for _ in chunks:
                pytest.fail("an ended body yields nothing more")
        finally:
            await client.aclose()


async def test_close_delimited_body_is_read_and_not_reused() -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")

    async with Server(handler) as server:
        client = UpstreamClient(settings())
        try:
            resp = await client.send("GET", server.url(), [])
            assert await resp.read() == b"until the end"
            assert client.stats() == {"opened": 1, "reused": 0, "idle": 0, "in_use": 0}
        finally:
            await client.aclose()


async def test_connection_close_response_is_not_pooled() -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        peer.respond(200, b"bye", (("Connection", "close"),))

    async with Server(handler) as server:
        client = UpstreamClient(settings())
        try:
            assert await (await client.send("GET", server.url(), [])).read() == b"bye"
            assert client.stats()["idle"] == 0
        finally:
            await client.aclose()


async def test_head_204_304_have_no_body_and_keep_the_connection() -> None:
    async def handler(peer: Peer) -> None:
        while (request := await peer.read_request()) is not None:
            if request.method == "HEAD":
                peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n")
            elif request.target == "/204":
                peer.send(b"HTTP/1.1 204 No Content\r\n\r\n")
            elif request.target == "/304":
                peer.send(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n")
            else:
                peer.respond(200, b"body")

    async with Server(handler) as server:
        client = UpstreamClient(settings())
        try:
            for method, path, status in (("HEAD", "/", 200), ("GET", "/204", 204)):
                resp = await client.send(method, server.url(path), [])
                assert resp.status == status
                assert await resp.read() == b""
            resp = await client.send("GET", server.url("/304"), [])
            await resp.aclose()  # without reading: nothing was owed, so it stays reusable
            assert await (await client.send("GET", server.url(), [])).read() == b"body"
        finally:
            await client.aclose()
    assert server.connections == 1


async def test_informational_responses_are_skipped() -> None:
    async def handler(peer: Peer) -> None:
        await peer.read_request()
        peer.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        await asyncio.sleep(0.02)
        peer.respond(200, b"final")

    async with Server(handler) as server:
        client = UpstreamClient(settings())
        try:
            resp = await client.send("POST", server.url(), [], b"x")
            assert resp.status == 200
            assert await resp.read() == b"final"
        finally:
            await client.aclose()


async def test_large_request_and_response_bodies() -> None:
    big_response = bytes(range(256)) * 12_000  # ~3 MB

    async def handler(peer: Peer) -> None:
        while (request := await peer.read_request()) is not None:
            peer.respond(200, big_response, (("X-Got", str(len(request.body))),))
            await peer.writer.drain()

    big_request = b"q" * 300_000
    async with Server(handler) as server:
        client = UpstreamClient(settings())
        try:
            for _ in range(2):
                resp = await client.send("PUT", server.url("/up"), [], big_request)
                assert resp.header("x-got") == str(len(big_request))
                assert await resp.read() == big_response
        finally:
            await client.aclose()
    assert all(r.body == big_request for r in server.requests)
    assert server.connections == 1


async def test_read_is_capped_by_max_response_bytes() -> None:
    async def handler(peer: Peer) -> None:
        while (request := await peer.read_request()) is not None:
            if request.target == "/declared":
                peer.respond(200, b"x" * 5000)
            else:
                peer.send(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + _chunk(b"y" * 600) * 3
                    + b"0\r\n\r\n"
                )

    async with Server(handler) as server:
        client = UpstreamClient(settings(upstream_max_response_bytes=1000))
        try:
            for path in ("/declared", "/chunked"):
                resp = await client.send("GET", server.url(path + "?key=zz"), [])
                with pytest.raises(UpstreamProtocolError) as info:
                    await resp.read()
                assert "1000 bytes" in info.value.message
                assert "zz" not in info.value.message
            assert client.stats()["in_use"] == 0
        finally:
            await client.aclose()


async def test_unread_response_closes_its_connection() -> None:
    async def handler(peer: Peer) -> None:
        while (request := await peer.read_request()) is not None:
            if request.target == "/slow":
                peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"z" * 10)
                await peer.wait_eof()
                return
            peer.respond(200, b"ok")

    async with Server(handler) as server:
        client = UpstreamClient(settings())
        try:
            resp = await client.send("GET", server.url("/slow"), [])
            await resp.aclose()
            await resp.aclose()  # idempotent
            with anyio.fail_after(1):
                await server.peers[0].closed.wait()
            with pytest.raises(UpstreamProtocolError):
                await resp.read()
            assert await (await client.send("GET", server.url(), [])).read() == b"ok"
            assert client.stats()["opened"] == 2
        finally:
            await client.aclose()


async def test_fully_arrived_body_is_reusable_without_reading() -> None:
    async with Server(serve_forever) as server:
        client = UpstreamClient(settings())
        try:
            async with await client.send("GET", server.url(), []) as resp:
                assert resp.status == 200
                await asyncio.sleep(0.05)  # the small body arrives meanwhile
            assert client.stats()["idle"] == 1
            await (await client.send("GET", server.url(), [])).read()
        finally:
            await client.aclose()
    assert server.connections == 1


async def test_bad_urls_and_headers_are_refused_without_leaking() -> None:
    client = UpstreamClient(settings())
    try:
        with pytest.raises(UpstreamConnectError):
            await client.send("GET", "ftp://127.0.0.1/x", [])
        with pytest.raises(UpstreamConnectError):
            await client.send("GET", "http://127.0.0.1:notaport/x", [])
        with pytest.raises(UpstreamProtocolError) as info:
            await client.send(
                "GET", "http://127.0.0.1:1/x", [("Authorization", "Bearer sk-abc\r\nX: y")]
            )
        assert "sk-abc" not in str(info.value)
        assert info.value.__cause__ is None and info.value.__suppress_context__
        assert client.stats()["opened"] == 0
    finally:
        await client.aclose()


async def test_aclose_closes_idle_connections() -> None:
    async with Server(serve_forever) as server:
        client = UpstreamClient(settings())
        await (await client.send("GET", server.url(), [])).read()
        await client.aclose()
        with anyio.fail_after(1):
            await server.peers[0].closed.wait()
        assert client.stats()["idle"] == 0


async def test_responses_open_at_aclose_are_not_pooled_afterwards() -> None:
    async with Server(serve_forever) as server:
        client = UpstreamClient(settings())
        resp = await client.send("GET", server.url(), [])
        await client.aclose()
        assert await resp.read() == b'{"ok":true,"len":0}'
        assert client.stats() == {"opened": 1, "reused": 0, "idle": 0, "in_use": 0}
        with anyio.fail_after(1):
            await server.peers[0].closed.wait()


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)

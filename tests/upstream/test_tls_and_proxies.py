"""TLS, SOCKS and HTTP CONNECT proxies, and the pool's per-proxy keying."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from omniroute.errors import UpstreamConnectError, UpstreamError
from omniroute.upstream import UpstreamClient
from tests.support.proxies import HttpConnectProxy, Socks5Proxy
from tests.upstream.servers import (
    SelfSigned,
    Server,
    closed_port,
    make_self_signed,
    serve_forever,
    settings,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SelfSigned]:
    yield make_self_signed(Path(tmp_path_factory.mktemp("tls")))


async def _get_json(client: UpstreamClient, url: str, proxy: str | None = None) -> object:
    resp = await client.send(
        "POST", url, [("Content-Type", "application/json")], b"{}", proxy=proxy
    )
    async with resp:
        assert resp.status == 200
        return json.loads(await resp.read())


async def test_tls_round_trip_and_reuse(cert: SelfSigned) -> None:
    async with Server(serve_forever, ssl_context=cert.server_context()) as server:
        client = UpstreamClient(settings(), ssl_context=cert.client_context())
        try:
            for _ in range(2):
                assert await _get_json(client, server.url("/v1")) == {"ok": True, "len": 2}
            assert client.stats() == {"opened": 1, "reused": 1, "idle": 1, "in_use": 0}
            # The certificate names localhost too, and the Host header follows the URL.
            assert await _get_json(client, f"https://localhost:{server.port}/v1") is not None
        finally:
            await client.aclose()
    assert server.requests[0].header("host") == f"127.0.0.1:{server.port}"
    assert server.requests[-1].header("host") == f"localhost:{server.port}"


async def test_untrusted_certificate_is_a_connect_error(cert: SelfSigned) -> None:
    async with Server(serve_forever, ssl_context=cert.server_context()) as server:
        client = UpstreamClient(settings())  # certifi's bundle: does not trust our test CA
        try:
            with pytest.raises(UpstreamConnectError) as info:
                await client.send("GET", server.url("/x?key=abc"), [])
        finally:
            await client.aclose()
    assert "certificate" in info.value.message.lower()
    assert "abc" not in str(info.value)
    assert server.requests == []


@pytest.mark.parametrize("auth", [False, True], ids=["no-auth", "auth"])
@pytest.mark.parametrize("scheme", ["socks5", "socks5h", "socks4"])
async def test_socks_proxy(scheme: str, auth: bool) -> None:
    if scheme == "socks4" and auth:
        user, password = "someone", None  # SOCKS4 has a user id and no password
    else:
        user, password = ("alice", "p@ss:word") if auth else (None, None)
    proxy = Socks5Proxy(username=user, password=password)
    async with Server(serve_forever) as server, proxy:
        proxy_url = proxy.url.replace("socks5://", f"{scheme}://", 1)
        client = UpstreamClient(settings())
        # socks5h lets the proxy resolve the name; the others resolve it here.
        host = "localhost" if scheme == "socks5h" else "127.0.0.1"
        url = f"http://{host}:{server.port}/v1"
        try:
            for _ in range(2):
                assert await _get_json(client, url, proxy_url) == {"ok": True, "len": 2}
        finally:
            await client.aclose()
    assert proxy.connections == [(host, server.port)]  # one tunnel, reused
    assert server.connections == 1
    assert server.requests[0].header("host") == f"{host}:{server.port}"


@pytest.mark.parametrize("auth", [False, True], ids=["no-auth", "auth"])
async def test_http_connect_proxy(auth: bool) -> None:
    proxy = HttpConnectProxy(*(("bob", "s3cr3t") if auth else (None, None)))
    async with Server(serve_forever) as server, proxy:
        client = UpstreamClient(settings())
        try:
            for _ in range(2):
                result = await _get_json(client, server.url("/v1"), proxy.url)
                assert result == {"ok": True, "len": 2}
        finally:
            await client.aclose()
    assert proxy.connections == [("127.0.0.1", server.port)]
    assert server.connections == 1
    # The proxy's credentials are for the proxy only, never for the upstream.
    assert "proxy-authorization" not in server.requests[0].header_names()


async def test_tls_through_a_socks_proxy(cert: SelfSigned) -> None:
    async with (
        Server(serve_forever, ssl_context=cert.server_context()) as server,
        Socks5Proxy("u", "p") as proxy,
    ):
        client = UpstreamClient(settings(), ssl_context=cert.client_context())
        try:
            assert await _get_json(client, server.url("/v1"), proxy.url) == {"ok": True, "len": 2}
        finally:
            await client.aclose()
    assert proxy.connections == [("127.0.0.1", server.port)]


@pytest.mark.parametrize("kind", ["socks5", "http"])
async def test_wrong_proxy_password_is_a_connect_error(kind: str) -> None:
    proxy = Socks5Proxy("user", "right") if kind == "socks5" else HttpConnectProxy("user", "right")
    async with Server(serve_forever) as server, proxy:
        bad_url = proxy.url.replace(":right@", ":wrong-pass@")
        client = UpstreamClient(settings())
        try:
            with pytest.raises(UpstreamConnectError) as info:
                await client.send("GET", server.url("/v1?key=qq"), [], proxy=bad_url)
        finally:
            await client.aclose()
    _assert_clean(info.value, "wrong-pass", "qq")
    assert f"{kind}://127.0.0.1:{proxy.port}" in info.value.message
    assert proxy.connections == []
    assert proxy.refused == 1
    assert server.connections == 0


@pytest.mark.parametrize("kind", ["socks5", "http"])
async def test_proxy_that_cannot_reach_the_upstream(kind: str) -> None:
    proxy = Socks5Proxy() if kind == "socks5" else HttpConnectProxy()
    async with proxy:
        client = UpstreamClient(settings())
        port = closed_port()
        try:
            with pytest.raises(UpstreamConnectError) as info:
                await client.send("GET", f"http://127.0.0.1:{port}/v1", [], proxy=proxy.url)
        finally:
            await client.aclose()
    assert f"http://127.0.0.1:{port}/v1" in info.value.message
    assert proxy.refused == 1


async def test_unreachable_proxy_and_bad_proxy_urls() -> None:
    client = UpstreamClient(settings())
    port = closed_port()
    try:
        with pytest.raises(UpstreamConnectError) as info:
            await client.send(
                "GET", "http://127.0.0.1:9/x", [], proxy=f"socks5://me:hunter2@127.0.0.1:{port}"
            )
        _assert_clean(info.value, "hunter2")
        assert f"socks5://127.0.0.1:{port}" in info.value.message
        for bad in ("ftp://me:hunter2@127.0.0.1:1", "socks5://me:hunter2@:1", "http://[::1"):
            with pytest.raises(UpstreamConnectError) as info:
                await client.send("GET", "http://127.0.0.1:9/x", [], proxy=bad)
            _assert_clean(info.value, "hunter2")
    finally:
        await client.aclose()


async def test_pool_is_keyed_by_proxy() -> None:
    async with Server(serve_forever) as server, Socks5Proxy() as one, HttpConnectProxy() as two:
        client = UpstreamClient(settings())
        url = server.url("/v1")
        try:
            for _ in range(2):
                for proxy in (one.url, two.url, None):
                    assert await _get_json(client, url, proxy) == {"ok": True, "len": 2}
            assert client.stats() == {"opened": 3, "reused": 3, "idle": 3, "in_use": 0}
        finally:
            await client.aclose()
    assert server.connections == 3
    assert one.connections == [("127.0.0.1", server.port)]
    assert two.connections == [("127.0.0.1", server.port)]


async def test_tcp_nodelay_on_direct_and_proxied_connections() -> None:
    async with Server(serve_forever) as server, Socks5Proxy() as proxy:
        client = UpstreamClient(settings())
        try:
            for via in (None, proxy.url):
                await _get_json(client, server.url(), via)
            # White-box: the pool's idle connections are the only handle on the sockets.
            conns = [conn for stack in client._pool._idle.values() for conn in stack]
            assert len(conns) == 2
            for conn in conns:
                assert conn.wire.transport is not None
                sock = conn.wire.transport.get_extra_info("socket")
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        finally:
            await client.aclose()


def _assert_clean(exc: UpstreamError, *secrets: str) -> None:
    """No secret in the error or anything chained to it."""
    seen: BaseException | None = exc
    while seen is not None:
        for secret in secrets:
            assert secret not in str(seen)
            assert secret not in repr(seen)
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)

"""Egress proxies through the real gateway: global, per provider
and per account, the most specific wins; ``direct`` at a level means no
proxy even when a wider level has one.

The proxies are loopback SOCKS5 and HTTP CONNECT servers that record every
tunnel they open, so each test proves which one carried the request (and
that the others carried nothing).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from omniroute.config.editor import ConfigEditor
from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import Json, MockUpstream, Sse, openai_chat_json, openai_chat_sse
from tests.support.proxies import HttpConnectProxy, Socks5Proxy

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

KEY_A = "sk-proxy-account-a-0123456789"
KEY_B = "sk-proxy-account-b-0123456789"
PROXY_PASSWORD = "pr0xy-s3cret-pass"


@pytest.fixture
async def mock() -> AsyncIterator[MockUpstream]:
    async with MockUpstream() as up:
        up.route(
            "POST",
            "/p/v1/chat/completions",
            lambda req: (
                Sse(openai_chat_sse(["via ", "proxy"], "m"))
                if req.json().get("stream")
                else Json(openai_chat_json("via proxy", "m"))
            ),
        )
        yield up


@pytest.fixture
async def socks() -> AsyncIterator[Socks5Proxy]:
    async with Socks5Proxy() as proxy:
        yield proxy


@pytest.fixture
async def socks_auth() -> AsyncIterator[Socks5Proxy]:
    async with Socks5Proxy(username="omni", password=PROXY_PASSWORD) as proxy:
        yield proxy


@pytest.fixture
async def http_proxy() -> AsyncIterator[HttpConnectProxy]:
    async with HttpConnectProxy(username="omni", password=PROXY_PASSWORD) as proxy:
        yield proxy


@pytest.fixture
async def gw(tmp_path: Path, mock: MockUpstream) -> AsyncIterator[Harness]:
    """Provider ``p`` with accounts A (first) and B."""
    async with running_gateway(tmp_path, upstream_first_byte_timeout=5.0) as harness:
        await harness.add_provider("p", "openai", mock.url + "/p/v1", KEY_A, ["m"])
        await harness.add_provider("p", "openai", mock.url + "/p/v1", KEY_B)
        yield harness


def account_ids(gw: Harness) -> list[int]:
    return [a.id for a in gw.gateway.registry().provider("p").accounts]


async def ask(gw: Harness, *, stream: bool = False, pin: int | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {gw.client_key}"}
    if pin is not None:
        headers["x-omniroute-pin-account"] = str(pin)
    body = {"model": "p/m", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=20) as http:
        return await http.post("/v1/chat/completions", json=body, headers=headers)


def answered(resp: httpx.Response) -> None:
    assert resp.status_code == 200, resp.text
    assert "via" in resp.text


async def configure(
    gw: Harness,
    *,
    glob: str | None = None,
    provider: str | None = None,
    account: dict[int, str] | None = None,
) -> None:
    store = gw.gateway.store
    if glob is not None:
        await ConfigEditor(store).set_setting("proxy", glob)
    if provider is not None:
        await ConfigEditor(store).update_provider("p", extra={"proxy": provider})
    for account_id, url in (account or {}).items():
        await ConfigEditor(store).update_account(account_id, extra={"proxy": url})
    await gw.reload()


async def test_global_proxy_carries_every_request(
    gw: Harness, mock: MockUpstream, socks: Socks5Proxy
) -> None:
    await configure(gw, glob=socks.url)
    answered(await ask(gw))
    answered(await ask(gw, stream=True))
    assert socks.connections and set(socks.connections) == {("127.0.0.1", mock.port)}
    assert len(mock.requests) == 2


async def test_provider_proxy_beats_global(
    gw: Harness, mock: MockUpstream, socks: Socks5Proxy, http_proxy: HttpConnectProxy
) -> None:
    await configure(gw, glob=socks.url, provider=http_proxy.url)
    answered(await ask(gw))
    assert http_proxy.connections == [("127.0.0.1", mock.port)]
    assert socks.connections == []


async def test_account_proxy_beats_provider_and_global(
    gw: Harness,
    mock: MockUpstream,
    socks: Socks5Proxy,
    socks_auth: Socks5Proxy,
    http_proxy: HttpConnectProxy,
) -> None:
    a, b = account_ids(gw)
    await configure(gw, glob=socks.url, provider=http_proxy.url, account={a: socks_auth.url})
    answered(await ask(gw, pin=a))
    assert socks_auth.connections == [("127.0.0.1", mock.port)]
    assert http_proxy.connections == [] and socks.connections == []
    # Account B has no proxy of its own: the provider's applies to it.
    answered(await ask(gw, pin=b))
    assert http_proxy.connections == [("127.0.0.1", mock.port)]
    assert socks.connections == []
    assert [r.headers["authorization"] for r in mock.requests] == [
        f"Bearer {KEY_A}",
        f"Bearer {KEY_B}",
    ]


async def test_direct_account_bypasses_global_proxy(
    gw: Harness, mock: MockUpstream, socks: Socks5Proxy
) -> None:
    a, b = account_ids(gw)
    await configure(gw, glob=socks.url, account={a: "direct"})
    answered(await ask(gw, pin=a))
    assert socks.connections == []
    answered(await ask(gw, pin=b))
    assert socks.connections == [("127.0.0.1", mock.port)]


async def test_direct_provider_bypasses_global_proxy(
    gw: Harness, mock: MockUpstream, socks: Socks5Proxy
) -> None:
    await configure(gw, glob=socks.url, provider="direct")
    answered(await ask(gw))
    answered(await ask(gw, stream=True))
    assert socks.connections == []
    assert len(mock.requests) == 2


async def test_dead_account_proxy_falls_over_and_never_shows_its_password(
    gw: Harness, mock: MockUpstream, socks_auth: Socks5Proxy
) -> None:
    # A's proxy refuses our credentials; B goes direct and serves.
    a, b = account_ids(gw)
    wrong = socks_auth.url.replace(PROXY_PASSWORD, "wrong-" + PROXY_PASSWORD)
    await configure(gw, account={a: wrong})
    resp = await ask(gw)
    answered(resp)
    assert resp.headers["x-omniroute-account"] == str(b)
    assert socks_auth.refused >= 1 and socks_auth.connections == []
    # With only A allowed, the client hears what failed, without the secret.
    failed = await ask(gw, pin=a)
    assert failed.status_code == 502
    assert PROXY_PASSWORD not in failed.text
    assert "proxy" in failed.json()["error"]["message"]
    admin = json.loads((gw.settings.data_dir / "admin.json").read_text())
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=10) as http:
        status = await http.get(
            "/api/status", headers={"authorization": f"Bearer {admin['token']}"}
        )
    assert PROXY_PASSWORD not in status.text

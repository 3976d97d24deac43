"""Address lists and the per-address rate, through the real server: the
client API and the management side each have their own allow and deny
lists, X-Forwarded-For counts only from a trusted proxy, and the key-less
loopback exemption does not open the API to whatever a local reverse proxy
relays.

Every connection here comes from loopback; other addresses are written in
X-Forwarded-For with ``trusted-proxies 127.0.0.1`` (documentation ranges
only: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google.genai import errors as gerrors

from tests.e2e.admin_helpers import Admin
from tests.e2e.sdk_helpers import (
    ANSWER,
    add_providers,
    anthropic_sdk,
    chat,
    forwarded,
    gemini_sdk,
    generate,
    message,
    openai_sdk,
)
from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import MockUpstream

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

OUTSIDER = "203.0.113.5"
FRIEND = "198.51.100.20"


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Harness]:
    async with MockUpstream() as mock, running_gateway(tmp_path) as harness:
        await add_providers(harness, mock)
        yield harness


async def settings(gw: Harness, **values: Any) -> None:
    for key, value in values.items():
        await gw.config.set_setting(key, value)
    await gw.reload()


def http(gw: Harness) -> httpx.AsyncClient:
    return gw.track(httpx.AsyncClient(base_url=gw.base_url, timeout=15))


async def test_a_denied_address_gets_403_in_each_dialect(gw: Harness) -> None:
    await settings(gw, trusted_proxies=["127.0.0.1"], client_deny=["203.0.113.0/24"])
    with pytest.raises(openai.PermissionDeniedError) as oa:
        await chat(openai_sdk(gw, address=OUTSIDER), "oa/m")
    assert oa.value.response.json()["error"]["type"] == "permission_error"
    with pytest.raises(anthropic.PermissionDeniedError) as an:
        await message(anthropic_sdk(gw, address=OUTSIDER), "oa/m")
    assert an.value.response.json()["type"] == "error"
    with pytest.raises(gerrors.ClientError) as ge:
        await generate(gemini_sdk(gw, address=OUTSIDER), "oa/m")
    assert ge.value.code == 403 and ge.value.status == "PERMISSION_DENIED"
    with pytest.raises(openai.PermissionDeniedError):
        await openai_sdk(gw, address=OUTSIDER).models.list()
    # Another address is served; so is the same one's neighbour outside the list.
    assert await chat(openai_sdk(gw, address=FRIEND), "oa/m") == ANSWER
    assert await message(anthropic_sdk(gw, address="203.0.114.5"), "oa/m") == ANSWER
    # The refusal got its request-log row.
    await gw.gateway.store.flush_logs()
    rows = await gw.gateway.store.recent_requests(20)
    assert any(r.status == 403 and r.error_kind == "permission" for r in rows)


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(gw: Harness) -> None:
    await settings(gw, client_deny=["203.0.113.0/24"])
    # No trusted proxy: the header is the client's own claim, and the peer is loopback.
    assert await chat(openai_sdk(gw, address=OUTSIDER), "oa/m") == ANSWER
    await settings(gw, client_deny=["127.0.0.1"])
    with pytest.raises(openai.PermissionDeniedError):
        # Claiming another address does not get a denied peer in either.
        await chat(openai_sdk(gw, address=FRIEND), "oa/m")


async def test_an_allow_list_admits_only_its_networks_ipv4_and_ipv6(gw: Harness) -> None:
    await settings(
        gw, trusted_proxies=["127.0.0.1"], client_allow=["198.51.100.0/24", "2001:db8::/32"]
    )
    assert await chat(openai_sdk(gw, address=FRIEND), "oa/m") == ANSWER
    assert await chat(openai_sdk(gw, address="2001:db8::7"), "oa/m") == ANSWER
    for outsider in (OUTSIDER, "2001:db9::7", None):  # None: the proxy's own address
        with pytest.raises(openai.PermissionDeniedError):
            await chat(openai_sdk(gw, address=outsider), "oa/m")


async def test_the_admin_lists_guard_api_and_dashboard_apart_from_the_client_api(
    gw: Harness,
) -> None:
    admin = await Admin.login(gw)
    await settings(gw, trusted_proxies=["127.0.0.1"], admin_deny=["203.0.113.0/24"])
    client = http(gw)
    for path in ("/api/auth/state", "/", "/index.html"):
        refused = await client.get(path, headers=forwarded(OUTSIDER))
        assert refused.status_code == 403, path
    refused = await client.get("/api/auth/state", headers=forwarded(OUTSIDER))
    assert refused.json()["error"]["kind"] == "permission"
    login = await client.post(
        "/api/auth/login", json={"password": "x" * 12}, headers=forwarded(OUTSIDER)
    )
    assert login.status_code == 403
    assert (await client.get("/api/auth/state", headers=forwarded(FRIEND))).status_code == 200
    # The client API keeps its own lists: the same address may use it.
    assert await chat(openai_sdk(gw, address=OUTSIDER), "oa/m") == ANSWER
    # An allow list shuts out even a logged-in session from elsewhere.
    assert (await admin.get("/api/status")).status_code == 200
    await settings(gw, admin_allow=["198.51.100.0/24"])
    assert (await admin.get("/api/status")).status_code == 403
    ok = await admin.get("/api/status", headers=forwarded(FRIEND))
    assert ok.status_code == 200, ok.text


async def test_client_lists_leave_the_management_side_alone(gw: Harness) -> None:
    await settings(gw, client_deny=["127.0.0.1"])
    assert (await http(gw).get("/api/auth/state")).status_code == 200
    with pytest.raises(openai.PermissionDeniedError):
        await chat(openai_sdk(gw), "oa/m")


async def test_the_per_address_rate_limit_answers_429_with_retry_after(gw: Harness) -> None:
    await settings(gw, trusted_proxies=["127.0.0.1"], ip_rpm=2)
    busy = openai_sdk(gw, address=OUTSIDER)
    assert await chat(busy, "oa/m") == ANSWER
    assert len((await busy.models.list()).data) > 0  # listing counts too
    with pytest.raises(openai.RateLimitError) as caught:
        await chat(busy, "oa/m")
    wait = int(caught.value.response.headers["retry-after"])
    assert 1 <= wait <= 60
    with pytest.raises(anthropic.RateLimitError):
        await message(anthropic_sdk(gw, address=OUTSIDER), "oa/m")
    # Each address has its own count.
    assert await chat(openai_sdk(gw, address=FRIEND), "oa/m") == ANSWER


async def test_the_keyless_loopback_exemption_is_for_direct_local_callers_only(
    tmp_path: Path,
) -> None:
    async with running_gateway(tmp_path, require_key_on_loopback=False) as gw:
        client = http(gw)
        assert (await client.get("/v1/models")).status_code == 200
        # A reverse proxy on this machine relays remote clients from loopback.
        relayed = await client.get("/v1/models", headers=forwarded(OUTSIDER))
        assert relayed.status_code == 401
        assert (await client.get("/v1/models", headers={"x-real-ip": OUTSIDER})).status_code == 401
        await settings(gw, trusted_proxies=["127.0.0.1"])
        # The peer is now a configured proxy: even without the header it relays.
        assert (await client.get("/v1/models")).status_code == 401
        keyed = await client.get(
            "/v1/models",
            headers={"authorization": f"Bearer {gw.client_key}", **forwarded(OUTSIDER)},
        )
        assert keyed.status_code == 200

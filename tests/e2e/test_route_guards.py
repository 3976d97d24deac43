"""Every route the router knows, called without its credential: none may
answer 2xx. The list comes from the router itself, so a route added later is
covered without touching this file."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from omniroute.api.admin.access import ADMIN_KEY, ADMIN_SESSION, ADMIN_TOKEN, CLIENT_KEY, PUBLIC
from tests.e2e.admin_helpers import Admin
from tests.support.harness import Harness, running_gateway

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PARAM = re.compile(r"\{[^}]+\}")
# A body every route can parse (and some would even act on) if the guard let
# it through: the point is that the guard does not.
BODY = {
    "password": "correct horse battery staple",
    "model": "m",
    "messages": [{"role": "user", "content": "hi"}],
}


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_gateway(tmp_path) as harness:
        yield harness


def concrete(pattern: str) -> str:
    return _PARAM.sub("x", pattern)


async def call(
    http: httpx.AsyncClient, method: str, pattern: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = BODY if method in CHANGES else None
    return await http.request(method, concrete(pattern), json=body, headers=headers)


def guarded(gw: Harness, *labels: str) -> list[tuple[str, str, str]]:
    routes = [r for r in gw.gateway.routes() if r[2] in labels]
    assert routes, f"no route labelled {labels}"
    return routes


def refused(answer: httpx.Response) -> bool:
    return not 200 <= answer.status_code < 300


async def test_every_route_has_a_known_guard(gw: Harness) -> None:
    labels = {label for _, _, label in gw.gateway.routes()}
    assert labels <= {PUBLIC, CLIENT_KEY, ADMIN_SESSION, ADMIN_TOKEN, ADMIN_KEY}
    assert {CLIENT_KEY, ADMIN_SESSION, ADMIN_TOKEN, ADMIN_KEY} <= labels
    assert {(m, p) for m, p, label in gw.gateway.routes() if label == ADMIN_KEY} == {
        ("POST", "/mcp"),
        ("GET", "/mcp"),
        ("DELETE", "/mcp"),
    }


async def test_read_routes_open_to_the_local_admin_token_or_a_session(gw: Harness) -> None:
    token_reads = {(m, p) for m, p, label in gw.gateway.routes() if label == ADMIN_TOKEN}
    assert {("GET", "/api/status"), ("GET", "/api/health"), ("GET", "/api/quota")} <= token_reads
    http = gw.track(httpx.AsyncClient(base_url=gw.base_url, timeout=15))
    token = {"authorization": f"Bearer {gw.gateway.admin.token}"}
    assert (await http.get("/api/quota", headers=token)).status_code == 200
    admin = await Admin.login(gw)
    assert (await admin.get("/api/quota")).status_code == 200
    assert refused(await http.get("/api/quota"))


async def test_no_guarded_route_answers_without_a_credential(gw: Harness) -> None:
    # Both before and after a password exists: 'no password yet' must not
    # mean 'open'.
    http = gw.track(httpx.AsyncClient(base_url=gw.base_url, timeout=15))
    for when in ("before setup", "after setup"):
        for method, pattern, label in guarded(
            gw, CLIENT_KEY, ADMIN_SESSION, ADMIN_TOKEN, ADMIN_KEY
        ):
            answer = await call(http, method, pattern)
            assert refused(answer), (when, method, pattern, label, answer.status_code)
        await Admin.login(gw)


async def test_no_guarded_route_answers_to_a_wrong_credential(gw: Harness) -> None:
    await Admin.login(gw)
    wrong = {"authorization": "Bearer sk-omni-not-a-real-key", "x-api-key": "nope"}
    cookie = {"cookie": "omniroute_session=forged-session-token"}
    http = gw.track(httpx.AsyncClient(base_url=gw.base_url, timeout=15))
    for method, pattern, label in guarded(gw, CLIENT_KEY, ADMIN_SESSION, ADMIN_TOKEN, ADMIN_KEY):
        for headers in (wrong, cookie, {**wrong, **cookie, "x-csrf-token": "guess"}):
            answer = await call(http, method, pattern, headers)
            assert refused(answer), (method, pattern, label, headers, answer.status_code)


async def test_a_client_key_opens_no_admin_route(gw: Harness) -> None:
    await Admin.login(gw)
    http = gw.track(httpx.AsyncClient(base_url=gw.base_url, timeout=15))
    key = {"authorization": f"Bearer {gw.client_key}", "x-api-key": gw.client_key}
    for method, pattern, label in guarded(gw, ADMIN_SESSION, ADMIN_TOKEN, ADMIN_KEY):
        answer = await call(http, method, pattern, key)
        assert refused(answer), (method, pattern, label, answer.status_code)


async def test_an_admin_session_opens_no_client_route(gw: Harness) -> None:
    admin = await Admin.login(gw)
    for method, pattern, label in guarded(gw, CLIENT_KEY):
        answer = await admin.call(
            method, concrete(pattern), json=BODY if method in CHANGES else None
        )
        assert refused(answer), (method, pattern, label, answer.status_code)


async def test_a_session_without_csrf_changes_nothing(gw: Harness) -> None:
    admin = await Admin.login(gw)
    changing = [r for r in guarded(gw, ADMIN_SESSION, ADMIN_TOKEN, ADMIN_KEY) if r[0] in CHANGES]
    assert changing
    for method, pattern, label in changing:
        for token in (None, "", "not-the-token"):
            headers = {} if token is None else {"x-csrf-token": token}
            answer = await admin.http.request(method, concrete(pattern), json=BODY, headers=headers)
            assert answer.status_code == 403, (method, pattern, label, token, answer.text)
    # The session itself still works: the refusals were about CSRF alone.
    assert (await admin.get("/api/auth/state")).json()["authenticated"] is True


async def test_a_foreign_host_gets_421_on_the_management_side(gw: Harness) -> None:
    admin = await Admin.login(gw)
    foreign = {"host": "attacker.example"}
    for method, pattern, label in gw.gateway.routes():
        path = concrete(pattern)
        if not (
            path.startswith("/api/") or path == "/mcp" or label == PUBLIC and path != "/health"
        ):
            continue
        body = BODY if method in CHANGES else None
        answer = await admin.call(method, path, json=body, headers=foreign)
        assert answer.status_code == 421, (method, pattern, label, answer.status_code)

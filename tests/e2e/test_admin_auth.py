"""The management side's login, through the real server: no default password,
setup only from this machine (or INITIAL_PASSWORD, or the CLI), sessions in
a cookie, CSRF on every change, a throttle on wrong passwords, and a Host
check against DNS rebinding."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.admin_helpers import PASSWORD, Admin
from tests.support.harness import REPO, Harness, run_cli, running_gateway

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

REMOTE = "203.0.113.7"  # a documentation address, only ever sent as X-Forwarded-For


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_gateway(tmp_path) as harness:
        yield harness


def client(gw: Harness, **kwargs: object) -> httpx.AsyncClient:
    return gw.track(httpx.AsyncClient(base_url=gw.base_url, timeout=15, **kwargs))  # type: ignore[arg-type]


async def trust_loopback_proxy(gw: Harness) -> None:
    """The test client then counts as a reverse proxy: its X-Forwarded-For
    names the 'real' client."""
    await gw.config.set_setting("trusted_proxies", ["127.0.0.1"])
    await gw.reload()


async def test_without_a_password_nothing_is_open_and_the_state_says_so(gw: Harness) -> None:
    http = client(gw)
    state = (await http.get("/api/auth/state")).json()
    assert state == {"setup_required": True, "authenticated": False, "csrf": None, "local": True}
    status = await http.get("/api/status")
    assert status.status_code == 401 and status.json()["error"]["kind"] == "setup_required"
    login = await http.post("/api/auth/login", json={"password": PASSWORD})
    assert login.status_code == 401


async def test_setup_from_this_machine_logs_in_and_works_once(gw: Harness) -> None:
    http = client(gw)
    weak = await http.post("/api/auth/setup", json={"password": "short"})
    assert weak.status_code == 400 and "too short" in weak.json()["error"]["message"]
    done = await http.post("/api/auth/setup", json={"password": PASSWORD})
    assert done.status_code == 200 and done.json()["csrf"]
    state = (await http.get("/api/auth/state")).json()
    assert state["authenticated"] is True and state["setup_required"] is False
    assert state["csrf"] == done.json()["csrf"]
    again = await client(gw).post("/api/auth/setup", json={"password": "another long password"})
    assert again.status_code == 403


async def test_setup_from_another_machine_is_refused(gw: Harness) -> None:
    await trust_loopback_proxy(gw)
    http = client(gw, headers={"x-forwarded-for": REMOTE})
    refused = await http.post("/api/auth/setup", json={"password": PASSWORD})
    assert refused.status_code == 403
    assert "omniroute admin password" in refused.json()["error"]["message"]
    assert (await client(gw).get("/api/auth/state")).json()["setup_required"] is True


async def test_initial_password_is_used_at_the_first_start_only(tmp_path: Path) -> None:
    async with running_gateway(tmp_path, initial_password=PASSWORD) as gw:
        assert (await Admin.login(gw, setup=False)).csrf
    async with running_gateway(tmp_path, initial_password="a different long password") as gw:
        http = client(gw)
        assert (await http.post("/api/auth/login", json={"password": PASSWORD})).status_code == 200
        other = await http.post("/api/auth/login", json={"password": "a different long password"})
        assert other.status_code == 401


async def test_the_session_cookie_is_private_and_marked_secure_behind_tls(gw: Harness) -> None:
    answer = await client(gw).post("/api/auth/setup", json={"password": PASSWORD})
    cookie = answer.headers["set-cookie"]
    attributes = [part.strip() for part in cookie.split(";")]
    assert attributes[0].startswith("omniroute_session=") and len(attributes[0]) > 40
    assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= set(attributes)
    assert "Secure" not in attributes  # plain http, no trusted proxy
    await trust_loopback_proxy(gw)
    https = client(gw, headers={"x-forwarded-proto": "https"})
    behind = await https.post("/api/auth/login", json={"password": PASSWORD})
    assert "Secure" in [part.strip() for part in behind.headers["set-cookie"].split(";")]


async def test_state_changes_need_the_csrf_token(gw: Harness) -> None:
    admin = await Admin.login(gw)
    without = await admin.http.post("/api/auth/logout")
    assert without.status_code == 403 and "X-CSRF-Token" in without.json()["error"]["message"]
    wrong = await admin.http.post("/api/auth/logout", headers={"x-csrf-token": "nope"})
    assert wrong.status_code == 403
    assert (await admin.get("/api/status")).status_code == 200  # reads need no token
    assert (await admin.post("/api/auth/logout")).status_code == 200
    assert (await admin.get("/api/status")).status_code == 401


async def test_wrong_passwords_are_throttled_per_address_and_overall(gw: Harness) -> None:
    await Admin.login(gw)
    await trust_loopback_proxy(gw)
    for n in range(10):
        one = client(gw, headers={"x-forwarded-for": REMOTE})
        assert (
            await one.post("/api/auth/login", json={"password": f"wrong {n}"})
        ).status_code == 401
    one = client(gw, headers={"x-forwarded-for": REMOTE})
    throttled = await one.post("/api/auth/login", json={"password": PASSWORD})
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    # Others still get in, until 20 wrong passwords in an hour close the door for all.
    assert (
        await client(gw).post("/api/auth/login", json={"password": PASSWORD})
    ).status_code == 200
    for n in range(10):
        other = client(gw, headers={"x-forwarded-for": f"198.51.100.{n}"})
        await other.post("/api/auth/login", json={"password": "wrong again"})
    everyone = await client(gw).post("/api/auth/login", json={"password": PASSWORD})
    assert everyone.status_code == 429
    audit = await gw.gateway.admin_api.rows.audit_log(100)
    failures = [a for a in audit if a.action == "login.failed"]
    assert len(failures) == 20 and {a.address for a in failures} >= {REMOTE}


async def test_sessions_expire(tmp_path: Path) -> None:
    async with running_gateway(tmp_path, admin_session_ttl=3.0) as gw:
        admin = await Admin.login(gw)
        assert (await admin.get("/api/status")).status_code == 200
        await asyncio.sleep(3.2)
        assert (await admin.get("/api/status")).status_code == 401


async def test_a_password_change_ends_every_other_session(gw: Harness) -> None:
    first = await Admin.login(gw)
    second = await Admin.login(gw, setup=False)
    wrong = await first.post("/api/auth/password", json={"current": "nope", "new": "x" * 20})
    assert wrong.status_code == 401
    changed = await first.post(
        "/api/auth/password", json={"current": PASSWORD, "new": "a brand new long password"}
    )
    assert changed.status_code == 200
    first.csrf = changed.json()["csrf"]  # this browser goes on with a new session
    assert (await first.get("/api/status")).status_code == 200
    assert (await second.get("/api/status")).status_code == 401
    old = await client(gw).post("/api/auth/login", json={"password": PASSWORD})
    assert old.status_code == 401


async def test_the_cli_sets_the_password_and_ends_every_session(gw: Harness) -> None:
    data = gw.settings.data_dir
    admin = await Admin.login(gw)
    ended = await asyncio.to_thread(run_cli, "admin", "logout-all", data_dir=data)
    assert "1 session(s) ended" in ended.stdout
    assert (await admin.get("/api/status")).status_code == 401
    new = "set over ssh with a long password"
    done = await asyncio.to_thread(_cli_with_stdin, data, new)
    assert done.returncode == 0, done.stderr
    assert (await client(gw).post("/api/auth/login", json={"password": new})).status_code == 200
    newest: dict[str, str] = {}
    for entry in await gw.gateway.admin_api.rows.audit_log(50):  # newest first
        newest.setdefault(entry.action, entry.actor)
    assert newest["admin.password"] == "cli" and newest["admin.logout_all"] == "cli"


def _cli_with_stdin(data: Path, text: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIROUTE_")}
    command = [sys.executable, "-m", "omniroute", "admin", "password", "--stdin"]
    return subprocess.run(
        [*command, "--data-dir", str(data)],
        input=text + "\n", capture_output=True, text=True, timeout=60, env=env, cwd=REPO,
    )  # fmt: skip


@pytest.mark.parametrize("path", ["/api/auth/state", "/api/status", "/", "/index.html"])
async def test_a_foreign_host_name_is_turned_away(gw: Harness, path: str) -> None:
    refused = await client(gw).get(path, headers={"host": "evil.example"})
    assert refused.status_code == 421
    await gw.config.set_setting("public_hosts", ["omni.example"])
    await gw.reload()
    allowed = await client(gw).get(path, headers={"host": "omni.example"})
    assert allowed.status_code != 421


async def test_login_from_another_site_is_refused(gw: Harness) -> None:
    await Admin.login(gw)
    http = client(gw)
    other = await http.post(
        "/api/auth/login", json={"password": PASSWORD}, headers={"origin": "http://evil.example"}
    )
    assert other.status_code == 400
    same = await http.post(
        "/api/auth/login",
        json={"password": PASSWORD},
        headers={"origin": gw.base_url},
    )
    assert same.status_code == 200

"""Driving the management API as the dashboard does: log in, keep the cookie,
send the CSRF token on every state-changing call."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.harness import Harness

PASSWORD = "correct horse battery staple"


class Admin:
    """A logged-in browser: its cookie jar and CSRF token."""

    def __init__(self, gw: Harness, http: httpx.AsyncClient, csrf: str) -> None:
        self.gw = gw
        self.http = http
        self.csrf = csrf

    @classmethod
    async def login(cls, gw: Harness, password: str = PASSWORD, *, setup: bool = True) -> Admin:
        http = httpx.AsyncClient(base_url=gw.admin_url, timeout=15)
        gw.track(http)
        path = "/api/auth/setup" if setup else "/api/auth/login"
        answer = await http.post(path, json={"password": password})
        if setup and answer.status_code == 403:  # a password is set already
            answer = await http.post("/api/auth/login", json={"password": password})
        assert answer.status_code == 200, answer.text
        return cls(gw, http, answer.json()["csrf"])

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if method.upper() in ("POST", "PUT", "PATCH", "DELETE"):
            headers.setdefault("x-csrf-token", self.csrf)
        return await self.http.request(method, path, headers=headers, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.call("POST", path, **kwargs)

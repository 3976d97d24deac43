"""The few HTTP calls of a sign-in (discovery, keys, token endpoint), sent
through the gateway's own upstream client so that they take the account's
egress proxy like its inference calls do: an issuer that sees the token
refreshed from one country and used from another may refuse both."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from omniroute import errors
from omniroute.upstream import Timeouts, UpstreamClient

_MAX_BODY = 256 * 1024  # a token or discovery answer is a few kilobytes
_TIMEOUTS = Timeouts(connect=10.0, first_byte=20.0, idle=20.0, total=30.0)


class Answer:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: list[tuple[str, str]], body: Any) -> None:
        self.status = status
        self.headers = headers
        self.body = body  # parsed JSON (None when the body was not JSON)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


class OAuthHttp:
    def __init__(self, upstream: UpstreamClient) -> None:
        self._upstream = upstream

    async def get(self, url: str, *, proxy: str | None = None) -> Answer:
        return await self._send("GET", url, [("accept", "application/json")], b"", proxy)

    async def post_form(
        self, url: str, form: Mapping[str, str], *, proxy: str | None = None
    ) -> Answer:
        body = urlencode(form).encode()
        headers = [
            ("content-type", "application/x-www-form-urlencoded"),
            ("accept", "application/json"),
        ]
        return await self._send("POST", url, headers, body, proxy)

    async def _send(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes, proxy: str | None
    ) -> Answer:
        resp = await self._upstream.send(
            method, url, headers, body, proxy=proxy, timeouts=_TIMEOUTS
        )
        try:
            raw = await resp.read()
        finally:
            await resp.aclose()
        if len(raw) > _MAX_BODY:
            raise errors.UpstreamProtocolError("the sign-in server sent an oversized answer")
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return Answer(resp.status, list(resp.headers), parsed)
